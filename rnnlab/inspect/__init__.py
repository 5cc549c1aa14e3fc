"""See inside recurrent layers: per-step gate traces, statistics, plots, an HTML report and streaming.

* :func:`trace` -- every gate, state and mask value of every recurrent layer of a model, step by step;
* :func:`statistics` -- gate saturation, forget-gate means, state-norm growth and unit activity, as tables;
* :func:`plot_gates`, :func:`plot_states`, :func:`plot_bidirectional`, :func:`plot_state_norms` -- matplotlib
  figures (matplotlib is imported only when a plot is drawn);
* :func:`build_report` / :func:`write_report` -- one self-contained HTML page with all of the above;
* :class:`Stream` (``model.stream()``) and ``layer.step(x_t, states)`` -- one time step at a time.

NumPy stays the only requirement; plots and the report's images need matplotlib.
"""
from rnnlab.cells.protocol import record_gate
from rnnlab.inspect.demo import demo_model
from rnnlab.inspect.plots import plot_bidirectional, plot_gates, plot_state_norms, plot_states
from rnnlab.inspect.report import build_report, write_report
from rnnlab.inspect.stats import Table, TraceStatistics, statistics
from rnnlab.inspect.streaming import Stream, stream
from rnnlab.inspect.trace import CellTrace, LayerTrace, ModelTrace, trace

__all__ = ["trace", "record_gate", "ModelTrace", "LayerTrace", "CellTrace", "statistics", "TraceStatistics", "Table",
           "plot_gates", "plot_states", "plot_bidirectional", "plot_state_norms", "build_report", "write_report",
           "demo_model", "Stream", "stream"]
