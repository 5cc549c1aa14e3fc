"""Conv1D: a 1-D convolution (cross-correlation) over time, as Keras computes it.

For ``channels_last`` inputs ``x`` of shape ``(B, T, C)``, with ``k = kernel_size``, ``s = strides``,
``d = dilation_rate`` and ``G = groups`` (``C = G * Cg`` input channels, ``filters = G * Fg``)::

    y[b, t, g*Fg + f] = bias[g*Fg + f] + sum_{j < k, c < Cg} xp[b, t*s + j*d, g*Cg + c] * kernel[j, c, g*Fg + f]

where ``xp`` is ``x`` padded: nothing (``"valid"``), TensorFlow's "same" split (the odd step on the right),
or ``d * (k - 1)`` zeros on the left (``"causal"``: step ``t`` sees only steps ``<= t``).  ``kernel`` has
Keras's shape ``(k, Cg, filters)``.  ``channels_first`` inputs ``(B, C, T)`` are transposed around the same
computation.
"""
from __future__ import annotations

import numpy as np

from rnnlab import activations
from rnnlab.engine.conv_args import same_padding
from rnnlab.engine.layer import add_grad
from rnnlab.layers.base import FunctionLayer
from rnnlab.layers.spatial import BaseConv


class Conv1D(FunctionLayer, BaseConv):
    """``(B, T, C) -> (B, T_out, filters)`` (or ``(B, C, T) -> (B, filters, T_out)`` with
    ``data_format="channels_first"``); see the module docstring for the formula. The arguments, their checks,
    the weights and the config are :class:`~rnnlab.layers.spatial.BaseConv`'s; the forward and its
    hand-written backward are here."""

    rank = 1
    paddings = ("valid", "same", "causal")

    def _pads(self, steps):
        k, d = self.kernel_size[0], self.dilation_rate[0]
        if self.padding == "causal":
            return d * (k - 1), 0
        if self.padding == "same":
            return same_padding(steps, d * (k - 1) + 1, self.strides[0])
        return 0, 0

    def _forward(self, x, training, grads):
        first = self.data_format == "channels_first"
        xl = x.transpose(0, 2, 1) if first else x  # (B, T, C)
        k, s, d, groups = self.kernel_size[0], self.strides[0], self.dilation_rate[0], self.groups
        left, right = self._pads(xl.shape[1])
        xp = np.pad(xl, ((0, 0), (left, right), (0, 0)))  # (B, Tp, C)
        out_steps = (xp.shape[1] - d * (k - 1) - 1) // s + 1
        batch, channels = xl.shape[0], xl.shape[2]
        per_group, f_group = channels // groups, self.filters // groups
        stop = (out_steps - 1) * s + 1
        taps = np.stack([xp[:, j * d:j * d + stop:s, :] for j in range(k)], axis=2)  # (B, L, k, C)
        cols = taps.reshape(batch, out_steps, k, groups, per_group)  # (B, L, k, G, Cg)
        w = self.kernel.value.reshape(k, per_group, groups, f_group)  # (k, Cg, G, Fg)
        pre = np.einsum("blkgc,kcgf->blgf", cols, w, optimize=True).reshape(batch, out_steps, self.filters)
        if self.use_bias:
            pre = pre + self.bias.value
        y = self.activation(pre)  # (B, L, filters)

        def backward(dy):
            dl = dy.transpose(0, 2, 1) if first else dy
            dpre = activations.backward(self.activation, pre, y, dl)  # (B, L, filters)
            dg = dpre.reshape(batch, out_steps, groups, f_group)  # (B, L, G, Fg)
            add_grad(grads, self.kernel, np.einsum("blkgc,blgf->kcgf", cols, dg, optimize=True)
                     .reshape(self.kernel.shape))
            if self.use_bias:
                add_grad(grads, self.bias, dpre.sum(axis=(0, 1)))
            dtaps = np.einsum("blgf,kcgf->blkgc", dg, w, optimize=True).reshape(batch, out_steps, k, channels)
            dxp = np.zeros_like(xp)
            for j in range(k):  # each tap read every s-th padded step from j*d on
                dxp[:, j * d:j * d + stop:s, :] += dtaps[:, :, j, :]
            dx = dxp[:, left:left + xl.shape[1], :]  # padding gets no gradient
            return dx.transpose(0, 2, 1) if first else dx

        return (y.transpose(0, 2, 1) if first else y), backward
