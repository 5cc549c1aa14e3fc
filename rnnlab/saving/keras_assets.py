"""The ``assets/`` folder of a ``.keras`` archive: files a layer keeps outside its weights.

Keras 3 gives every object of the model tree (the same paths as the weights, e.g.
``layers/text_vectorization`` and ``layers/text_vectorization/_lookup_layer``) a folder
``assets/<path>/`` and calls its ``save_assets(dir)`` when writing and ``load_assets(dir)`` when reading.  The
lookup layers keep their vocabulary there as ``vocabulary.txt``.  rnnlab does the same: writing collects what
each layer's ``save_assets`` puts into a temporary folder; reading gives each layer a temporary folder holding
only the plain files of its own ``assets/<path>/`` (names without folders, nothing executed).
"""
from __future__ import annotations

import os
import tempfile

from rnnlab.saving.keras_weights_h5 import keras_weight_entries

ASSETS_DIR = "assets"


def _asset_owners(model):
    return [(path, obj) for path, obj, _ in keras_weight_entries(model)
            if callable(getattr(obj, "save_assets", None)) or callable(getattr(obj, "load_assets", None))]


def asset_members(model) -> dict[str, bytes]:
    """``{archive member name: bytes}`` of every asset the model's layers write."""
    members = {}
    for path, obj in _asset_owners(model):
        if not callable(getattr(obj, "save_assets", None)):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            obj.save_assets(tmp)
            for name in sorted(os.listdir(tmp)):
                full = os.path.join(tmp, name)
                if os.path.isfile(full):
                    with open(full, "rb") as f:
                        members["/".join(p for p in (ASSETS_DIR, path, name) if p)] = f.read()
    return members


def load_asset_members(model, members: dict[str, bytes], source: str) -> None:
    """Give each layer with ``load_assets`` the files of its ``assets/<path>/`` folder (``members`` maps archive
    member names to bytes)."""
    for path, obj in _asset_owners(model):
        if not callable(getattr(obj, "load_assets", None)):
            continue
        prefix = "/".join(p for p in (ASSETS_DIR, path) if p) + "/"
        own = {name[len(prefix):]: data for name, data in members.items() if name.startswith(prefix)}
        own = {name: data for name, data in own.items() if name and "/" not in name and "\\" not in name
               and name not in (".", "..")}
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in own.items():
                with open(os.path.join(tmp, name), "wb") as f:
                    f.write(data)
            try:
                obj.load_assets(tmp)
            except (TypeError, ValueError, RuntimeError, UnicodeError) as exc:
                raise ValueError(f"{source}: cannot load the assets of layer {obj.name!r} ({prefix}): {exc}") \
                    from None
