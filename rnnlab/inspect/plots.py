"""Plots of a trace with matplotlib, which is imported only when a plot is drawn.

Every function returns a ``matplotlib.figure.Figure`` (made without pyplot, so nothing is left open): save it with
``fig.savefig("gates.png")``; a notebook shows it when it is the last value of a cell.

* :func:`plot_gates`         -- a heatmap of each gate over time x units (and of ``h``, ``c``);
* :func:`plot_states`        -- ``h`` and ``c`` trajectories over time for chosen units;
* :func:`plot_bidirectional` -- a Bidirectional layer's forward and backward directions side by side;
* :func:`plot_state_norms`   -- the state-norm growth over time of every layer.

Masked steps (the ones that did not count) are hatched.
"""
from __future__ import annotations

import numpy as np

from rnnlab.inspect.trace import GATE_DESCRIPTIONS, CellTrace, LayerTrace, ModelTrace

_SIGMOID_LIKE = ("i", "f", "o", "z", "r")


def _figure(width, height):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("Plotting needs matplotlib, which is not installed: pip install matplotlib "
                          "(rnnlab itself needs only NumPy).") from None
    return Figure(figsize=(width, height), layout="constrained")


def _part(obj, what="plot"):
    if isinstance(obj, CellTrace):
        return obj
    if isinstance(obj, LayerTrace):
        if len(obj.parts) == 1:
            return next(iter(obj.parts.values()))
        raise ValueError(f"Layer {obj.name!r} has parts {list(obj.parts)}; {what} one of them (e.g. "
                         f"trace[{obj.name!r}]['forward']), or use plot_bidirectional for both directions.")
    raise TypeError(f"Expected a CellTrace or LayerTrace (from rnnlab.inspect.trace); received {type(obj).__name__}.")


def _check_sample(part, sample):
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < part.batch_size:
        raise ValueError(f"Argument `sample` must be an int in [0, {part.batch_size}); received sample={sample!r}.")
    return int(sample)


def _style(part, name):
    """Colormap and value range for a quantity: gates in [0, 1], tanh values in [-1, 1], others symmetric."""
    if name in _SIGMOID_LIKE and part.recurrent_activation in ("sigmoid", "hard_sigmoid"):
        return "viridis", 0.0, 1.0
    values = part.gates.get(name) if name in part.gates else getattr(part, name)
    bound = float(np.max(np.abs(values))) if values.size else 1.0
    if name in ("c_hat", "h_hat", "h") and part.activation == "tanh":
        bound = 1.0
    return "RdBu_r", -max(bound, 1e-12), max(bound, 1e-12)


def _shade_masked(ax, mask_row):
    for t in np.flatnonzero(~mask_row):
        ax.axvspan(t - 0.5, t + 0.5, facecolor="none", edgecolor="0.4", hatch="///", linewidth=0)


def _heatmap(fig, ax, part, name, sample, title=None):
    values = part.gates[name] if name in part.gates else getattr(part, name)
    cmap, vmin, vmax = _style(part, name)
    image = ax.imshow(values[sample].T, aspect="auto", origin="lower", cmap=cmap, vmin=vmin, vmax=vmax,
                      interpolation="nearest")
    _shade_masked(ax, part.mask[sample])
    ax.set_title(title or f"{name}: {GATE_DESCRIPTIONS.get(name, _STATE_TEXT.get(name, ''))}", fontsize=9,
                 loc="left")
    ax.set_ylabel("unit")
    ax.set_yticks(range(part.units))
    fig.colorbar(image, ax=ax, fraction=0.05, pad=0.01)


_STATE_TEXT = {"h": "hidden state (the output)", "c": "cell state (the LSTM's memory)"}


def _names(part, gates, states):
    names = list(part.gates) if gates is None else list(gates)
    unknown = [g for g in names if g not in part.gates]
    if unknown:
        raise ValueError(f"Unknown gate(s) {unknown} for a {part.cell_type} cell; its gates are {list(part.gates)}.")
    if states:
        names += ["h"] + (["c"] if part.c is not None else [])
    return names


def plot_gates(part, sample=0, gates=None, states=True):
    """Heatmaps of each gate of one cell over time (x) and units (y), for batch row ``sample``.

    ``part`` is a :class:`CellTrace` (``trace["lstm"]`` works for a single-direction layer); ``gates`` picks
    gates by name (default: all); ``states`` adds ``h`` and ``c``.
    """
    part = _part(part)
    sample = _check_sample(part, sample)
    names = _names(part, gates, states)
    fig = _figure(8, 1.2 + 1.0 * len(names) + 0.12 * part.units * len(names))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names):
        _heatmap(fig, ax, part, name, sample)
    axes[-1].set_xlabel("time step t")
    fig.suptitle(f"{part.layer} / {part.direction}" + (f" / cell {part.cell_index}" if part.cell_index else "")
                 + f": {part.cell_type}({part.units}), sample {sample}", fontsize=11)
    return fig


def plot_states(part, units=None, sample=0):
    """Trajectories of ``h`` (and ``c`` for an LSTM) over time for the chosen ``units`` (default: all)."""
    part = _part(part)
    sample = _check_sample(part, sample)
    units = list(range(part.units)) if units is None else [units] if isinstance(units, (int, np.integer)) \
        else list(units)
    bad = [u for u in units if not (isinstance(u, (int, np.integer)) and 0 <= u < part.units)]
    if bad or not units:
        raise ValueError(f"Argument `units` must list unit indices in [0, {part.units}); received {units!r}.")
    names = ["h"] + (["c"] if part.c is not None else [])
    fig = _figure(8, 1.0 + 2.2 * len(names))
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    steps = np.arange(part.steps)
    for ax, name in zip(axes, names):
        values = getattr(part, name)[sample]  # (T, U)
        for u in units:
            if u < values.shape[-1]:  # with a projection (proj_size), h has fewer features than c has units
                ax.plot(steps, values[:, u], marker="o", markersize=3, label=f"unit {u}")
        _shade_masked(ax, part.mask[sample])
        ax.axhline(0, color="0.7", linewidth=0.8)
        ax.set_title(f"{name}: {_STATE_TEXT[name]}", fontsize=9, loc="left")
        ax.legend(fontsize=8, loc="best")
    axes[-1].set_xlabel("time step t")
    fig.suptitle(f"{part.layer} / {part.direction}: {part.cell_type}({part.units}) states, sample {sample}",
                 fontsize=11)
    return fig


def plot_bidirectional(layer_trace, sample=0, gates=None, states=True):
    """A Bidirectional layer's forward and backward directions side by side, both in time order (the backward
    direction computed them from the last step to the first)."""
    if not isinstance(layer_trace, LayerTrace) or "backward" not in layer_trace.directions or \
            "forward" not in layer_trace.directions:
        raise ValueError("plot_bidirectional needs the LayerTrace of a Bidirectional layer (trace[name]); received "
                         f"{layer_trace!r}.")
    fw, bw = layer_trace.forward, layer_trace.backward
    sample = _check_sample(fw, sample)
    names = _names(fw, gates, states)
    fig = _figure(13, 1.2 + 1.0 * len(names) + 0.12 * fw.units * len(names))
    axes = fig.subplots(len(names), 2, sharex=True, squeeze=False)
    for row, name in enumerate(names):
        _heatmap(fig, axes[row, 0], fw, name, sample, title=f"forward {name}")
        _heatmap(fig, axes[row, 1], bw, name, sample, title=f"backward {name}")
    for col in range(2):
        axes[-1, col].set_xlabel("time step t")
    axes[0, 0].annotate("reads t = 0 -> T-1", (0, 1.25), xycoords="axes fraction", fontsize=8)
    axes[0, 1].annotate("reads t = T-1 -> 0", (0, 1.25), xycoords="axes fraction", fontsize=8)
    fig.suptitle(f"{layer_trace.name}: {fw.cell_type}({fw.units}) forward and backward, sample {sample}",
                 fontsize=11)
    return fig


def plot_state_norms(source):
    """The mean state norm ``||h_t||`` (solid) and ``||c_t||`` (dashed) per processed step, for every layer.

    ``source`` is a :class:`ModelTrace` or the :class:`~rnnlab.inspect.stats.TraceStatistics` of one.
    """
    from rnnlab.inspect.stats import TraceStatistics, statistics

    if isinstance(source, ModelTrace):
        source = statistics(source)
    if not isinstance(source, TraceStatistics):
        raise TypeError(f"Argument `source` must be a ModelTrace or TraceStatistics; received "
                        f"{type(source).__name__}.")
    fig = _figure(8, 3.6)
    ax = fig.subplots()
    for k, (key, series) in enumerate(source.norm_series.items()):
        color = f"C{k % 10}"
        for state, values in series.items():
            ax.plot(np.arange(values.size), values, color=color, linestyle="-" if state == "h" else "--",
                    marker="o", markersize=3, label=f"{key} {state}")
    ax.set_xlabel("processed step (the backward direction starts at the last time step)")
    ax.set_ylabel("mean L2 norm")
    ax.set_title("State-norm growth over time", fontsize=10, loc="left")
    ax.legend(fontsize=8)
    return fig
