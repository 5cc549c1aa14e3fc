"""Summary statistics of a trace, as tables: gate saturation, forget-gate means, state-norm growth, unit activity.

:func:`statistics` reads a :class:`~rnnlab.inspect.trace.ModelTrace` and returns :class:`TraceStatistics`, three
:class:`Table` objects:

* ``gates``  -- one row per layer part and gate (and ``h``): mean, standard deviation, and **saturation**: the
  share of values near 0 (``|v| < eps``) and near 1 (``|v| > 1 - eps``; for tanh-valued candidates and ``h``,
  near -1 or 1).  Saturation is only defined for bounded values; it reads ``nan`` for SimpleRNN's pre-activation.
* ``units``  -- one row per unit: the **forget-gate mean** (LSTM ``f``; for a GRU its update gate ``z``, which
  plays that role: the share of the previous state kept), and the unit's **activity**: mean ``|h|``, standard
  deviation of ``h`` and largest ``|h|``.
* ``norms``  -- one row per state (``h``, and ``c`` for an LSTM): the **state-norm growth over time**, the mean
  over the batch of ``||state_t||`` (L2 over units) at the first and last processed step, its largest value,
  ``growth = last / first`` and the least-squares slope per step.  The full series is in ``norm_series``.

Masked steps are left out of the gate and unit statistics (the cell's values there were discarded).  Every table
converts with ``to_dict()`` (column -> NumPy array), ``to_text()`` and ``to_html()``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np


@dataclass(repr=False)
class Table:
    """A small table: ``columns`` names and ``rows`` (tuples), with a ``title`` and an explanatory ``note``."""

    title: str
    columns: tuple
    rows: list = field(default_factory=list)
    note: str = ""

    def __len__(self):
        return len(self.rows)

    def column(self, name) -> np.ndarray:
        if name not in self.columns:
            raise KeyError(f"Table {self.title!r} has no column {name!r}; its columns are {list(self.columns)}.")
        k = self.columns.index(name)
        return np.array([row[k] for row in self.rows])

    def to_dict(self) -> dict:
        """``{column: NumPy array}``."""
        return {name: self.column(name) for name in self.columns}

    def records(self) -> list:
        """The rows as dicts."""
        return [dict(zip(self.columns, row)) for row in self.rows]

    def to_text(self, digits=3) -> str:
        cells = [list(self.columns)] + [[_format(v, digits) for v in row] for row in self.rows]
        widths = [max(len(r[k]) for r in cells) for k in range(len(self.columns))]
        lines = [self.title, "  ".join(c.ljust(w) for c, w in zip(cells[0], widths)),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(c.rjust(w) if _is_number(v) else c.ljust(w)
                            for c, w, v in zip(r, widths, row)) for r, row in zip(cells[1:], self.rows)]
        return "\n".join(lines)

    def to_html(self, digits=3) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f'<td class="{"num" if _is_number(v) else "txt"}">{html.escape(_format(v, digits))}</td>'
                             for v in row) + "</tr>" for row in self.rows)
        note = f"<p class=\"note\">{html.escape(self.note)}</p>" if self.note else ""
        return (f"<table><caption>{html.escape(self.title)}</caption><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>{note}")

    _repr_html_ = to_html

    def __str__(self):
        return self.to_text()

    __repr__ = __str__


def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _format(v, digits):
    if isinstance(v, (float, np.floating)):
        return "-" if np.isnan(v) else f"{v:.{digits}f}"
    return str(v)


@dataclass(repr=False)
class TraceStatistics:
    """The statistics of one trace: the ``gates``, ``units`` and ``norms`` tables, and ``norm_series``
    (``"layer/part" -> {"h": (T,), "c": (T,)}``, mean state norm per processed step)."""

    gates: Table
    units: Table
    norms: Table
    norm_series: dict

    @property
    def tables(self) -> list:
        return [self.gates, self.units, self.norms]

    def to_dict(self) -> dict:
        return {"gates": self.gates.to_dict(), "units": self.units.to_dict(), "norms": self.norms.to_dict(),
                "norm_series": {k: dict(v) for k, v in self.norm_series.items()}}

    def to_text(self, digits=3) -> str:
        return "\n\n".join(t.to_text(digits) for t in self.tables)

    def to_html(self, digits=3) -> str:
        return "\n".join(t.to_html(digits) for t in self.tables)

    _repr_html_ = to_html

    def __str__(self):
        return self.to_text()

    __repr__ = __str__


def saturation(values, eps=0.05):
    """``(near_0, near_1)``: shares of ``values`` with ``|v| < eps`` and ``|v| > 1 - eps``; ``nan`` for values
    outside ``[-1, 1]`` (unbounded, such as pre-activations) or none at all."""
    v = np.abs(np.asarray(values, np.float64))
    if v.size == 0 or v.max() > 1 + 1e-6:
        return float("nan"), float("nan")
    return float(np.mean(v < eps)), float(np.mean(v > 1 - eps))


def _moments(values):
    if values.size == 0:
        return float("nan"), float("nan")
    return float(values.mean()), float(values.std())


def statistics(model_trace, eps=0.05) -> TraceStatistics:
    """Gate saturation, forget-gate mean per unit, state-norm growth and per-unit activity of ``model_trace``.

    ``eps`` sets what counts as saturated: ``|v| < eps`` is near 0 and ``|v| > 1 - eps`` near 1.
    """
    if not 0 < eps < 0.5:
        raise ValueError(f"Argument `eps` must be in (0, 0.5); received eps={eps!r}.")
    gates = Table("Gate activations and saturation",
                  ("layer", "part", "type", "gate", "mean", "std", "near_0", "near_1", "saturated"),
                  note=f"Over the steps that counted (mask True). near_0: share with |v| < {eps}; near_1: share with "
                       f"|v| > {1 - eps} (for tanh values c_hat, h_hat and h: near -1 or 1); saturated = both. "
                       "'-' where the values are unbounded (SimpleRNN's pre-activation a).")
    units = Table("Per-unit forget gate and activity",
                  ("layer", "part", "type", "unit", "forget_mean", "mean_abs_h", "std_h", "max_abs_h"),
                  note="forget_mean: mean forget gate f (LSTM) or update gate z (GRU: the share of the previous "
                       "state kept) over the steps that counted; '-' for SimpleRNN. Activity: mean |h|, standard "
                       "deviation and largest |h| of the unit.")
    norms = Table("State-norm growth over time",
                  ("layer", "part", "type", "state", "first", "last", "max", "growth", "slope"),
                  note="Mean over the batch of the L2 norm of the state after each processed step: first and last "
                       "step, largest value, growth = last / first, and the least-squares slope per step.")
    series = {}
    for name, key, part in model_trace.parts():
        counted = part.mask  # (B, T)
        label = (name, key, part.cell_type)
        for gate, values in list(part.gates.items()) + [("h", part.h)]:
            v = values[counted]  # (N, U): the steps that counted
            sat = (float("nan"),) * 2 if gate == "a" else saturation(v, eps)  # a is a pre-activation
            gates.rows.append(label + (gate, *_moments(v), *_with_total(sat)))
        keep = part.gates.get("f", part.gates.get("z"))
        for u in range(max(part.units, part.h.shape[-1])):  # h has proj_size features with a projection
            h_u = part.h[..., u][counted] if u < part.h.shape[-1] else np.empty(0)
            in_gate = keep is not None and u < keep.shape[-1] and counted.any()
            forget = float(keep[..., u][counted].mean()) if in_gate else float("nan")
            abs_h = np.abs(h_u)
            units.rows.append(label + (u, forget, *((float(abs_h.mean()), float(h_u.std()), float(abs_h.max()))
                                                    if h_u.size else (float("nan"),) * 3)))
        series[f"{name}/{key}"] = {}
        for state in ("h", "c"):
            values = getattr(part, state)
            if values is None:
                continue
            norm = np.linalg.norm(values.astype(np.float64), axis=-1).mean(axis=0)[part.processing_order]  # (T,)
            series[f"{name}/{key}"][state] = norm
            slope = float(np.polyfit(np.arange(norm.size), norm, 1)[0]) if norm.size > 1 else float("nan")
            growth = float(norm[-1] / norm[0]) if norm[0] > 0 else float("nan")
            norms.rows.append(label + (state, float(norm[0]), float(norm[-1]), float(norm.max()), growth, slope))
    return TraceStatistics(gates, units, norms, series)


def _with_total(pair):
    near_0, near_1 = pair
    return near_0, near_1, near_0 + near_1
