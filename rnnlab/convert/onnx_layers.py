"""ONNX export of the layers around the recurrent ones (called by :mod:`rnnlab.convert.onnx_export`).

Each function takes the graph ``g`` (``onnx_export._Graph``), the layer, its input tensor names and masks, and
returns ``(outputs, mask)``: the ONNX names of its outputs and the name of its output mask (None for none).
Layers with standard operators: Activation, ReLU (Where/Min/Relu), LeakyReLU, PReLU, ELU, Softmax (one axis, or
several by reductions), Identity and the noise layers (identity at inference), RepeatVector (Tile), Flatten,
Reshape, Permute (Transpose), Cropping1D (Slice), ZeroPadding1D (Pad), UpSampling1D, the merges (Add, Sub, Mul,
Max, Min, Mean; Concat; Einsum for Dot), Conv1D (Conv), MaxPooling1D/AveragePooling1D (MaxPool/AveragePool,
``auto_pad="SAME_UPPER"`` being TensorFlow's "same"), the global poolings, BatchNormalization in inference
(Mul/Add with its moving statistics) and LayerNormalization (reductions).

Refused (``ValueError`` naming the layer): masks that change a layer's values (Softmax, Multiply, Maximum,
Minimum and Concatenate with a masked input), channels_first pooling and convolution inputs of unknown length
where a static size is needed.
"""
from __future__ import annotations

import string

import numpy as np

_INT64_MAX = np.iinfo(np.int64).max


def _refuse_mask(masks, where, why):
    if any(m is not None for m in masks):
        raise ValueError(f"{where} receives a mask, which {why}; there is no ONNX export for it.")


def _or_masks(g, masks):
    """Keras's merge mask: the OR of the input masks when every input has one, else none."""
    if not masks or any(m is None for m in masks):
        return None
    out = masks[0]
    for m in masks[1:]:
        out = g.op("Or", [out, m])
    return out


def export_layer(exporter, layer, names, masks, tensors, where, activation_op):
    """``(outputs, mask)`` for one of the layers this module handles, or None when ``layer`` is not one."""
    from rnnlab import layers as L
    from rnnlab.layers.merging import Merge

    g = exporter.g
    x, mask = names[0], masks[0]
    shape = tuple(tensors[0].shape)
    kind = type(layer)
    if kind in (L.Identity, L.SpatialDropout1D, L.GaussianNoise, L.GaussianDropout):
        return [x], mask
    if kind is L.Activation:
        return [activation_op(g, layer.activation, x, where)], mask
    if kind is L.ReLU:
        return [_relu(g, layer, x)], mask
    if kind is L.LeakyReLU:
        return [g.op("LeakyRelu", [x], layer.name, alpha=float(layer.negative_slope))], mask
    if kind is L.ELU:
        return [g.op("Elu", [x], layer.name, alpha=float(layer.alpha))], mask
    if kind is L.PReLU:
        return [g.op("PRelu", [x, g.const(layer.alpha.value, f"{layer.name}/alpha")], layer.name)], mask
    if kind is L.Softmax:
        _refuse_mask([mask], where, "Softmax applies to its values")
        return [_softmax(g, layer, x, len(shape))], mask
    if isinstance(layer, Merge):
        return _merge(g, layer, names, masks, tensors, where)
    shape_layers = _shape_layers()
    if kind in shape_layers:
        return [shape_layers[kind](g, layer, x, shape)], None
    if kind is L.Conv1D:
        return [_conv1d(g, layer, x, where, activation_op)], None
    if kind in (L.MaxPooling1D, L.AveragePooling1D):
        return [_pool1d(g, layer, x)], None
    if kind in (L.GlobalMaxPooling1D, L.GlobalAveragePooling1D):
        return [_global_pool(g, layer, x, mask)], None
    if kind is L.BatchNormalization:
        return [_batch_norm(g, layer, x, len(shape))], mask
    if kind is L.LayerNormalization:
        return [_layer_norm(g, layer, x, len(shape))], mask
    return None


def _relu(g, layer, x):
    cut = g.const(float(layer.threshold), "threshold")
    y = g.op("Where", [g.op("Greater", [x, cut]), x, g.const(0.0, "zero")])
    if layer.max_value is not None:
        y = g.op("Min", [y, g.const(float(layer.max_value), "max_value")])
    if layer.negative_slope:
        below = g.op("Relu", [g.op("Sub", [cut, x])])  # (threshold - x) below the threshold
        y = g.op("Sub", [y, g.op("Mul", [g.const(float(layer.negative_slope), "slope"), below])])
    return g.op("Identity", [y], layer.name)


def _softmax(g, layer, x, rank):
    if not isinstance(layer.axis, list) or len(layer.axis) == 1:
        axis = layer.axis[0] if isinstance(layer.axis, list) else layer.axis
        return g.op("Softmax", [x], layer.name, axis=int(axis))
    axes = sorted(a % rank for a in layer.axis)
    e = g.op("Exp", [g.op("Sub", [x, g.reduce("ReduceMax", x, axes, keepdims=1)])])
    return g.op("Div", [e, g.reduce("ReduceSum", e, axes, keepdims=1)], layer.name)


# ------------------------------------------------------------------------------------------ shapes
def _repeat_vector(g, layer, x, shape):
    return g.op("Tile", [g.unsqueeze(x, [1]), g.ints([1, layer.n, 1])], layer.name)


def _flatten(g, layer, x, shape):
    if layer.data_format == "channels_first" and len(shape) > 2:
        x = g.op("Transpose", [x], perm=[0, *range(2, len(shape)), 1])
    return g.op("Flatten", [x], layer.name, axis=1)


def _reshape(g, layer, x, shape):
    return g.op("Reshape", [x, g.ints([0, *layer.target_shape])], layer.name)


def _permute(g, layer, x, shape):
    return g.op("Transpose", [x], layer.name, perm=[0, *layer.dims])


def _cropping(g, layer, x, shape):
    left, right = layer.cropping
    return g.op("Slice", [x, g.ints([left]), g.ints([-right if right else _INT64_MAX]), g.ints([1])], layer.name)


def _zero_padding(g, layer, x, shape):
    axis = 2 if layer.data_format == "channels_first" else 1
    pads = [0, 0, 0, 0, 0, 0]
    pads[axis], pads[axis + 3] = layer.padding
    return g.op("Pad", [x, g.ints(pads)], layer.name)


def _up_sampling(g, layer, x, shape):
    tiled = g.op("Tile", [g.unsqueeze(x, [2]), g.ints([1, 1, layer.size, 1])])  # (B, T, size, F)
    return g.op("Reshape", [tiled, g.ints([0, -1, shape[2]])], layer.name)


def _shape_layers():
    from rnnlab import layers as L

    return {L.RepeatVector: _repeat_vector, L.Flatten: _flatten, L.Reshape: _reshape, L.Permute: _permute,
            L.Cropping1D: _cropping, L.ZeroPadding1D: _zero_padding, L.UpSampling1D: _up_sampling}


# ------------------------------------------------------------------------------------------ merges
def _merge(g, layer, names, masks, tensors, where):
    from rnnlab import layers as L

    kind = type(layer)
    if kind is L.Dot:
        return [_dot(g, layer, names, tensors)], None
    if kind is L.Concatenate:
        _refuse_mask(masks, where, "Concatenate turns into a mask of the joined axis")
        return [g.op("Concat", names, layer.name, axis=int(layer.axis))], None
    if kind in (L.Multiply, L.Maximum, L.Minimum):
        _refuse_mask(masks, where, f"{kind.__name__} lets the mask change its values")
    rank = max(len(t.shape) for t in tensors)
    aligned = [n if len(t.shape) == rank else g.unsqueeze(n, list(range(1, 1 + rank - len(t.shape))))
               for n, t in zip(names, tensors)]  # Keras inserts the missing axes after the batch axis
    op = {L.Add: "Sum", L.Average: "Sum", L.Multiply: "Mul", L.Maximum: "Max", L.Minimum: "Min",
          L.Subtract: "Sub"}[kind]
    if op == "Mul":
        y = aligned[0]
        for n in aligned[1:]:
            y = g.op("Mul", [y, n])
    else:
        y = g.op(op, aligned)
    if kind is L.Average:
        y = g.op("Div", [y, g.const(float(len(names)), "count")])
    return [g.op("Identity", [y], layer.name)], _or_masks(g, masks)


def _l2_normalize(g, x, axis):
    inv = g.op("Reciprocal", [g.op("Sqrt", [g.reduce("ReduceSum", g.op("Mul", [x, x]), [axis], keepdims=1)])])
    return g.op("Mul", [x, g.op("Min", [inv, g.const(1e7, "inv_epsilon")])])


def _dot(g, layer, names, tensors):
    r0, r1 = (len(t.shape) for t in tensors)
    a0, a1 = layer._pair(r0, r1)
    x, y = names
    if layer.normalize:
        x, y = _l2_normalize(g, x, a0), _l2_normalize(g, y, a1)
    letters = iter(string.ascii_lowercase[2:])
    left = ["b"] + [next(letters) for _ in range(r0 - 1)]
    right = ["b"] + [next(letters) for _ in range(r1 - 1)]
    left[a0] = right[a1] = "a"  # the contracted axis
    out = ["b"] + [c for c in left[1:] if c != "a"] + [c for c in right[1:] if c != "a"]
    z = g.op("Einsum", [x, y], equation=f"{''.join(left)},{''.join(right)}->{''.join(out)}")
    return g.unsqueeze(z, [1], layer.name) if len(out) == 1 else g.op("Identity", [z], layer.name)


# ------------------------------------------------------------------------------------------ convolution, pooling
def _channels_first(g, layer, x):
    return x if layer.data_format == "channels_first" else g.op("Transpose", [x], perm=[0, 2, 1])


def _back(g, layer, y, base):
    return g.op("Identity", [y], base) if layer.data_format == "channels_first" else \
        g.op("Transpose", [y], base, perm=[0, 2, 1])


def _conv1d(g, layer, x, where, activation_op):
    w = g.const(np.ascontiguousarray(layer.kernel.value.transpose(2, 1, 0)), f"{layer.name}/kernel")  # (F, Cg, k)
    inputs = [_channels_first(g, layer, x), w]
    if layer.use_bias:
        inputs.append(g.const(layer.bias.value, f"{layer.name}/bias"))
    attrs = {"kernel_shape": list(layer.kernel_size), "strides": list(layer.strides),
             "dilations": list(layer.dilation_rate), "group": int(layer.groups)}
    k, d = layer.kernel_size[0], layer.dilation_rate[0]
    if layer.padding == "causal":
        attrs["pads"] = [d * (k - 1), 0]
    elif layer.padding == "same":
        attrs["auto_pad"] = "SAME_UPPER"  # TensorFlow's split: the odd step at the end
    else:
        attrs["pads"] = [0, 0]
    y = _back(g, layer, g.op("Conv", inputs, **attrs), f"{layer.name}/conv")
    return activation_op(g, layer.activation, y, where)


def _pool1d(g, layer, x):
    from rnnlab import layers as L

    attrs = {"kernel_shape": list(layer.pool_size), "strides": list(layer.strides),
             "auto_pad": "SAME_UPPER" if layer.padding == "same" else "VALID"}
    if isinstance(layer, L.AveragePooling1D):
        y = g.op("AveragePool", [_channels_first(g, layer, x)], count_include_pad=0, **attrs)
    else:
        y = g.op("MaxPool", [_channels_first(g, layer, x)], **attrs)
    return _back(g, layer, y, layer.name)


def _global_pool(g, layer, x, mask):
    from rnnlab import layers as L

    axis = 2 if layer.data_format == "channels_first" else 1
    keep = int(layer.keepdims)
    if isinstance(layer, L.GlobalMaxPooling1D):
        return g.reduce("ReduceMax", x, [axis], keepdims=keep, base=layer.name)
    if mask is None:
        return g.reduce("ReduceMean", x, [axis], keepdims=keep, base=layer.name)
    weights = g.unsqueeze(g.cast(mask, g.dtype), [1 if axis == 2 else 2])  # (B, T, 1) or (B, 1, T)
    total = g.reduce("ReduceSum", g.op("Mul", [x, weights]), [axis], keepdims=keep)
    return g.op("Div", [total, g.reduce("ReduceSum", weights, [axis], keepdims=keep)], layer.name)


# ------------------------------------------------------------------------------------------ normalization
def _batch_norm(g, layer, x, rank):
    """Inference: ``x * gamma / sqrt(moving_variance + eps) + (beta - moving_mean * that)``."""
    inv = 1.0 / np.sqrt(layer.moving_variance.value.astype(np.float64) + layer.epsilon)
    if layer.gamma is not None:
        inv = inv * layer.gamma.value
    shift = -layer.moving_mean.value * inv + (0 if layer.beta is None else layer.beta.value)
    shape = [1] * rank
    shape[layer.axis % rank] = -1
    scale_c = g.const(inv.reshape(shape).astype(g.dtype), f"{layer.name}/scale")
    shift_c = g.const(shift.reshape(shape).astype(g.dtype), f"{layer.name}/shift")
    return g.op("Add", [g.op("Mul", [x, scale_c]), shift_c], layer.name)


def _layer_norm(g, layer, x, rank):
    axes = sorted(a % rank for a in (layer.axis if isinstance(layer.axis, list) else [layer.axis]))
    centered = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, keepdims=1)])
    variance = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes, keepdims=1)
    y = g.op("Div", [centered, g.op("Sqrt", [g.op("Add", [variance, g.const(float(layer.epsilon), "epsilon")])])])
    if layer.gamma is not None:
        y = g.op("Mul", [y, g.const(layer.gamma.value.reshape(_param_shape(layer.gamma.shape, axes, rank)),
                                    f"{layer.name}/gamma")])
    if layer.beta is not None:
        y = g.op("Add", [y, g.const(layer.beta.value.reshape(_param_shape(layer.beta.shape, axes, rank)),
                                    f"{layer.name}/beta")])
    return g.op("Identity", [y], layer.name)


def _param_shape(shape, axes, rank):
    out = [1] * rank
    for a, n in zip(axes, shape):
        out[a] = n
    return out
