"""``Model``: a graph of layers from symbolic inputs to symbolic outputs, replayed on arrays.

Running it walks the recorded nodes from the inputs to the outputs, passing each layer the arrays (and the
Keras masks) its inputs produced.  A model that is a plain chain of layers also has an execution plan (see
:func:`_execution_plan`): called on one array of its input's dtype and shape, it runs the layers' own calls in
order and nothing else.  Layers appear in ``model.layers`` and ``get_weights()`` in Keras's order: by depth
from the inputs, ties broken by the order a depth-first walk from the outputs first meets them.
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend, nest
from rnnlab.engine.layer import (KerasTensor, Layer, activity_penalties, attach_mask, mask_arguments,
                                 nested_calls, snake_case, unique_name)
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.input_layer import InputLayer
from rnnlab.layers.preprocessing.strings import to_string_array
from rnnlab.layers.rnn import RNN
from rnnlab.models.saving_hook import file_formats
from rnnlab.models.summary import print_summary
from rnnlab.models.training import Trainer
from rnnlab.utils.progbar import Progbar


def map_graph(inputs, outputs):
    """Nodes to execute (inputs first) and layers in Keras's order, for the graph between the tensors."""
    input_ids = {id(t) for t in inputs}
    finished, in_progress, ordered, layer_index = set(), set(), [], {}

    def enter(tensor):
        """The node producing ``tensor`` if the walk must still visit it (marked in progress), else None."""
        layer, node_index, _ = tensor._history
        node = layer._inbound_nodes[node_index]
        if id(node) in finished:
            return None
        if id(tensor) in input_ids and not node.is_input:
            finished.add(id(node))
            return None
        if id(node) in in_progress:
            raise ValueError(f"Tensor {tensor} from layer {layer.name!r} is part of a cycle.")
        layer_index.setdefault(layer, len(layer_index))
        in_progress.add(id(node))
        return node

    def visit(tensor):
        """Depth-first from ``tensor`` to the inputs, appending each node after its parents (an explicit
        stack: a chain of thousands of layers is no deeper for Python than one layer)."""
        node = enter(tensor)
        stack = [] if node is None else [(node, iter(() if node.is_input else node.input_tensors))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                parent_node = enter(parent)
                if parent_node is not None:
                    stack.append((parent_node, iter(() if parent_node.is_input else parent_node.input_tensors)))
                    break
            else:
                stack.pop()
                finished.add(id(node))
                in_progress.discard(id(node))
                ordered.append(node)

    for out in outputs:
        visit(out)
    in_graph = {id(n) for n in ordered}
    node_depth, layer_depth = {}, {}
    for node in reversed(ordered):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = depth
        node_depth[id(node)] = depth
        for parent in node.parent_nodes:
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    for t in inputs:
        layer = t._history[0]
        if layer not in layer_depth:
            layer_depth[layer], layer_index[layer] = 0, -1
    layers = sorted(layer_depth, key=lambda layer: (-layer_depth[layer], layer_index[layer]))
    nodes = sorted(ordered, key=lambda n: -node_depth[id(n)])
    # every tensor a node consumes must be computable from the inputs
    available = set(input_ids)
    for node in nodes:
        if node.is_input:
            if id(node.outputs) not in available:
                raise ValueError(
                    f"Graph disconnected: the outputs depend on input {node.outputs.name!r}, which is not among "
                    "the model's `inputs`. Pass every rnnlab.Input the outputs depend on as `inputs`."
                )
            continue
        for t in node.input_tensors:
            if id(t) not in available:
                raise ValueError(
                    f"Graph disconnected: layer {node.layer.name!r} needs tensor {t.name!r}, which cannot be "
                    "computed from the model's inputs. Pass every rnnlab.Input the outputs depend on as `inputs`."
                )
        available.update(id(t) for t in nest.flatten(node.outputs))
    names = [layer.name for layer in layers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"Layer names must be unique within a model; these are used more than once: {dup}.")
    return nodes, layers, node_depth


def _accepts(layer, key):
    return key in layer._call_params()


# ``compute_mask`` implementations that give no mask for an unmasked input: a graph of such layers, run on a
# plain array, carries no masks, so the execution plan below can skip mask bookkeeping (a Masking layer, or an
# Embedding with mask_zero, makes masks out of data and keeps a model on the general path).
_MASKLESS_COMPUTE_MASK = (Layer.compute_mask, RNN.compute_mask, Bidirectional.compute_mask)


def _refuses_non_finite(layer):
    """Whether ``layer(x)`` raises the model's own NaN/Inf error (``Argument `inputs` must contain only finite
    values...``), so that a model whose input goes straight into it need not scan the input itself."""
    if layer._fast_call_checks_finite:
        return True
    # RNN._fast_call checks with backend.to_float_array's error before running (tests/test_model_plan.py
    # holds every recurrent layer to it); a subclass with its own _fast_call is not assumed to.
    return isinstance(layer, RNN) and type(layer)._fast_call is RNN._fast_call


def _execution_plan(model):
    """What running ``model`` on one plain array amounts to, when the graph allows it, else ``None``.

    The plan covers a single float input, a single (unnested) output, and a chain of nodes in between, each a
    layer called on the previous node's one output with no other arguments, none of them stateful or making
    masks. It is ``(dtype, ndim, fixed_shape, dim_checks, check_finite, steps)``: the input must have
    ``dtype`` and ``ndim`` and either ``shape[1:] == fixed_shape`` or, when some sizes are free (``fixed_shape``
    is None), ``shape[axis] == size`` for each ``(axis, size)`` in ``dim_checks``; ``check_finite`` says
    whether the model must scan for NaN/Inf itself; ``steps`` are ``(layer, layer._fast_call or None)``.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1 or nest.is_nested(model._outputs_struct):
        return None
    source = model.inputs[0]
    if source.dtype not in ("float32", "float64"):
        return None
    current, steps = source, []
    for node in model._nodes:
        if node.is_input:
            if node.outputs is not source:
                return None
            continue
        layer = node.layer
        if len(node.call_args) != 1 or node.call_args[0] is not current or node.call_kwargs or \
                not isinstance(node.outputs, KerasTensor) or not layer.built or \
                getattr(layer, "stateful", False) or type(layer).compute_mask not in _MASKLESS_COMPUTE_MASK or \
                getattr(layer, "activity_regularizer", None) is not None:  # the general path records its losses
            return None
        steps.append((layer, layer._fast_call))
        current = node.outputs
    if current is not model.outputs[0]:
        return None
    shape = tuple(source.shape)
    fixed = shape[1:] if None not in shape[1:] else None
    dim_checks = tuple((axis, size) for axis, size in enumerate(shape) if axis and size is not None)
    check_finite = not steps or not _refuses_non_finite(steps[0][0])
    return np.dtype(source.dtype), len(shape), fixed, dim_checks, check_finite, tuple(steps)


class Model(Trainer, Layer):
    """A functional model, as ``keras.Model(inputs, outputs)``; training methods come from :class:`Trainer`."""

    #: True for a subclass that defines ``call`` and was made without ``inputs``/``outputs`` (Keras's
    #: subclassed model): its layers are its attributes and running it is running its ``call``.
    _subclassed = False

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if inputs is None and outputs is None and type(self).call is not Model.call:
            Layer.__init__(self, name=name or unique_name(snake_case(type(self).__name__)), trainable=trainable,
                           **kwargs)
            self._subclassed = True
            self.inputs, self.outputs, self._outputs_struct = None, [None], None
            return
        if inputs is None or outputs is None:
            raise ValueError(
                "Model needs `inputs` and `outputs` (symbolic tensors from rnnlab.Input and layer calls), or, "
                "as a subclass of Model, a `call(inputs)` method; received "
                f"inputs={'None' if inputs is None else '...'}, outputs={'None' if outputs is None else '...'}."
            )
        super().__init__(name=name or unique_name("functional"), trainable=trainable, **kwargs)
        self._init_graph(inputs, outputs)

    def _init_graph(self, inputs, outputs):
        if isinstance(inputs, dict):
            inputs = list(inputs.values())
        for t in nest.flatten(inputs) + nest.flatten(outputs):
            if not isinstance(t, KerasTensor):
                raise TypeError(
                    "Model `inputs` and `outputs` must be symbolic tensors (from rnnlab.Input and layer calls); "
                    f"received {type(t).__name__}."
                )
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs, self.outputs = nest.flatten(inputs), nest.flatten(outputs)
        self._nodes, self._all_layers, self._node_depths = map_graph(self.inputs, self.outputs)
        self._plan_cache = None
        self.built = True

    # -------------------------------------------------------------- structure
    @property
    def layers(self):
        return list(self._sublayers())

    def _sublayers(self):
        return Layer._sublayers(self) if self._subclassed else self._all_layers

    def _output_names(self):
        if self._subclassed:
            return ["output"] if len(self.outputs) == 1 else [f"output_{i}" for i in range(len(self.outputs))]
        return super()._output_names()

    def _note_outputs(self, outputs):
        """A subclassed model learns its output structure from its first call."""
        if nest.is_nested(outputs):
            outputs = type(outputs)(outputs)
        if self._outputs_struct is None and self._compiled and len(nest.flatten(outputs)) != len(self.outputs):
            raise ValueError(
                f"Model {self.name!r} was compiled for {len(self.outputs)} output(s) before its first call, and "
                f"its call() returned {len(nest.flatten(outputs))}. Call the model on a batch before compile()."
            )
        self._outputs_struct = outputs
        self.outputs = [None] * len(nest.flatten(outputs))

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r} in model {self.name!r}; layers: {[l.name for l in self.layers]}.")

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        return nest.map_structure(lambda t: t.shape, self._inputs_struct)

    @property
    def output_shape(self):
        return nest.map_structure(lambda t: t.shape, self._outputs_struct)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        batch = nest.flatten(input_shape)[0] if nest.flatten(input_shape) else None
        if isinstance(batch, tuple):
            batch = batch[0]
        return nest.map_structure(lambda t: (batch,) + tuple(t.shape[1:]), self._outputs_struct)

    def _shape_of(self, inputs):
        return nest.map_structure(lambda x: tuple(x.shape), inputs)

    def _symbolic_call(self, args, kwargs):
        if isinstance(args[0], KerasTensor):
            return super()._symbolic_call(args, kwargs)
        return super()._symbolic_call((tuple(args[0]),) + tuple(args[1:]), kwargs)

    # -------------------------------------------------------------- running
    def _standardize_inputs(self, x):
        if self._subclassed:  # flat, as for a graph; the call gets back the structure it was given
            if isinstance(x, dict):
                raise TypeError(f"Model {self.name!r} (subclassed) takes an array or a list of arrays as "
                                "inputs; received a dict.")
            converted = self._convert_inputs(list(x) if isinstance(x, tuple) else x)
            self._inputs_struct = converted
            return nest.flatten(converted) if nest.is_nested(converted) else [converted]
        if isinstance(x, dict):
            missing = [t.name for t in self.inputs if t.name not in x]
            if missing:
                raise ValueError(f"Model {self.name!r} input dict is missing keys {missing}; received {sorted(x)}.")
            values = [x[t.name] for t in self.inputs]
        elif len(self.inputs) == 1:
            one_wrapped = isinstance(x, (list, tuple)) and len(x) == 1 and \
                np.ndim(x) == len(self.inputs[0].shape) + 1
            values = [x[0] if one_wrapped else x]
        else:
            if not isinstance(x, (list, tuple)) or len(x) != len(self.inputs):
                raise ValueError(
                    f"Model {self.name!r} expects {len(self.inputs)} inputs "
                    f"({[t.shape for t in self.inputs]}); received "
                    f"{len(x) if isinstance(x, (list, tuple)) else 1} input(s)."
                )
            values = list(x)
        out = []
        for i, (t, v) in enumerate(zip(self.inputs, values)):
            layer = t._history[0]
            if isinstance(layer, InputLayer) and layer.input_dtype == "string":
                arr = to_string_array(v, f"Model {self.name!r}", f"inputs[{i}]" if len(values) > 1 else "inputs")
            elif isinstance(layer, InputLayer) and layer.input_dtype is not None and \
                    np.dtype(layer.input_dtype).kind in "iu":
                arr = np.asarray(v)
                if arr.dtype.kind not in "iubf":
                    raise TypeError(f"Model input {i} ({t.name}) must be numeric; received dtype {arr.dtype}.")
            else:
                arr = backend.to_float_array(v, backend.standardize_dtype(
                    t.dtype if t.dtype in ("float32", "float64") else None), f"inputs[{i}]" if len(values) > 1
                    else "inputs")
            if arr.ndim != len(t.shape) or any(d is not None and d != a for d, a in zip(t.shape[1:], arr.shape[1:])):
                raise ValueError(
                    f"Input {i} of model {self.name!r} must have shape {t.shape} (None = any size); "
                    f"received shape {arr.shape}."
                )
            out.append(arr)
        return out

    def _eager_call(self, inputs, *args, **kwargs):
        if self._subclassed:
            outputs = Layer._eager_call(self, inputs, *args, **kwargs)
            self._note_outputs(outputs)
            return outputs
        return self.call(inputs, *args, **kwargs)

    def _convert_inputs(self, inputs):
        if not self._subclassed:
            return super()._convert_inputs(inputs)
        return nest.map_structure(  # a subclass's call sees float arrays, and integer ids as they are
            lambda x: np.asarray(x) if np.asarray(x).dtype.kind in "iub" else
            backend.to_float_array(x, self.dtype, "inputs"), inputs)

    # (graph nodes, plan) for the nodes it was made from: a new graph (Sequential.add/pop) makes a new plan
    _plan_cache = None

    def _plan(self):
        cached = self._plan_cache
        if cached is None or cached[0] is not self._nodes:
            cached = self._plan_cache = (self._nodes, _execution_plan(self))
        return cached[1]

    _fast_call_checks_finite = True  # the plan checks, or its first layer does, or the general path does

    def _fast_call(self, x):
        if self._subclassed:
            return None
        return self._planned_call(x)

    def _planned_call(self, x):
        """``model(x)`` for one plain array: the layers' own calls in order, without the general path's
        structure handling, when the graph has an execution plan and ``x`` has the input's dtype and shape
        (see :func:`_execution_plan`). ``None`` sends the call down the general path, which converts, or
        raises the usual errors."""
        cached = self._plan_cache
        plan = cached[1] if cached is not None and cached[0] is self._nodes else self._plan()
        if plan is None:
            return None
        dtype, ndim, fixed, dim_checks, check_finite, steps = plan
        if x.dtype != dtype or x.ndim != ndim:
            return None
        shape = x.shape
        if fixed is not None:
            if shape[1:] != fixed:
                return None
        else:
            for axis, size in dim_checks:
                if shape[axis] != size:
                    return None
        if check_finite and not np.isfinite(x).all():
            return None  # the general path raises the standard error
        for layer, fast in steps:
            # exactly what layer(x) does, minus its dispatch
            y = fast(x) if fast is not None and type(x) is np.ndarray and layer.built else None
            x = layer(x) if y is None else y
        return x if type(x) is np.ndarray else np.asarray(x)

    def call(self, inputs, training=False, mask=None):
        values = self._standardize_inputs(inputs)
        masks = nest.flatten(mask) if mask is not None else [None] * len(values)
        return self._run_graph(values, masks, training)

    def _run_graph(self, values, masks, training=False, grads=None, keep_masks=False):
        """Replay the graph on arrays. With ``grads`` (a dict), run each layer's training call and also return
        a ``backward(d_outputs)`` that backpropagates through the recorded nodes in reverse order.

        Each layer with an ``activity_regularizer`` records its losses of this call (``layer.losses``, Keras's
        ``regularizer(output) / batch_size``); when training, their gradients join the backward pass.  With
        ``keep_masks`` the outputs carry their Keras masks (as :class:`MaskedArray`), which the losses and
        metrics read."""
        if self._subclassed:
            self._clear_losses()
            inputs = list(values) if len(values) > 1 else values[0]
            if grads is None:
                return self(inputs, training=training) if "training" in self._call_params() else self(inputs)
            return self.forward_backward(inputs, training=training, grads=grads)
        env = {id(t): (v, m) for t, v, m in zip(self.inputs, values, masks)}
        tape = []
        activity_grads = {}  # id(tensor) -> d (activity penalties) / d tensor
        self._clear_losses()  # as Keras: a call's losses replace the previous call's

        def value(x):
            return env[id(x)][0] if isinstance(x, KerasTensor) else x

        with nested_calls(self):  # the layers' calls are parts of this one
            for node in self._nodes:
                if node.is_input and id(node.outputs) in env:
                    continue
                if node.is_input:
                    raise ValueError(f"Input {node.outputs.name!r} is needed but was not given to the model.")
                layer = node.layer
                first = node.call_args[0]
                args = [nest.map_structure(value, a) for a in node.call_args]
                kwargs = {k: nest.map_structure(value, v) for k, v in node.call_kwargs.items()}
                in_mask = nest.map_structure(lambda t: env[id(t)][1], first)
                kwargs.update(mask_arguments(layer, node.call_args, node.call_kwargs,
                                             lambda t: env[id(t)][1] if isinstance(t, KerasTensor) else None))
                if grads is not None:
                    kwargs["training"] = training
                    outputs, backward = layer.forward_backward(*args, grads=grads, **kwargs)
                    tape.append((node, backward, outputs))
                else:
                    if training and _accepts(layer, "training"):  # layers default to training=False
                        kwargs["training"] = training
                    outputs = layer(*args, **kwargs)
                if getattr(layer, "activity_regularizer", None) is not None:
                    penalties = activity_penalties(layer.activity_regularizer, outputs,
                                                   with_gradients=grads is not None)
                    if grads is not None:
                        penalties, gradients = penalties
                        for t, g in zip(nest.flatten(node.outputs), gradients):
                            activity_grads[id(t)] = g if id(t) not in activity_grads else activity_grads[id(t)] + g
                    layer._losses.extend(penalties)
                out_mask = layer.output_mask(args[0], kwargs.get("mask", in_mask))
                flat_out, flat_t = nest.flatten(outputs), nest.flatten(node.outputs)
                flat_mask = list(out_mask) if isinstance(out_mask, (list, tuple)) else [out_mask] * len(flat_t)
                if len(flat_mask) != len(flat_t):
                    flat_mask = [None] * len(flat_t)
                for t, v, m in zip(flat_t, flat_out, flat_mask):
                    env[id(t)] = (v, m)
        results = [np.asarray(env[id(t)][0]) for t in self.outputs]
        if keep_masks:
            results = [attach_mask(r, env[id(t)][1]) for r, t in zip(results, self.outputs)]
        packed = nest.pack_like(self._outputs_struct, results) if nest.is_nested(self._outputs_struct) \
            else results[0]
        if grads is None:
            return packed
        return packed, lambda d_outputs, input_grads=True: self._backward_graph(tape, d_outputs, input_grads,
                                                                                activity_grads)

    def _backward_graph(self, tape, d_outputs, input_grads=True, activity_grads=None):
        """Gradients w.r.t. the model inputs (a list, ``None`` where none flows) from output gradients.

        With ``input_grads`` false the caller does not want them: a layer fed only by model inputs is asked to
        skip its input gradient when its backward function allows it (``backward.optional_input_grad``).
        ``activity_grads`` (``id(tensor) -> gradient``) are the activity regularizers' gradients, added where
        those tensors are produced.
        """
        d_env = dict(activity_grads or {})
        model_inputs = {id(t) for t in self.inputs}

        def add(tensor, grad):
            if grad is None or not isinstance(tensor, KerasTensor):
                return
            d_env[id(tensor)] = grad if id(tensor) not in d_env else d_env[id(tensor)] + grad

        flat_d = nest.flatten(d_outputs) if nest.is_nested(self._outputs_struct) else [d_outputs]
        for t, g in zip(self.outputs, flat_d):
            add(t, g)
        for node, backward, outputs in reversed(tape):
            flat_t, flat_v = nest.flatten(node.outputs), nest.flatten(outputs)
            grads_out = [d_env.get(id(t)) for t in flat_t]
            if all(g is None for g in grads_out):
                continue  # nothing downstream reaches the loss
            grads_out = [np.zeros_like(v) if g is None else g for g, v in zip(grads_out, flat_v)]
            d_out = nest.pack_like(node.outputs, grads_out) if nest.is_nested(node.outputs) else grads_out[0]
            first = node.call_args[0]
            if not input_grads and getattr(backward, "optional_input_grad", False) and all(
                    not isinstance(t, KerasTensor) or id(t) in model_inputs for t in nest.flatten(first)):
                d_first, d_other = backward(d_out, need_input_grad=False)
            else:
                d_first, d_other = backward(d_out)
            if d_first is not None:
                for t, g in zip(nest.flatten(first), nest.flatten(d_first) if nest.is_nested(first) else [d_first]):
                    add(t, g)
            named = dict(node.call_kwargs)
            for name, arg in zip(list(node.layer._call_params())[1:], node.call_args[1:]):
                named[name] = arg
            for name, grad in d_other.items():
                if name in named and grad is not None:
                    for t, g in zip(nest.flatten(named[name]), nest.flatten(grad)):
                        add(t, g)
        return [d_env.get(id(t)) for t in self.inputs]

    def forward_backward(self, inputs, training=True, grads=None, mask=None):
        if self._subclassed:  # the record of its call (Layer.forward_backward)
            self._clear_losses()
            outputs, backward = Layer.forward_backward(self, self._convert_inputs(inputs), training=training,
                                                       grads=grads, **({"mask": mask} if mask is not None else {}))
            self._note_outputs(outputs)
            return outputs, backward
        values = self._standardize_inputs(inputs)
        masks = nest.flatten(mask) if mask is not None else [None] * len(values)
        outputs, backward_graph = self._run_graph(values, masks, training, grads if grads is not None else {},
                                                  keep_masks=True)

        def backward(d_outputs, need_input_grad=True):
            d_inputs = backward_graph(d_outputs, need_input_grad)
            return (d_inputs if len(d_inputs) > 1 else d_inputs[0]), {}

        backward.optional_input_grad = True  # backward(d, need_input_grad=False): the inputs' gradients may be None
        return outputs, backward

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Run the model on ``x`` in batches of ``batch_size`` (default 32); returns NumPy arrays."""
        if type(verbose) is int and verbose == 0 and steps is None and callbacks is None and \
                type(x) is np.ndarray and x.ndim and self.built:
            # one silent batch of a plain array: the plan, when the model has one, is the whole prediction
            limit = 32 if batch_size is None else batch_size if type(batch_size) is int and batch_size > 0 else -1
            if x.shape[0] <= limit:
                out = self._fast_call(x)
                if out is not None:
                    return out
        if batch_size is None:
            batch_size = 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"Argument `batch_size` must be a positive integer; received batch_size={batch_size!r}.")
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ValueError(f"Argument `verbose` must be 'auto', 0, 1 or 2; received verbose={verbose!r}.")
        values = self._standardize_inputs(x)
        n = values[0].shape[0]
        if any(v.shape[0] != n for v in values):
            raise ValueError(
                f"All model inputs must have the same number of samples; received {[v.shape[0] for v in values]}."
            )
        num_batches = max(1, -(-n // batch_size))
        if steps is not None:
            num_batches = min(num_batches, int(steps))
        if num_batches == 1 and not verbose:  # one batch, silent: no slicing or concatenation to do
            return self._predict_batch(values)
        bar = Progbar(num_batches, verbose=verbose)
        pieces = []
        for b in range(num_batches):
            chunk = [v[b * batch_size:(b + 1) * batch_size] for v in values]
            pieces.append(nest.flatten(self._predict_batch(chunk)))
            bar.update(b + 1)
        merged = [np.concatenate([p[i] for p in pieces], axis=0) for i in range(len(pieces[0]))]
        return nest.pack_like(self._outputs_struct, merged) if nest.is_nested(self._outputs_struct) \
            else merged[0]

    def _predict_batch(self, values):
        """The model's outputs on one batch of standardized inputs: by the plan when it covers them."""
        if len(values) == 1:
            out = self._fast_call(values[0])
            if out is not None:
                return out
        return self._run_graph(values, [None] * len(values))

    def stream(self):
        """Run the model one time step at a time: an :class:`rnnlab.inspect.streaming.Stream` holding every
        recurrent layer's state (``step(x_t)``, ``reset()``, ``get_state()``/``set_state()``)."""
        from rnnlab.inspect.streaming import Stream

        return Stream(self)

    def predict_on_batch(self, x):
        if type(x) is np.ndarray and x.ndim:  # predict checks it; no need to convert it twice
            return self.predict(x, batch_size=max(1, x.shape[0]), verbose=0)
        return self.predict(x, batch_size=max(1, len(self._standardize_inputs(x)[0])), verbose=0)

    def reset_states(self):
        for layer in self.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()

    reset_state = reset_states

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        print_summary(self, line_length=line_length, print_fn=print_fn)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Write the model (config and weights), atomically: a Keras 3 ``.keras`` archive, or Keras's legacy HDF5
        model for a path ending in ``.h5``/``.hdf5``.  A compiled model's file also holds its compile settings and
        its optimizer's state, as Keras's does (for ``.h5`` unless ``include_optimizer=False``)."""
        file_formats().save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Write every weight to ``filepath``, atomically: ``*.weights.npz`` (rnnlab's own, keyed by path) or
        ``*.weights.h5`` (Keras 3's layout, readable by ``keras.Model.load_weights``)."""
        return file_formats().save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Read weights from ``*.weights.npz`` (every path and shape must match), ``*.weights.h5``/``*.h5``
        (Keras 3 or TF-Keras 2 layout) or a ``.keras`` archive."""
        return file_formats().load_weights(self, filepath)

    def get_config(self):
        """Keras's config of this model (a ``Functional`` or ``Sequential`` config; a subclassed model's own
        arguments come from its ``get_config`` override, as in Keras)."""
        if self._subclassed:
            return Layer.get_config(self)
        return file_formats().model_config(self)

    def _keras_object(self):
        """Keras's object dict of this functional or Sequential model (``class_name``, ``config``...: what a
        ``.keras`` archive's ``config.json`` holds); the TensorBoard callback writes it as the model graph."""
        return file_formats().model_object(self)

    def _keras_variable_paths(self):
        """``{id(variable): path}`` with each weight's path as Keras names it (a Sequential's layers under its
        name), for callbacks that label weights as Keras does."""
        return file_formats().variable_paths(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a model from :meth:`get_config` (or Keras's) config; layers get fresh weights."""
        kind = "Sequential" if any(c.__name__ == "Sequential" for c in cls.__mro__) else "Functional"
        return file_formats().model_from_config(kind, config, custom_objects)
