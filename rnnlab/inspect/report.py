"""A single self-contained HTML report of what happens inside a model's recurrent layers.

:func:`build_report` traces the model on an input and returns one HTML page with

* the model summary (``model.summary()``);
* what ``o``, ``h`` and ``c`` are for this model -- the explanation of the seed notebooks, with this model's own
  values, and each relation recomputed from the traced gates;
* the statistics tables (:mod:`rnnlab.inspect.stats`);
* the plots (:mod:`rnnlab.inspect.plots`), embedded as base64 PNG images.

The page loads nothing from anywhere (no scripts, stylesheets, fonts or remote images), so it opens offline and
can be mailed as one file.  :func:`write_report` writes it to disk.
"""
from __future__ import annotations

import base64
import datetime
import html
import io
import os

import numpy as np

from rnnlab import activations
from rnnlab.inspect.stats import statistics
from rnnlab.inspect.trace import GATE_DESCRIPTIONS, trace

MAX_PLOTTED_PARTS = 8

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1150px;
       color: #1d2330; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; border-bottom: 2px solid #3b6fb6; padding-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 2em; color: #23487a; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
pre { background: #f4f6fa; border: 1px solid #dde3ec; padding: .8em; overflow-x: auto; font-size: .85em; }
code { background: #f4f6fa; padding: 0 .2em; }
table { border-collapse: collapse; margin: .6em 0 .2em; font-size: .85em; }
caption { text-align: left; font-weight: bold; padding: .3em 0; }
th, td { border: 1px solid #cfd6e2; padding: .2em .55em; }
th { background: #e8edf5; }
td.num { text-align: right; font-family: monospace; }
tr.masked td { color: #8a8f99; background: #f6f6f6; }
p.note, .meta { color: #5a6272; font-size: .85em; }
img { max-width: 100%; border: 1px solid #e1e5ec; margin: .5em 0; }
.ok { color: #17803d; font-weight: bold; }
.bad { color: #b3261e; font-weight: bold; }
"""


def _vec(values, digits=4):
    return np.array2string(np.asarray(values, np.float64), precision=digits, suppress_small=True,
                           floatmode="fixed", separator=", ", max_line_width=200)


def _figure_png(fig, dpi=90):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{_figure_png(fig)}">'


def _summary_text(model):
    if not hasattr(model, "summary"):
        return f"Layer {model.name} ({type(model).__name__})"
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(str(line)))
    return "\n".join(lines)


def _last_counted_step(part, sample):
    """The last processed time index whose step counted for ``sample`` (None when none did)."""
    counted = [t for t in part.processing_order if part.mask[sample, t]]
    return counted[-1] if counted else None


def _previous(part, sample, t):
    """The states before time step ``t`` was processed: ``(h_prev, c_prev)``."""
    order = list(part.processing_order)
    k = order.index(t)
    if k == 0:
        return part.h0[sample], (part.c0[sample] if part.c is not None else None)
    prev = order[k - 1]
    return part.h[sample, prev], (part.c[sample, prev] if part.c is not None else None)


def _check_mark(ok):
    return '<span class="ok">&#10003; matches the layer</span>' if ok else \
        '<span class="bad">&#10007; does not match</span>'


def _relations(part, sample, t):
    """The cell equations at step ``t`` with this sample's numbers, each recomputed from the traced gates."""
    act = activations.get(part.activation)
    h_prev, c_prev = _previous(part, sample, t)
    h_t = part.h[sample, t]
    g = {name: values[sample, t] for name, values in part.gates.items()}
    lines = []
    if part.cell_type == "LSTM":
        c_t = part.c[sample, t]
        c_new = g["f"] * c_prev + g["i"] * g["c_hat"]
        h_new = g["o"] * act(c_new)
        lines.append(("c = f * c_prev + i * c_hat",
                      f"{_vec(g['f'])} * {_vec(c_prev)} + {_vec(g['i'])} * {_vec(g['c_hat'])}\n  = {_vec(c_new)}",
                      np.allclose(c_new, c_t, atol=1e-5)))
        if part.projection_kernel is None:
            lines.append((f"h = o_gate * {part.activation}(c)",
                          f"{_vec(g['o'])} * {part.activation}({_vec(c_new)})\n  = {_vec(h_new)}",
                          np.allclose(h_new, h_t, atol=1e-5)))
        else:  # an LSTM with a projection (proj_size): h has proj_size features
            m = h_new
            h_new = m @ part.projection_kernel
            lines.append((f"h = (o_gate * {part.activation}(c)) @ projection_kernel",
                          f"({_vec(g['o'])} * {part.activation}({_vec(c_new)})) @ projection_kernel\n"
                          f"  = {_vec(m)} @ projection_kernel\n  = {_vec(h_new)}",
                          np.allclose(h_new, h_t, atol=1e-5)))
    elif part.cell_type == "GRU":
        h_new = g["z"] * h_prev + (1 - g["z"]) * g["h_hat"]
        lines.append(("h = z * h_prev + (1 - z) * h_hat",
                      f"{_vec(g['z'])} * {_vec(h_prev)} + (1 - {_vec(g['z'])}) * {_vec(g['h_hat'])}\n"
                      f"  = {_vec(h_new)}", np.allclose(h_new, h_t, atol=1e-5)))
    else:
        h_new = act(g["a"])
        lines.append((f"h = {part.activation}(a)", f"{part.activation}({_vec(g['a'])})\n  = {_vec(h_new)}",
                      np.allclose(h_new, h_t, atol=1e-5)))
    return lines


def _step_table(part, sample):
    names = list(part.gates) + ["h"] + (["c"] if part.c is not None else [])
    head = "".join(f"<th>{html.escape(n)}</th>" for n in ["t", "counted"] + names)
    rows = []
    for t in part.processing_order:
        cls = "" if part.mask[sample, t] else ' class="masked"'
        cells = [str(t), "yes" if part.mask[sample, t] else "no (masked)"]
        cells += [_vec(part.gates[n][sample, t] if n in part.gates else getattr(part, n)[sample, t], 3)
                  for n in names]
        rows.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return (f"<table><caption>Every step of sample {sample}, in the order computed</caption><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def _layer_flags(model, name):
    try:
        layer = model.get_layer(name) if hasattr(model, "get_layer") else model
    except ValueError:
        return ""
    flags = [f"{flag}={getattr(layer, flag)}" for flag in ("return_sequences", "return_state")
             if hasattr(layer, flag)]
    return f" ({', '.join(flags)})" if flags else ""


def _explain_part(model, name, key, part, sample):
    out = [f"<h3>{html.escape(name)} / {html.escape(key)}: {part.cell_type}({part.units})"
           f"{html.escape(_layer_flags(model, name))}</h3>"]
    t = _last_counted_step(part, sample)
    if t is None:
        out.append(f"<p>Every step of sample {sample} is masked: the layer returns its initial state.</p>")
        return "".join(out)
    direction = "" if not part.go_backwards else (
        " This direction reads the sequence backwards, so its last step is the first time step.")
    o_seq = part.outputs[sample]
    state_line = f"h = {_vec(part.h[sample, t])}" + (f"\nc = {_vec(part.c[sample, t])}" if part.c is not None else "")
    out.append(
        f"<p>For sample {sample}, the last step that counted is <code>t = {t}</code>.{direction} "
        f"The output sequence <code>o</code> (what <code>return_sequences=True</code> returns, shape "
        f"<code>{tuple(part.outputs.shape)}</code>) holds <code>h</code> after every step; without "
        f"<code>return_sequences</code> the layer returns only <code>o = h</code> after the last step. "
        f"With <code>return_state=True</code> it also returns the final states:</p>"
        f"<pre>o[{sample}, {t}] = {_vec(o_seq[t])}\n{html.escape(state_line)}</pre>"
    )
    if part.cell_type == "LSTM":
        out.append("<p><code>h</code> equals <code>o</code> at the last step: <code>h</code> is the output. "
                   "<code>c</code> is the LSTM's memory, which the output gate reads through "
                   f"<code>{part.activation}</code>. Note that the <em>output gate</em> (written "
                   "<code>o_gate</code> below) is not the output <code>o</code>.</p>")
    elif part.cell_type == "GRU":
        out.append("<p><code>h</code> equals <code>o</code> at the last step. A GRU has no cell state "
                   "<code>c</code>: it returns <code>[o, h]</code>.</p>")
    else:
        out.append("<p><code>h</code> equals <code>o</code> at the last step; a SimpleRNN has no gates and no "
                   "cell state: it returns <code>[o, h]</code>.</p>")
    out.append(f"<p>The step <code>t = {t}</code>, recomputed from the traced gates "
               f"({html.escape('; '.join(f'{g}: {GATE_DESCRIPTIONS[g]}' for g in part.gates))}):</p>")
    for equation, numbers, ok in _relations(part, sample, t):
        out.append(f"<pre>{html.escape(equation)}\n  = {html.escape(numbers)}</pre><p>{_check_mark(ok)}</p>")
    out.append(_step_table(part, sample))
    return "".join(out)


def build_report(model, x, mask=None, *, sample=0, title=None, source=None, plots=True, model_trace=None) -> str:
    """The report as an HTML string.

    Args:
        model: an rnnlab model (or a recurrent layer).
        x: its input; ``mask`` an optional ``(B, T)`` mask (as for :func:`rnnlab.inspect.trace`).
        sample: the batch row the explanation and the plots show.
        title: the page title (default: the model's name).
        source: a line saying where the model came from (e.g. its file).
        plots: include the plots (needs matplotlib); False leaves them out.
        model_trace: a trace of ``model`` on ``x`` to use instead of tracing again.
    """
    tr = model_trace if model_trace is not None else trace(model, x, mask)
    batch = tr.parts()[0][2].batch_size
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < batch:
        raise ValueError(f"Argument `sample` must be an int in [0, {batch}); received sample={sample!r}.")
    stats = statistics(tr)
    title = title or f"Inside {model.name}"
    from rnnlab.version import __version__

    x_shape = [np.shape(v) for v in x] if isinstance(x, (list, tuple)) else np.shape(x)
    meta = [f"input shape {x_shape}", f"rnnlab {__version__}",
            datetime.datetime.now().strftime("%Y-%m-%d %H:%M")]
    if source:
        meta.insert(0, source)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{html.escape(" · ".join(meta))}</p>',
        "<p>What each recurrent layer of this model computed, step by step: every gate, the hidden state "
        "<code>h</code> and (LSTM) the cell state <code>c</code>, traced from the same run that produced the "
        "model's outputs.</p>",
        "<h2>Model summary</h2>",
        f"<pre>{html.escape(_summary_text(model))}</pre>",
        "<h2>What o, h and c are, for this model</h2>",
        "<p>A recurrent layer reads the sequence one step at a time and carries a state from step to step. "
        "Called with <code>return_state=True</code>, an LSTM returns <code>[o, h, c]</code> and a GRU or "
        "SimpleRNN <code>[o, h]</code>:</p><ul>"
        "<li><b>o</b>, the output: the hidden state after every step (<code>return_sequences=True</code>, shape "
        "<code>(batch, T, units)</code>) or only after the last one (shape <code>(batch, units)</code>);</li>"
        "<li><b>h</b>, the hidden state after the last step: so <code>o == h</code> without "
        "<code>return_sequences</code>, and <code>h == o[:, -1]</code> with it;</li>"
        "<li><b>c</b>, the LSTM's cell state after the last step: its internal memory, from which "
        "<code>h</code> is read (<code>h = o_gate * tanh(c)</code>). A GRU has none.</li></ul>"
        "<p>At a masked step (padding) the layer keeps its state and repeats its previous output; the gates the "
        "cell computed there are discarded (greyed out in the tables).</p>",
    ]
    for name, key, part in tr.parts():
        parts.append(_explain_part(model, name, key, part, sample))
    parts += ["<h2>Statistics</h2>", stats.to_html()]
    if plots:
        parts.append("<h2>Plots</h2>")
        parts.extend(_plots(tr, stats, sample))
    parts.append("</body></html>")
    return "\n".join(parts)


def _plots(tr, stats, sample):
    from rnnlab.inspect import plots as p

    out, drawn = [], 0
    for name, layer in tr.items():
        if drawn >= MAX_PLOTTED_PARTS:
            out.append(f'<p class="note">Further layers are not plotted (the first {MAX_PLOTTED_PARTS} parts '
                       "are).</p>")
            break
        out.append(f"<h3>{html.escape(name)} ({html.escape(layer.class_name)})</h3>")
        if set(layer.parts) == {"forward", "backward"}:
            out.append(_img(p.plot_bidirectional(layer, sample=sample), f"{name}: forward and backward gates"))
            drawn += 2
            continue
        for key, part in layer.parts.items():
            out.append(_img(p.plot_gates(part, sample=sample), f"{name}/{key} gates"))
            out.append(_img(p.plot_states(part, sample=sample), f"{name}/{key} h and c trajectories"))
            drawn += 1
    out.append("<h3>State norms</h3>")
    out.append(_img(p.plot_state_norms(stats), "state-norm growth over time"))
    return out


def write_report(path, model, x, mask=None, **kwargs) -> str:
    """Write :func:`build_report` to ``path`` (UTF-8); returns the path."""
    text = build_report(model, x, mask, **kwargs)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"Cannot write the report to {path!r}: directory {directory!r} does not exist.")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
