"""Keras 3 operations inside functional graphs, as weight-free layers (``KerasOp``).

A ``.keras`` config lists them as entries whose module starts with ``keras.src.ops``: :mod:`.config_reader`
creates a ``KerasOp`` for each, :mod:`.config_writer` writes it back, and :mod:`.keras_weights_h5` skips it,
since Keras gives operations no weights path.
"""
from __future__ import annotations

import numpy as np

from rnnlab.engine.layer import KerasTensor, Layer, Node

__all__ = ["KerasOp", "is_keras_op"]


def _broadcast(shapes):
    """The NumPy broadcast of several shapes, ``None`` for an unknown dimension."""
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = [d for d in dims if d is not None and d != 1]
        out.append(known[0] if known else (None if None in dims else 1))
    return tuple(out)


class KerasOp(Layer):
    """A Keras 3 operation recorded in a functional graph, run with NumPy.

    Keras 3 writes the mask computations of ``Masking`` (``NotEqual`` then ``Any``), of ``Embedding``
    with ``mask_zero`` (``NotEqual``) and of the merge layers (``LogicalOr``; ``ExpandDims``, ``ZerosLike``,
    ``OnesLike``, ``Concatenate`` and ``Any`` for ``Concatenate``) into the graph as operations, and passes
    their result to the next layers as ``mask=``.  Only these fixed, weight-free boolean operations exist; nothing is executed
    from the file.  They have no gradient (their outputs are masks).
    """

    BINARY = {"NotEqual": np.not_equal, "Equal": np.equal, "LogicalAnd": np.logical_and,
              "LogicalOr": np.logical_or}
    UNARY = {"LogicalNot": np.logical_not,
             # the mask computations of the merge layers (Concatenate's compute_mask)
             "ZerosLike": lambda x: np.zeros(np.shape(x), bool), "OnesLike": lambda x: np.ones(np.shape(x), bool),
             "ConvertToTensor": np.asarray}  # the latter: Attention's output mask
    REDUCE = {"Any": np.any, "All": np.all}
    ALL = (*BINARY, *UNARY, *REDUCE, "ExpandDims", "Concatenate")

    def __init__(self, op, config, module="keras.src.ops.numpy"):
        config = dict(config)
        name = config.pop("name", None)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Operation {op}: `name` must be a string; found {name!r}.")
        super().__init__(name=name)
        self.op, self.module = op, module
        if op == "ConvertToTensor":
            for key in ("dtype", "sparse", "ragged"):
                if config.get(key, None) not in (None, False):
                    raise ValueError(f"Operation {name!r} ({op}): `{key}`={config[key]!r} is not supported by "
                                     "rnnlab.")
                config.pop(key, None)
        if op in self.REDUCE:
            axis, keepdims = config.pop("axis", None), config.pop("keepdims", False)
            if not (axis is None or (isinstance(axis, int) and not isinstance(axis, bool))
                    or (isinstance(axis, list) and all(isinstance(a, int) for a in axis))):
                raise TypeError(f"Operation {name!r} ({op}): `axis` must be an int, a list of ints or None.")
            if not isinstance(keepdims, bool):
                raise TypeError(f"Operation {name!r} ({op}): `keepdims` must be a bool.")
            self.axis = tuple(axis) if isinstance(axis, list) else axis
            self.keepdims = keepdims
        if op in ("ZerosLike", "OnesLike") and config.pop("dtype", "bool") != "bool":
            raise ValueError(f"Operation {name!r} ({op}): rnnlab runs it only for boolean masks (dtype 'bool').")
        if op in ("ExpandDims", "Concatenate"):
            axis = config.pop("axis", 0 if op == "ExpandDims" else -1)
            if isinstance(axis, bool) or not isinstance(axis, int):
                raise TypeError(f"Operation {name!r} ({op}): `axis` must be an int; found {axis!r}.")
            self.axis = axis
        if config:
            raise ValueError(f"Operation {name!r} ({op}) has argument(s) {sorted(config)} that rnnlab does not "
                             "support.")
        self.built = True

    def _arity_check(self, args):
        want = 2 if self.op in self.BINARY else 1
        if len(args) != want:
            raise ValueError(f"Operation {self.name!r} ({self.op}) takes {want} argument(s); received "
                             f"{len(args)}.")

    def call(self, *args):
        self._arity_check(args)
        if self.op == "Concatenate":
            return np.concatenate([np.asarray(a) for a in args[0]], axis=self.axis)
        values = [np.asarray(a) for a in args]
        if self.op == "ExpandDims":
            return np.expand_dims(values[0], self.axis)
        if self.op in self.BINARY:
            return self.BINARY[self.op](values[0], values[1])
        if self.op in self.UNARY:
            return self.UNARY[self.op](values[0])
        return self.REDUCE[self.op](values[0], axis=self.axis, keepdims=self.keepdims)

    def _eager_call(self, *args, **kwargs):
        return self.call(*args)

    def forward_backward(self, *args, training=None, grads=None, **kwargs):
        return self.call(*args), lambda d_outputs: (None, {})

    def compute_output_shape(self, *shapes):
        if self.op == "Concatenate":
            parts = [list(p) for p in shapes[0]]
            out = list(parts[0])
            sizes = [p[self.axis] for p in parts]
            out[self.axis] = None if None in sizes else sum(sizes)
            return tuple(out)
        if self.op == "ExpandDims":
            shape = list(shapes[0])
            shape.insert(self.axis % (len(shape) + 1), 1)
            return tuple(shape)
        if self.op in self.UNARY:
            return tuple(shapes[0])
        if self.op in self.REDUCE:
            shape = shapes[0]
            axes = range(len(shape)) if self.axis is None else (
                self.axis if isinstance(self.axis, tuple) else (self.axis,))
            axes = {a % len(shape) for a in axes} if shape else set()
            return tuple((1 if i in axes else d) for i, d in enumerate(shape)
                         if self.keepdims or i not in axes)
        return _broadcast(shapes)

    def _symbolic_call(self, args, kwargs):
        self._arity_check(args)
        if kwargs:
            raise ValueError(f"Operation {self.name!r} ({self.op}) takes no keyword arguments; received "
                             f"{sorted(kwargs)}.")
        if self.op == "Concatenate":
            if not isinstance(args[0], (list, tuple)) or not args[0] or \
                    not all(isinstance(a, KerasTensor) for a in args[0]):
                raise TypeError(f"Operation {self.name!r} (Concatenate) takes a list of tensors.")
            shape = self.compute_output_shape([tuple(a.shape) for a in args[0]])
            out = KerasTensor(shape, "bool", name=self.name, history=(self, len(self._inbound_nodes), 0))
            self._inbound_nodes.append(Node(self, tuple(args), dict(kwargs), out))
            return out
        shapes = []
        for a in args:
            if isinstance(a, KerasTensor):
                shapes.append(tuple(a.shape))
            elif isinstance(a, (bool, int, float)):
                shapes.append(())
            else:
                raise TypeError(f"Operation {self.name!r} ({self.op}): arguments must be tensors or numbers; "
                                f"received {type(a).__name__}.")
        if not isinstance(args[0], KerasTensor):
            raise TypeError(f"Operation {self.name!r} ({self.op}): the first argument must be a tensor.")
        if self.op in self.REDUCE and self.axis is not None:
            rank = len(shapes[0])
            for a in (self.axis if isinstance(self.axis, tuple) else (self.axis,)):
                if not -rank <= a < rank:
                    raise ValueError(f"Operation {self.name!r} ({self.op}): axis {a} is out of range for "
                                     f"rank {rank}.")
        out = KerasTensor(self.compute_output_shape(*shapes), "bool", name=self.name,
                          history=(self, len(self._inbound_nodes), 0))
        self._inbound_nodes.append(Node(self, tuple(args), dict(kwargs), out))
        return out

    def get_config(self):
        config = {"name": self.name}
        if self.op in ("ExpandDims", "Concatenate"):
            config["axis"] = self.axis
        if self.op in ("ZerosLike", "OnesLike"):
            config["dtype"] = "bool"
        if self.op in self.REDUCE:
            config.update({"axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis,
                           "keepdims": self.keepdims})
        return config


def is_keras_op(layer) -> bool:
    """Whether ``layer`` is a Keras operation node (not a layer: Keras keeps no weights path for it)."""
    return isinstance(layer, KerasOp)
