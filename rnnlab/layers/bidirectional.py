"""``Bidirectional``: a forward and a backward copy of a recurrent layer, merged.

The backward layer is rebuilt from the forward layer's config with ``go_backwards`` flipped (or given as
``backward_layer``).  Its sequence output is reversed back into time order before merging.  As in Keras,
both inner layers output zeros at masked steps when they return sequences.
"""
from __future__ import annotations

import numpy as np

from rnnlab import nest
from rnnlab.engine.layer import Layer, refuse_inner_activity_regularizer
from rnnlab.engine.serialization import deserialize_layer, serialize_layer
from rnnlab.layers.rnn import RNN

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _merge(mode, y, y_rev):
    if mode == "concat":
        return np.concatenate([y, y_rev], axis=-1)
    if mode == "sum":
        return y + y_rev
    if mode == "ave":
        return (y + y_rev) / 2
    if mode == "mul":
        return y * y_rev
    return (y, y_rev)


def _removeprefix(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Bidirectional wrapper for RNNs, as ``keras.layers.Bidirectional``.

    Returns the merged output; with ``return_state=True`` ``(merged, *forward_states, *backward_states)``;
    with ``merge_mode=None`` the two outputs come first: ``(forward, backward, *states)``.
    ``initial_state`` is split half and half: the first half goes to the forward layer.
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, RNN):
            raise TypeError(
                "Argument `layer` of Bidirectional must be an rnnlab recurrent layer (LSTM, GRU, SimpleRNN, RNN); "
                f"received {type(layer).__name__}."
            )
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise TypeError(
                "Argument `backward_layer` must be an rnnlab recurrent layer or None; "
                f"received {type(backward_layer).__name__}."
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Argument `merge_mode` must be one of {list(MERGE_MODES)}; received merge_mode={merge_mode!r}."
            )
        refuse_inner_activity_regularizer(layer, "Bidirectional", "layer")
        refuse_inner_activity_regularizer(backward_layer, "Bidirectional", "backward_layer")
        kwargs.setdefault("dtype", layer.dtype)
        super().__init__(**kwargs)
        self.forward_layer = self._track(layer.copy_with(name="forward_" + _removeprefix(layer.name, "forward_")))
        if backward_layer is None:
            backward_layer = layer.copy_with(go_backwards=not layer.go_backwards,
                                             name="backward_" + _removeprefix(layer.name, "backward_"))
        self.backward_layer = self._track(backward_layer)
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError(
                "Forward and backward layers must have different `go_backwards` values; received "
                f"forward go_backwards={self.forward_layer.go_backwards}, "
                f"backward go_backwards={self.backward_layer.go_backwards}."
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            fw, bw = getattr(self.forward_layer, attr), getattr(self.backward_layer, attr)
            if fw != bw:
                raise ValueError(
                    f"Forward and backward layers must have the same `{attr}`; received {fw} (forward) "
                    f"and {bw} (backward)."
                )
        for inner in (self.forward_layer, self.backward_layer):
            inner.zero_output_for_mask = inner.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        if weights:
            self._initial_weights = list(weights)

    def _sublayers(self):
        return [self.forward_layer, self.backward_layer]

    def _check_input_shape(self, input_shape):
        self.forward_layer._check_input_shape(input_shape)

    def build(self, sequences_shape, initial_state_shape=None):
        self.forward_layer._maybe_build(tuple(sequences_shape))
        self.backward_layer._maybe_build(tuple(sequences_shape))
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None, **kwargs):
        fw = self.forward_layer.compute_output_shape(sequences_shape)
        bw = self.backward_layer.compute_output_shape(sequences_shape)
        if self.return_state:
            (fw, *fw_states), (bw, *bw_states) = fw, bw
        if self.merge_mode == "concat":
            out = fw[:-1] + (None if fw[-1] is None else fw[-1] + bw[-1],)
        elif self.merge_mode is None:
            out = (fw, bw)
        else:
            out = fw
        if not self.return_state:
            return out
        states = tuple(fw_states) + tuple(bw_states)
        return (*out, *states) if self.merge_mode is None else (out, *states)

    def compute_mask(self, inputs, mask=None):
        if nest.is_nested(mask):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            n_states = 2 * len(self.forward_layer._state_structure())
            return masks + [None] * n_states
        return masks[0] if len(masks) == 1 else masks

    def _eager_call(self, inputs, *args, **kwargs):
        return self.call(self._prepare_inputs(inputs), *args, **kwargs)

    def _split_initial_state(self, initial_state):
        """The forward half and the backward half of ``initial_state`` (``None, None`` without one)."""
        if initial_state is None:
            return None, None
        flat = nest.flatten(initial_state) if nest.is_nested(initial_state) else [initial_state]
        if len(flat) % 2:
            raise ValueError(
                f"Layer {self.name!r}: `initial_state` must hold the forward states then the backward states "
                f"(an even count); received {len(flat)} tensor(s)."
            )
        half = len(flat) // 2
        return flat[:half], flat[half:]

    def _combine(self, y, y_rev):
        """Merge the two directions' results into Bidirectional's return structure."""
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]  # back into time order
        output = _merge(self.merge_mode, y, y_rev)
        if not self.return_state:
            return output, y, y_rev
        return ((*output, *states) if self.merge_mode is None else (output, *states)), y, y_rev

    def call(self, sequences, initial_state=None, mask=None, training=False):
        fw_state, bw_state = self._split_initial_state(initial_state)
        y = self.forward_layer(sequences, initial_state=fw_state, mask=mask, training=training)
        y_rev = self.backward_layer(sequences, initial_state=bw_state, mask=mask, training=training)
        return self._combine(y, y_rev)[0]

    def step(self, x_t, states=None):
        """Refused with a ValueError: the backward direction needs the whole sequence before its first output."""
        self.refuse_streaming()

    def refuse_streaming(self, where=""):
        """Raise the ValueError that explains why this layer cannot run one time step at a time."""
        raise ValueError(
            f"Layer {self.name!r} (Bidirectional) cannot run one time step at a time{where}: its backward layer "
            "reads the sequence from the last step to the first, so no output exists before the whole sequence "
            "is known. Call it on the whole sequence, or stream only the forward part (e.g. "
            "layer.forward_layer.step(x_t, states))."
        )

    def forward_backward(self, sequences, initial_state=None, mask=None, training=True, grads=None):
        x = self._prepare_inputs(sequences)
        fw_state, bw_state = self._split_initial_state(initial_state)
        y, fw_backward = self.forward_layer.forward_backward(x, fw_state, mask, training, grads)
        y_rev, bw_backward = self.backward_layer.forward_backward(x, bw_state, mask, training, grads)
        n_fw_states = len(nest.flatten(y[1:])) if self.return_state else 0
        outputs, y, y_rev = self._combine(y, y_rev)

        def backward(d_outputs):
            flat = list(d_outputs) if (self.return_state or self.merge_mode is None) else [d_outputs]
            n_out = 2 if self.merge_mode is None else 1
            d_merged, d_states = flat[:n_out], flat[n_out:]
            d_y, d_y_rev = self._merge_backward(d_merged, y, y_rev)
            if self.return_sequences:
                d_y_rev = d_y_rev[:, ::-1]
            if self.return_state:
                d_fw = (d_y, *d_states[:n_fw_states])
                d_bw = (d_y_rev, *d_states[n_fw_states:])
            else:
                d_fw, d_bw = d_y, d_y_rev
            dx_fw, other_fw = fw_backward(d_fw)
            dx_bw, other_bw = bw_backward(d_bw)
            other = {}
            if initial_state is not None:
                other["initial_state"] = list(other_fw["initial_state"]) + list(other_bw["initial_state"])
            return dx_fw + dx_bw, other

        return outputs, backward

    def _merge_backward(self, d_merged, y, y_rev):
        """Split the gradient of the merged output into the two directions' gradients."""
        if self.merge_mode is None:
            return d_merged[0], d_merged[1]
        d = d_merged[0]
        if self.merge_mode == "concat":
            width = y.shape[-1]
            return d[..., :width], d[..., width:]
        if self.merge_mode == "sum":
            return d, d
        if self.merge_mode == "ave":
            return d / 2, d / 2
        return d * y_rev, d * y  # mul

    def reset_states(self, states=None):
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
        else:
            half = len(states) // 2
            self.forward_layer.reset_states(states[:half])
            self.backward_layer.reset_states(states[half:])

    reset_state = reset_states

    def get_config(self):
        config = super().get_config()
        config["merge_mode"] = self.merge_mode
        config["layer"] = serialize_layer(self.forward_layer)
        config["backward_layer"] = serialize_layer(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize_layer(backward)
        return cls(layer, backward_layer=backward, **config)
