"""A model's stored compile settings (``compile_config`` in a ``.keras`` file, ``training_config`` in a legacy
``.h5``), applied when rnnlab has the optimizer and the loss they name."""
from __future__ import annotations

import warnings

from rnnlab import optimizers

__all__ = ["compile_from_config"]


def compile_from_config(model, compile_config, source="the file"):
    """Compile ``model`` from a stored compile config when rnnlab knows its optimizer and loss.

    Anything rnnlab cannot reproduce leaves the model uncompiled, with a warning; loading never fails here.
    """
    if not isinstance(compile_config, dict):
        return
    optimizer, loss = compile_config.get("optimizer"), compile_config.get("loss")
    if loss is None or optimizer is None:
        return
    try:
        opt = optimizers.get(optimizer)
        model.compile(optimizer=opt, loss=_loss_identifier(loss), loss_weights=compile_config.get("loss_weights"))
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
