"""LSTM cell, one time step forward and backward, in Keras's gate order ``i, f, c, o``; with two optional
variants, each one more weight and one more term: a projection of ``h`` (PyTorch's ``proj_size``) and
peephole connections from the cell state to the gates (the ONNX ``LSTM`` operator's input ``P``).

Symbols (``B`` batch, ``U`` units, ``R`` the width of ``h``: ``U``, or ``P`` with a projection; ``@`` is the
matrix product, every other product is elementwise)::

    xw_t              (B, 4U)  x_t @ kernel + bias, precomputed for all steps by the layer
    recurrent_kernel  (R, 4U)  blocks [U_i | U_f | U_c | U_o]
    peephole_weights  (3U,)    blocks [p_i | p_f | p_o]   (only with use_peepholes)
    projection_kernel (U, P)                              (only with proj_size=P)

    pre   = xw_t + h_prev @ recurrent_kernel            (B, 4U) pre-activations
    pre_i += p_i * c_prev;  pre_f += p_f * c_prev       (peepholes: i and f see the previous cell state)
    i     = recurrent_activation(pre[:, 0U:1U])         input gate
    f     = recurrent_activation(pre[:, 1U:2U])         forget gate
    c_hat = activation(pre[:, 2U:3U])                   candidate cell
    c     = f * c_prev + i * c_hat                      new cell state
    pre_o += p_o * c                                    (peepholes: o sees the new cell state)
    o     = recurrent_activation(pre[:, 3U:4U])         output gate
    m     = o * activation(c)                           (B, U)
    h     = m                                           new hidden state (= the step's output), or
    h     = m @ projection_kernel                       (B, P) with a projection

``pre`` holds the full pre-activations, peephole terms included.  With recurrent dropout,
``h_prev @ recurrent_kernel`` reads ``h_prev * mask[k]`` in gate block ``k`` (:mod:`rnnlab.cells.recurrent_product`).
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from rnnlab.activations import derivative
from rnnlab.cells.base import CellSpec, RecurrentCell, add_grad, register
from rnnlab.cells.recurrent_product import recurrent_product, recurrent_product_backward


class LSTMGates(NamedTuple):
    """What one LSTM step computed: the gates ``(B, U)``, the pre-activations ``pre`` ``(B, 4U)``, ``c``,
    ``activation(c)`` and ``m = o * activation(c)`` -- everything the backward step needs."""

    i: np.ndarray
    f: np.ndarray
    c_hat: np.ndarray
    o: np.ndarray
    pre: np.ndarray
    c: np.ndarray
    act_c: np.ndarray
    m: np.ndarray


# ------------------------------------------------------------------ the elementwise part, Keras's default activations
def lstm_gate_scales(units, dtype):
    """``(a, b)`` ``(4U,)`` each, such that ``tanh(pre * a) * a + b`` is ``[sigmoid | sigmoid | tanh | sigmoid]``
    of the four gate blocks: ``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5``, so ``a`` is 0.5 on the sigmoid gates and 1 on
    the candidate, ``b`` 0.5 and 0.  One ``tanh`` call then activates every gate."""
    a = np.full(4 * units, 0.5, dtype)
    b = np.full(4 * units, 0.5, dtype)
    a[2 * units:3 * units] = 1.0
    b[2 * units:3 * units] = 0.0
    return a, b


def lstm_pointwise(pre, c_prev, c, act_c, h, scales):
    """The elementwise part of :func:`lstm_step` for ``activation=tanh``, ``recurrent_activation=sigmoid``, in place.

    ``pre`` ``(B, 4U)`` holds the pre-activations on entry and the gates ``[i | f | c_hat | o]`` on return; the
    function writes ``c``, ``act_c = tanh(c)`` and ``h`` (each ``(B, U)``, none of them ``c_prev``)::

        i, f, o = sigmoid(pre_i), sigmoid(pre_f), sigmoid(pre_o)    as 0.5 * tanh(pre / 2) + 0.5
        c_hat   = tanh(pre_c)
        c       = f * c_prev + i * c_hat
        h       = o * tanh(c)

    ``scales`` is :func:`lstm_gate_scales` ``(U, dtype)``, made once per sequence.  The sigmoid through ``tanh``
    is accurate to a few ulps of 1 (not of the result, for very negative inputs), which is why the reference
    :func:`lstm_step`, whose activations may be any, keeps the stable :func:`rnnlab.activations.sigmoid`.
    """
    u = c.shape[1]
    a, b = scales
    pre *= a
    np.tanh(pre, pre)
    pre *= a
    pre += b  # pre = [i | f | c_hat | o]
    i, f, c_hat, o = pre[:, :u], pre[:, u:2 * u], pre[:, 2 * u:3 * u], pre[:, 3 * u:]  # (B, U) each
    np.multiply(f, c_prev, c)
    np.multiply(i, c_hat, act_c)  # act_c serves as scratch until tanh(c) is written into it
    c += act_c
    np.tanh(c, act_c)
    np.multiply(o, act_c, h)


def lstm_pointwise_backward(dh, dc, gates, act_c, c_prev, dpre):
    """Backward of :func:`lstm_pointwise` from its saved results: ``gates`` ``[i | f | c_hat | o]`` ``(B, 4U)``,
    ``act_c = tanh(c)`` and ``c_prev``.

    ``dh``, ``dc`` ``(B, U)`` are the loss gradients w.r.t. the step's ``h`` and (through later steps) its ``c``.
    Writes the gradient w.r.t. ``pre`` into ``dpre`` ``(B, 4U)`` and returns ``dc_prev`` ``(B, U)``::

        dc      = dc + dh * o * (1 - tanh(c)^2)            c reaches h through tanh(c)
        dpre_i  = dc * c_hat * i * (1 - i)                 c = f * c_prev + i * c_hat
        dpre_f  = dc * c_prev * f * (1 - f)
        dpre_c  = dc * i * (1 - c_hat^2)
        dpre_o  = dh * tanh(c) * o * (1 - o)               h = o * tanh(c)
        dc_prev = dc * f                                   the forget gate carries the cell state
    """
    u = dh.shape[1]
    i, f, c_hat, o = gates[:, :u], gates[:, u:2 * u], gates[:, 2 * u:3 * u], gates[:, 3 * u:]  # (B, U) each
    dc = dc + dh * o * (1 - act_c * act_c)
    dpre[:, :u] = dc * c_hat * i * (1 - i)
    dpre[:, u:2 * u] = dc * c_prev * f * (1 - f)
    dpre[:, 2 * u:3 * u] = dc * i * (1 - c_hat * c_hat)
    dpre[:, 3 * u:] = dh * act_c * o * (1 - o)
    dc *= f
    return dc


class LSTMStepGrads(NamedTuple):
    """What :func:`lstm_step_backward` returns: gradients at ``xw_t`` (= at ``pre``), ``h_prev``, ``c_prev``
    and the step's weights (``None`` for a variant the step does not have)."""

    dxw: np.ndarray
    dh_prev: np.ndarray
    dc_prev: np.ndarray
    drecurrent_kernel: np.ndarray
    dprojection_kernel: np.ndarray | None = None
    dpeephole_weights: np.ndarray | None = None


def lstm_step(xw_t, h_prev, c_prev, recurrent_kernel, activation, recurrent_activation, recurrent_masks=None,
              projection_kernel=None, peephole_weights=None):
    """One LSTM step. Returns ``(h, c, gates)``."""
    units = c_prev.shape[-1]
    pre = xw_t + recurrent_product(h_prev, recurrent_kernel, recurrent_masks)  # (B, 4U)
    if peephole_weights is not None:  # i and f see the previous cell state
        pre[:, :units] += peephole_weights[:units] * c_prev
        pre[:, units:2 * units] += peephole_weights[units:2 * units] * c_prev
    i = recurrent_activation(pre[:, :units])  # (B, U)
    f = recurrent_activation(pre[:, units:2 * units])  # (B, U)
    c_hat = activation(pre[:, 2 * units:3 * units])  # (B, U)
    c = f * c_prev + i * c_hat
    if peephole_weights is not None:
        pre[:, 3 * units:] += c * peephole_weights[2 * units:]  # o sees the new cell state
    o = recurrent_activation(pre[:, 3 * units:])  # (B, U)
    act_c = activation(c)
    m = o * act_c  # (B, U)
    h = m if projection_kernel is None else m @ projection_kernel  # (B, U) or (B, P)
    return h, c, LSTMGates(i, f, c_hat, o, pre, c, act_c, m)


def lstm_step_backward(dh, dc, gates, h_prev, c_prev, recurrent_kernel, activation, recurrent_activation,
                       recurrent_masks=None, projection_kernel=None, peephole_weights=None):
    """Backward of :func:`lstm_step` from its saved gates.

    ``dh``/``dc`` are the loss gradients w.r.t. the step's ``h`` and ``c``. Returns :class:`LSTMStepGrads`.
    """
    units = c_prev.shape[-1]
    g = gates
    d_act, d_rec = derivative(activation), derivative(recurrent_activation)
    dprojection = None
    if projection_kernel is not None:  # h = m @ projection_kernel
        dprojection = g.m.T @ dh  # (U, P)
        dh = dh @ projection_kernel.T  # (B, U): now the gradient at m
    do = dh * g.act_c  # m = o * act(c)
    dc = dc + dh * g.o * d_act(g.c, g.act_c)  # c feeds m through act(c)
    dpre = np.empty_like(g.pre)  # (B, 4U): gradient at the pre-activations
    dpre[:, 3 * units:] = do * d_rec(g.pre[:, 3 * units:], g.o)
    if peephole_weights is not None:
        dc = dc + dpre[:, 3 * units:] * peephole_weights[2 * units:]  # c feeds o through p_o
    dpre[:, :units] = dc * g.c_hat * d_rec(g.pre[:, :units], g.i)  # c = f*c_prev + i*c_hat
    dpre[:, units:2 * units] = dc * c_prev * d_rec(g.pre[:, units:2 * units], g.f)
    dpre[:, 2 * units:3 * units] = dc * g.i * d_act(g.pre[:, 2 * units:3 * units], g.c_hat)
    dc_prev = dc * g.f  # the forget gate carries the cell state
    dpeephole = None
    if peephole_weights is not None:  # c_prev feeds i and f through p_i, p_f; c feeds o through p_o
        dc_prev += dpre[:, :units] * peephole_weights[:units] + dpre[:, units:2 * units] * \
            peephole_weights[units:2 * units]
        dpeephole = np.concatenate([(dpre[:, :units] * c_prev).sum(0), (dpre[:, units:2 * units] * c_prev).sum(0),
                                    (dpre[:, 3 * units:] * g.c).sum(0)])  # (3U,)
    dh_prev, drecurrent_kernel = recurrent_product_backward(dpre, h_prev, recurrent_kernel, recurrent_masks)
    return LSTMStepGrads(dpre, dh_prev, dc_prev, drecurrent_kernel, dprojection, dpeephole)


#: The plain LSTM's spec; a variant's spec adds its weights and names its terms in ``variant``.
LSTM_SPEC = CellSpec(name="LSTM", layout="lstm", states=("h", "c"), gates=("i", "f", "c_hat", "o"), blocks=4)


def lstm_spec(projection=False, peepholes=False) -> CellSpec:
    """The :class:`CellSpec` of an LSTM cell with the given variant terms (the plain spec without any)."""
    if not projection and not peepholes:
        return LSTM_SPEC
    extra = (("peephole_weights",) if peepholes else ()) + (("projection_kernel",) if projection else ())
    variant = (("peepholes",) if peepholes else ()) + (("projection",) if projection else ())
    return dataclasses.replace(LSTM_SPEC, weights=LSTM_SPEC.weights + extra, variant=variant)


def _check_proj_size(proj_size, units):
    if proj_size is None:
        return None
    if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)) or not 0 < proj_size < units:
        raise ValueError(f"Argument `proj_size` must be None or a positive int smaller than `units` ({units}), as "
                         f"PyTorch requires of nn.LSTM; received proj_size={proj_size!r}.")
    return int(proj_size)


@register
class LSTMCell(RecurrentCell):
    """Cell of the LSTM layer (``keras.layers.LSTMCell``); equations above. State: ``[h, c]``.

    ``proj_size=P`` (default None: no projection) projects ``h`` to ``P < units`` features, as PyTorch's
    ``nn.LSTM(proj_size=P)``: ``h`` and the output have ``P`` features, ``c`` has ``units``; the recurrent kernel
    is ``(P, 4*units)`` and the weights end with ``projection_kernel`` ``(units, P)``.  ``use_peepholes=True``
    adds the weight ``peephole_weights`` ``(3*units,)`` (gate order i, f, o) after the bias, with the ONNX LSTM
    operator's equations.  With both, the peephole weights come before the projection kernel.  Neither is a
    Keras argument: a plain cell's config has neither key.
    """

    spec = LSTM_SPEC  # a variant's instance carries its own spec (see lstm_spec)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, proj_size=None, use_peepholes=False, **kwargs):
        kwargs.pop("implementation", None)  # Keras's internal kernel choice; no effect on results
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.proj_size = _check_proj_size(proj_size, self.units)
        if not isinstance(use_peepholes, (bool, np.bool_)):
            raise TypeError(f"Argument `use_peepholes` must be a bool; received use_peepholes={use_peepholes!r}.")
        self.use_peepholes = bool(use_peepholes)
        self.spec = lstm_spec(self.proj_size is not None, self.use_peepholes)
        self.projection_kernel = self.peephole_weights = None

    @property
    def state_size(self):
        return [self._recurrent_rows(), self.units]

    @property
    def output_size(self):
        return self._recurrent_rows()

    def _recurrent_rows(self):
        return self.units if self.proj_size is None else self.proj_size

    def _bias_initial_value(self, shape, dtype):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype)
        u = self.units  # Keras: [bias_init(U), ones(U), bias_init(2U)] -- the forget gate starts open
        return np.concatenate([self.bias_initializer((u,), dtype), np.ones((u,), dtype),
                               self.bias_initializer((2 * u,), dtype)])

    def _build_extra(self):
        if self.use_peepholes:
            self.peephole_weights = self.add_weight(name="peephole_weights", shape=(3 * self.units,),
                                                    initializer=self.kernel_initializer)
        if self.proj_size is not None:
            self.projection_kernel = self.add_weight(name="projection_kernel", shape=(self.units, self.proj_size),
                                                     initializer=self.kernel_initializer)

    def _variant_weights(self):
        return {"projection_kernel": None if self.projection_kernel is None else self.projection_kernel.value,
                "peephole_weights": None if self.peephole_weights is None else self.peephole_weights.value}

    def step(self, xw_t, states, dropout=None):
        h, c, gates = lstm_step(xw_t, states[0], states[1], self.recurrent_kernel.value, self.activation,
                                self.recurrent_activation, self._recurrent_masks(dropout), **self._variant_weights())
        return h, [h, c], gates

    def step_backward(self, d_output, d_states, gates, prev_states, dropout, grads):
        dh = d_output + d_states[0]  # the output is h itself
        g = lstm_step_backward(dh, d_states[1], gates, prev_states[0], prev_states[1], self.recurrent_kernel.value,
                               self.activation, self.recurrent_activation, self._recurrent_masks(dropout),
                               **self._variant_weights())
        add_grad(grads, self.recurrent_kernel, g.drecurrent_kernel)
        if self.projection_kernel is not None:
            add_grad(grads, self.projection_kernel, g.dprojection_kernel)
        if self.peephole_weights is not None:
            add_grad(grads, self.peephole_weights, g.dpeephole_weights)
        return g.dxw, [g.dh_prev, g.dc_prev]

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        if self.proj_size is not None:  # not Keras arguments: only present when used
            config["proj_size"] = self.proj_size
        if self.use_peepholes:
            config["use_peepholes"] = True
        return config
