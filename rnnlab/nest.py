"""Tiny helpers for nested lists/tuples of arrays (Keras's return structures are nested)."""
from __future__ import annotations


def is_nested(x) -> bool:
    return isinstance(x, (list, tuple))


def flatten(x) -> list:
    """Leaves of a nested list/tuple structure, depth first, in order."""
    if is_nested(x):
        out = []
        for item in x:
            out.extend(flatten(item))
        return out
    return [x]


def pack_like(structure, flat):
    """Rebuild ``structure``'s nesting (lists and tuples) from the flat list ``flat``."""
    flat = list(flat)
    pos = 0

    def build(s):
        nonlocal pos
        if is_nested(s):
            return type(s)(build(item) for item in s)
        value = flat[pos]
        pos += 1
        return value

    result = build(structure)
    if pos != len(flat):
        raise ValueError(f"Structure has {pos} leaves but {len(flat)} values were given.")
    return result


def map_structure(fn, x):
    if is_nested(x):
        return type(x)(map_structure(fn, item) for item in x)
    return fn(x)
