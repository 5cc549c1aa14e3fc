"""EinsumDense, as Keras 3's layer of that name: ``activation(einsum(equation, inputs, kernel) + bias)``.

The equation names the input's axes, the kernel's and the output's, in one of three forms:
``ab,bc->ac`` (every axis named), ``...b,bc->...c`` (leading axes elided) or ``ab...,bc->ac...`` (trailing axes
elided, at least two named).  The first output axis is the batch's.  ``output_shape`` gives the output's other
named axes' sizes (``None`` where the input gives them); the kernel takes, for each of its axes, the size of the
output axis of that name, else of the input axis.  ``bias_axes`` names output axes: the bias spans the output from
the first of them on, with size 1 on the axes it does not name (and on trailing elided axes), so it broadcasts.

A VarianceScaling kernel initializer (glorot_uniform, he_normal, ...) without fan axes of its own counts its fans
over the kernel's input axes (those also in the input) and output axes (those also in the output), as Keras does.

Written with :mod:`rnnlab.ops`: training gradients come from the record of the ops.  Keras's LoRA and
quantization arguments are refused (rnnlab has neither).
"""
from __future__ import annotations

import copy
import re

from rnnlab import activations, initializers, ops, regularizers
from rnnlab.engine.conv_args import check_rank
from rnnlab.engine.layer import Layer, store_weight_arguments, weight_arguments_config

_FORMS = (  # (pattern over the equation with "..." written as "0", where the elided axes are)
    (re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"), None),
    (re.compile(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)"), "left"),
    (re.compile(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0"), "right"),
)


def analyze(equation, bias_axes, input_shape, output_shape):
    """``(kernel_shape, bias_shape or None, full_output_shape, input_axes, output_axes)`` for an input of
    ``input_shape``; raises ValueError naming what does not fit."""
    written = equation.replace("...", "0")
    for pattern, elided_side in _FORMS:
        match = pattern.fullmatch(written)
        if match:
            break
    else:
        raise ValueError(f"Invalid einsum equation {equation!r} for EinsumDense: expected the form "
                         "'[X],[Y]->[Z]', '...[X],[Y]->...[Z]' or '[X]...,[Y]->[Z]...'.")
    inp, weight, out = match.groups()
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(inp)
    if elided < 0 or (elided_side is None and elided):
        raise ValueError(f"EinsumDense equation {equation!r} names {len(inp)} input axes, but the input has "
                         f"shape {input_shape}.")
    full = [input_shape[0]] + list(output_shape)
    if elided > 0 and elided_side == "left":
        full[1:1] = input_shape[1:elided]
    elif elided > 0 and elided_side == "right":
        full += input_shape[len(input_shape) - elided:]
    if elided_side == "left":
        in_pos = {c: i + elided for i, c in enumerate(inp)}
        out_pos = {c: i + elided for i, c in enumerate(out)}
    else:
        in_pos = {c: i for i, c in enumerate(inp)}
        out_pos = {c: i for i, c in enumerate(out)}
    if max(out_pos.values()) >= len(full):
        raise ValueError(f"EinsumDense equation {equation!r} names {len(out)} output axes, but output_shape "
                         f"{tuple(output_shape)} and the batch axis give {len(full)}.")
    for c in inp:
        if c in out_pos and full[out_pos[c]] is not None and full[out_pos[c]] != input_shape[in_pos[c]]:
            raise ValueError(f"Input shape and output shape do not match at shared dimension {c!r}: the input "
                             f"has {input_shape[in_pos[c]]}, output_shape has {full[out_pos[c]]}.")
    for c in out:
        if c not in inp and c not in weight:
            raise ValueError(f"Dimension {c!r} of the output {out!r} is in neither the input {inp!r} nor the "
                             f"kernel {weight!r} of equation {equation!r}.")
    kernel_shape, input_axes, output_axes = [], [], []
    for i, c in enumerate(weight):
        if c in out_pos:
            kernel_shape.append(full[out_pos[c]])
            output_axes.append(i)
        elif c in in_pos:
            kernel_shape.append(input_shape[in_pos[c]])
            input_axes.append(i)
        else:
            raise ValueError(f"Kernel dimension {c!r} of equation {equation!r} is in neither the input {inp!r} "
                             f"nor the output {out!r}: the kernel must be fully specified.")
    bias_shape = None
    if bias_axes is not None:
        for c in bias_axes:
            if c not in out:
                raise ValueError(f"Bias dimension {c!r} was requested, but is not part of the output {out!r} of "
                                 f"equation {equation!r}.")
        offset = elided if elided_side == "left" else 0
        first = min(out.index(c) for c in bias_axes)
        bias_shape = [full[i + offset] if c in bias_axes else 1 for i, c in enumerate(out) if i >= first]
        if elided_side != "left":
            bias_shape += [1] * elided
    return kernel_shape, bias_shape, full, input_axes, output_axes


class EinsumDense(Layer):
    """``activation(einsum(equation, inputs, kernel) + bias)`` (see the module docstring)."""

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, gptq_unpacked_column_size=None,
                 quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(equation, str):
            raise TypeError(f"Argument `equation` of EinsumDense must be a string such as 'ab,bc->ac'; received "
                            f"equation={equation!r}.")
        for name, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                            ("gptq_unpacked_column_size", gptq_unpacked_column_size),
                            ("quantization_config", quantization_config)):
            if value is not None:
                raise ValueError(f"Argument `{name}` of EinsumDense is not supported by rnnlab (no LoRA or "
                                 f"quantization); received {name}={value!r}.")
        if isinstance(output_shape, int) and not isinstance(output_shape, bool):
            output_shape = (output_shape,)
        if not isinstance(output_shape, (list, tuple)) or not all(
                d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in output_shape):
            raise ValueError(f"Argument `output_shape` of EinsumDense must be a positive int or a tuple of positive "
                             f"ints and None; received output_shape={output_shape!r}.")
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise TypeError(f"Argument `bias_axes` of EinsumDense must be a string of output axis letters or None; "
                            f"received bias_axes={bias_axes!r}.")
        self.equation = equation
        self.partial_output_shape = tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation, "activation")
        store_weight_arguments(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                               bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.kernel = self.bias = None
        self._input_rank = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        kernel_shape, bias_shape, _, input_axes, output_axes = analyze(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        if any(d is None for d in kernel_shape) or (bias_shape and any(d is None for d in bias_shape)):
            raise ValueError(f"EinsumDense {self.name!r} needs known sizes for its kernel {tuple(kernel_shape)} "
                             f"(from input shape {input_shape} and output_shape {self.partial_output_shape}).")
        init = self.kernel_initializer
        if isinstance(init, initializers.VarianceScaling) and (init.input_axes is None or init.output_axes is None):
            init = copy.copy(init)  # the layer's own initializer (and its config) stays as given
            init.input_axes, init.output_axes = list(input_axes), list(output_axes)
        self.kernel = self.add_weight(name="kernel", shape=tuple(kernel_shape), initializer=init,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if bias_shape is not None:
            self.bias = self.add_weight(name="bias", shape=tuple(bias_shape), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self._input_rank = len(input_shape)
        self.built = True

    def _check_rank(self, shape):
        check_rank(self, shape, ndim=self._input_rank)

    def call(self, inputs):
        self._check_rank(inputs.shape)
        y = ops.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        self._check_rank(tuple(input_shape))
        return tuple(analyze(self.equation, self.bias_axes, tuple(input_shape), self.partial_output_shape)[2])

    def get_config(self):
        return {**super().get_config(), "output_shape": self.partial_output_shape, "equation": self.equation,
                "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
                **weight_arguments_config(self, "kernel", "bias"),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "quantization_config": None}
