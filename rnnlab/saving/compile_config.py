"""A model's stored compile settings (``compile_config`` in a ``.keras`` file, ``training_config`` in a legacy
``.h5``), applied when rnnlab has the optimizer and the loss they name."""
from __future__ import annotations

import warnings

from rnnlab import losses as losses_module
from rnnlab import metrics as metrics_module
from rnnlab import optimizers

__all__ = ["compile_from_config", "keras_compile_config"]


class NotStorable(ValueError):
    """A compile argument that a file cannot name (a user's function or class)."""


def keras_compile_config(model):
    """The ``compile_config`` Keras 3 writes in a ``.keras`` file's ``config.json`` for a compiled ``model``: the
    optimizer (with its schedule), loss, loss weights, metrics and the other compile arguments, as Keras
    serializes them; None for an uncompiled model.  Raises :class:`NotStorable` naming an argument that only the
    program can provide (a user's loss, metric or learning-rate function)."""
    args = getattr(model, "_compile_config", None)
    if not getattr(model, "_compiled", False) or not args:
        return None
    optimizer = args["optimizer"]
    if callable(optimizer.get_config().get("learning_rate")):
        raise NotStorable(f"the learning rate of optimizer {optimizer.name!r} is a Python callable")
    return {"optimizer": optimizers.serialize(optimizer), "loss": _stored(args["loss"], "loss"),
            "loss_weights": args["loss_weights"], "metrics": _stored(args["metrics"], "metrics"),
            "weighted_metrics": _stored(args["weighted_metrics"], "weighted_metrics"),
            "run_eagerly": args["run_eagerly"], "steps_per_execution": args["steps_per_execution"],
            "jit_compile": args["jit_compile"]}


def _stored(value, argument):
    """A loss or metric compile argument as Keras's ``serialize_keras_object`` writes it: names as given,
    rnnlab's own loss and metric objects and functions by their Keras configs, nests kept."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_stored(v, argument) for v in value]
    if isinstance(value, dict):
        return {k: _stored(v, argument) for k, v in value.items()}
    if isinstance(value, losses_module.Loss) and losses_module._CLASS_NAMES.get(type(value).__name__) is type(value):
        return {"module": "keras.losses", "class_name": type(value).__name__, "config": value.get_config(),
                "registered_name": None}
    if isinstance(value, metrics_module.Metric) or callable(value):
        try:
            return metrics_module.serialize(value) if argument != "loss" else _loss_function(value)
        except (TypeError, ValueError):
            pass
    raise NotStorable(f"compile argument `{argument}` holds {value!r}, which only the program can provide")


def _loss_function(fn):
    if losses_module._FUNCTIONS_BY_NAME.get(getattr(fn, "__name__", None)) is not fn:
        raise TypeError(fn)
    return {"module": "keras.losses", "class_name": "function", "config": fn.__name__, "registered_name": "function"}


def compile_from_config(model, compile_config, source="the file"):
    """Compile ``model`` from a stored compile config when rnnlab knows its optimizer and loss.

    Anything rnnlab cannot reproduce leaves the model uncompiled, with a warning; loading never fails here.
    Metrics rnnlab lacks are left out, with a warning naming them, and the model is compiled without them.
    """
    if not isinstance(compile_config, dict):
        return
    optimizer, loss = compile_config.get("optimizer"), compile_config.get("loss")
    if loss is None or optimizer is None:
        return
    stored_metrics = {key: compile_config.get(key) for key in ("metrics", "weighted_metrics")}
    try:
        metrics = {key: _metric_identifiers(value) for key, value in stored_metrics.items()}
    except (ValueError, TypeError, KeyError) as exc:
        warnings.warn(f"{source}: the stored metrics could not be restored ({type(exc).__name__}: {exc}); the "
                      "model is compiled without them.", stacklevel=3)
        metrics = {}
    try:
        opt = optimizers.get(optimizer)
        model.compile(optimizer=opt, loss=_loss_identifier(loss), loss_weights=compile_config.get("loss_weights"),
                      **metrics)
    except Exception as exc:  # noqa: BLE001 - compiling is optional; report and carry on
        warnings.warn(f"{source}: the stored compile config could not be applied ({type(exc).__name__}: {exc}); "
                      "the model is loaded uncompiled.", stacklevel=3)


def _loss_identifier(loss):
    if isinstance(loss, dict) and isinstance(loss.get("class_name"), str):
        return {"class_name": loss["class_name"], "config": {k: v for k, v in (loss.get("config") or {}).items()
                                                              if k not in ("dtype",)}}
    if isinstance(loss, list):
        return [_loss_identifier(v) for v in loss]
    if isinstance(loss, dict):
        return {k: _loss_identifier(v) for k, v in loss.items()}
    return loss


def _metric_identifiers(value):
    """Stored metrics as ``compile`` takes them: names stay names, ``{"class_name", "config"}`` become metric
    objects (unknown ones raise ``ValueError``, checked here rather than half-way through ``compile``)."""
    if value is None or isinstance(value, str):
        if isinstance(value, str):
            metrics_module.get(value)
        return value
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):
        cls = getattr(metrics_module, value["class_name"], None)
        if not (isinstance(cls, type) and issubclass(cls, metrics_module.Metric)):
            raise ValueError(f"rnnlab has no metric {value['class_name']!r}")
        return cls.from_config(dict(value.get("config") or {}))
    if isinstance(value, (list, tuple)):
        return [_metric_identifiers(v) for v in value]
    if isinstance(value, dict):
        return {k: _metric_identifiers(v) for k, v in value.items()}
    raise ValueError(f"unreadable metric entry {value!r}")
