"""Parsing a model config's JSON text from a file, within limits no real config comes near.

The JSON of a model's config (``config.json`` in a ``.keras`` archive, the ``model_config`` attribute of a
legacy ``.h5``) grows with its layers: a few hundred values per layer, a few megabytes for the largest
models.  A hostile file can pack tens of millions of values into a few hundred kilobytes that compress well
(``[{},{},...]``), each becoming a Python object.  So before parsing, the text is bounded in bytes
(:data:`MAX_CONFIG_BYTES`) and in values (:data:`MAX_CONFIG_VALUES`, counted from the JSON separators
without building anything); too deep a nesting is refused as such.
"""
from __future__ import annotations

import json

__all__ = ["MAX_CONFIG_BYTES", "MAX_CONFIG_VALUES", "parse_config_json"]

#: The largest config text read (bytes); a 1,000-layer model's config is about 2 MB.
MAX_CONFIG_BYTES = 64 * 1024 * 1024
#: The most JSON values (objects, arrays, and items separated by commas) a config may hold; a layer takes
#: about 100, so this is some 20,000 layers.
MAX_CONFIG_VALUES = 2_000_000


def parse_config_json(data, what):
    """The JSON value in ``data`` (bytes or str); ``what`` names it in the ValueError for anything wrong."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > MAX_CONFIG_BYTES:
        raise ValueError(f"{what} is {len(data):,} bytes, more than any model config ({MAX_CONFIG_BYTES:,}).")
    values = data.count(b"{") + data.count(b"[") + data.count(b",")
    if values > MAX_CONFIG_VALUES:
        raise ValueError(f"{what} holds about {values:,} JSON values, more than any model config "
                         f"({MAX_CONFIG_VALUES:,}).")
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"{what} is not valid JSON ({exc}).") from None
    except RecursionError:
        raise ValueError(f"{what} is nested too deeply for a model config.") from None
