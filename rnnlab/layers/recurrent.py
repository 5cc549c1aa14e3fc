"""``LSTM``, ``GRU`` and ``SimpleRNN``: an :class:`RNN` around the matching built-in cell.

The argument names and defaults are Keras 3's. Cell arguments (units, activations, initializers, dropout...)
go to the cell; sequence arguments (return_sequences, go_backwards, stateful...) to the layer.
"""
from __future__ import annotations

from rnnlab import regularizers
from rnnlab.layers.rnn import RNN
from rnnlab.cells import GRUCell, LSTMCell, SimpleRNNCell


class _CellLayer(RNN):
    """An RNN whose cell is built from the layer's own arguments; cell attributes read through the layer."""

    cell_class = None
    cell_name = None
    _CELL_ATTRS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                   "recurrent_initializer", "bias_initializer", "unit_forget_bias", "dropout",
                   "recurrent_dropout", "reset_after", "seed", "proj_size", "use_peepholes", "kernel_regularizer", "recurrent_regularizer",
                   "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint")

    def __init__(self, cell_kwargs, return_sequences, return_state, go_backwards, stateful, unroll, use_cudnn,
                 kwargs):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"Argument `use_cudnn` must be 'auto', True or False; received use_cudnn={use_cudnn!r}.")
        cell = self.cell_class(**cell_kwargs, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                               name=self.cell_name)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)
        self.use_cudnn = use_cudnn  # accepted for compatibility; there is no cuDNN here

    def __getattr__(self, name):
        if name in _CellLayer._CELL_ATTRS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        config = super().get_config()
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        config.update(cell_config)
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)  # always, as Keras
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("cell", None)
        return cls(**config)


class LSTM(_CellLayer):
    """Long Short-Term Memory layer (Hochreiter & Schmidhuber 1997), as ``keras.layers.LSTM``.

    Returns ``output`` or, with ``return_state=True``, ``(output, h, c)``: ``output`` is ``h`` at every step
    (``return_sequences=True``, shape ``(B, T, units)``) or at the last step (shape ``(B, units)``); ``h`` and
    ``c`` are the final hidden and cell states. Equations: :mod:`rnnlab.cells.lstm`.

    Two variants beyond Keras (see :class:`rnnlab.cells.LSTMCell`): ``proj_size=P`` projects ``h`` (and the
    output) to ``P`` features, as PyTorch's ``nn.LSTM(proj_size=P)``; ``use_peepholes=True`` adds peephole
    connections, as the ONNX LSTM operator's input ``P``.  Both run on the reference path.
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", proj_size=None,
                 use_peepholes=False, **kwargs):
        kwargs.pop("implementation", None)
        cell_kwargs = dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                           use_bias=use_bias, kernel_initializer=kernel_initializer,
                           recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                           unit_forget_bias=unit_forget_bias, proj_size=proj_size, use_peepholes=use_peepholes, kernel_regularizer=kernel_regularizer,
                           recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                           kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                           bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                           seed=seed)
        kwargs["activity_regularizer"] = activity_regularizer
        super().__init__(cell_kwargs, return_sequences, return_state, go_backwards, stateful, unroll, use_cudnn,
                         kwargs)


class GRU(_CellLayer):
    """Gated Recurrent Unit layer (Cho et al. 2014), as ``keras.layers.GRU``.

    Returns ``output`` or, with ``return_state=True``, ``(output, h)``: a GRU has no cell state.
    ``reset_after=True`` (default) applies the reset gate after the recurrent product, like cuDNN and PyTorch;
    ``False`` is the original formulation. Equations: :mod:`rnnlab.cells.gru`.
    """

    cell_class = GRUCell
    cell_name = "gru_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 reset_after=True, use_cudnn="auto", **kwargs):
        kwargs.pop("implementation", None)
        cell_kwargs = dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                           use_bias=use_bias, kernel_initializer=kernel_initializer,
                           recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                           kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                           recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                           dropout=dropout, recurrent_dropout=recurrent_dropout, reset_after=reset_after, seed=seed)
        kwargs["activity_regularizer"] = activity_regularizer
        super().__init__(cell_kwargs, return_sequences, return_state, go_backwards, stateful, unroll, use_cudnn,
                         kwargs)


class SimpleRNN(_CellLayer):
    """Fully connected recurrent layer whose output is fed back as input, as ``keras.layers.SimpleRNN``.

    Returns ``output`` or, with ``return_state=True``, ``(output, h)``. Equations: :mod:`rnnlab.cells.simple_rnn`.
    """

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        cell_kwargs = dict(units=units, activation=activation, use_bias=use_bias,
                           kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                           bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                           recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                           kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                           bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                           seed=seed)
        if activity_regularizer is not None:
            raise ValueError(
                "Argument `activity_regularizer` of SimpleRNN is not supported: Keras 3.15 accepts it but never "
                "applies it (its SimpleRNN does not pass it on, and saves None), so a model using it would "
                "train differently in rnnlab and in Keras. Regularize the next layer's output instead; received "
                f"activity_regularizer={activity_regularizer!r}."
            )
        super().__init__(cell_kwargs, return_sequences, return_state, go_backwards, stateful, unroll, "auto",
                         kwargs)
