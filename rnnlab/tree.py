"""Keras's ``keras.tree``: functions over nested structures of lists, tuples, namedtuples, dicts and deques.

A structure is a tree whose inner nodes are those containers and whose leaves are everything else (``None``
included, arrays included).  A dict's children come in sorted-key order (an ``OrderedDict``'s in insertion
order); a rebuilt dict keeps the key order of the dict it copies.  Two structures are the same when their nodes
have the same types and lengths at every level (any two dict kinds match when their keys match); two different
namedtuple classes never match.  ``rnnlab.nest`` is the smaller lists-and-tuples version used inside rnnlab.
"""
from __future__ import annotations

import collections
import warnings

_NOT_SAME = "Structures don't have the same nested structure."


class MAP_TO_NONE:
    """Returned by :func:`traverse`'s ``func`` to replace a sub-tree with ``None``."""


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_nested(structure) -> bool:
    """Whether ``structure`` is a container node (list, tuple, namedtuple, dict, deque), not a leaf."""
    return isinstance(structure, (list, tuple, dict, collections.deque))


def _keys(node) -> list:
    """A dict node's keys in flattening order."""
    if isinstance(node, collections.OrderedDict):
        return list(node)
    try:
        return sorted(node)
    except TypeError:
        return list(node)


def _children(node) -> list:
    """``[(path_entry, child), ...]`` of a container node, in flattening order."""
    if isinstance(node, dict):
        return [(key, node[key]) for key in _keys(node)]
    return list(enumerate(node))


def _rebuild(node, values):
    """A container like ``node`` holding ``values`` (in flattening order)."""
    values = list(values)
    if isinstance(node, dict):
        by_key = dict(zip(_keys(node), values))
        items = [(key, by_key[key]) for key in node]  # the original key order
        if isinstance(node, collections.defaultdict):
            return type(node)(node.default_factory, items)
        return type(node)(items)
    if _is_namedtuple(node):
        return type(node)(*values)
    if isinstance(node, collections.deque):
        return collections.deque(values, maxlen=node.maxlen)
    return type(node)(values)


def _same_node(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b)
    return type(a) is type(b) and len(a) == len(b)


def flatten(structure) -> list:
    """The leaves of ``structure``, depth first (``flatten(None) == [None]``, ``flatten(1) == [1]``)."""
    return [leaf for _, leaf in flatten_with_path(structure)]


def flatten_with_path(structure) -> list:
    """``[(path, leaf), ...]``: each path is the tuple of indices and dict keys that leads to its leaf."""
    out = []

    def walk(node, path):
        if is_nested(node):
            for entry, child in _children(node):
                walk(child, path + (entry,))
        else:
            out.append((path, node))

    walk(structure, ())
    return out


def pack_sequence_as(structure, flat_sequence):
    """``flat_sequence``'s items arranged as the leaves of ``structure`` (the inverse of :func:`flatten`)."""
    flat = list(flat_sequence)
    position = 0

    def build(node):
        nonlocal position
        if is_nested(node):
            return _rebuild(node, [build(child) for _, child in _children(node)])
        if position >= len(flat):
            raise ValueError(f"Argument `flat_sequence` has {len(flat)} items, fewer than the leaves of "
                             f"`structure`; received structure={structure!r}.")
        position += 1
        return flat[position - 1]

    packed = build(structure)
    if position != len(flat):
        raise ValueError(f"Argument `flat_sequence` has {len(flat)} items but `structure` has {position} leaves.")
    return packed


def map_structure(func, *structures, none_is_leaf=True):
    """``func`` applied to the leaves at each position of ``structures`` (which must all be the same structure),
    arranged as the first one.  With ``none_is_leaf=False`` a ``None`` stays ``None`` and ``func`` skips it."""
    if not structures:
        raise ValueError("Must provide at least one structure")

    def walk(nodes):
        first = nodes[0]
        if first is None and not none_is_leaf:
            if any(node is not None for node in nodes):
                raise ValueError(_NOT_SAME)
            return None
        if is_nested(first):
            if not all(is_nested(node) and _same_node(first, node) for node in nodes):
                raise ValueError(_NOT_SAME)
            columns = [[child for _, child in _children(node)] for node in nodes]
            if any(isinstance(node, dict) for node in nodes):  # match dict children by key, not position
                columns = [[node[key] for key, _ in _children(first)] for node in nodes]
            return _rebuild(first, [walk(list(group)) for group in zip(*columns)])
        if any(is_nested(node) for node in nodes[1:]):
            raise ValueError(_NOT_SAME)
        return func(*nodes)

    return walk(list(structures))


def map_structure_up_to(shallow_structure, func, *structures):
    """``func`` applied where ``shallow_structure`` has leaves; what ``structures`` nest below those points is
    passed to ``func`` whole.  As in Keras 3.15, a ``None`` in ``shallow_structure`` counts as an empty node, not a
    leaf, so it is refused unless the structures hold ``None`` there too."""
    if not structures:
        raise ValueError("Must provide at least one structure")

    def walk(shallow, nodes):
        if shallow is None:
            raise ValueError(_NOT_SAME)
        if not is_nested(shallow):
            return func(*nodes)
        if not all(is_nested(node) and _same_node(shallow, node) for node in nodes):
            raise ValueError(_NOT_SAME)
        keys = [entry for entry, _ in _children(shallow)]
        return _rebuild(shallow, [walk(child, [node[key] for node in nodes])
                                  for key, (_, child) in zip(keys, _children(shallow))])

    return walk(shallow_structure, list(structures))


def assert_same_structure(a, b, check_types=None):
    """Raise ``ValueError`` unless ``a`` and ``b`` are the same structure.  ``check_types`` is deprecated in
    Keras and has no effect there either (a ``DeprecationWarning`` says so)."""
    if check_types is not None:
        warnings.warn("The `check_types` argument is deprecated and no longer has any effect, please remove.",
                      DeprecationWarning, stacklevel=2)
    map_structure(lambda *_: None, a, b)


def assert_same_paths(a, b):
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same leaf paths (container types may differ)."""
    a_paths = {path for path, _ in flatten_with_path(a)}
    b_paths = {path for path, _ in flatten_with_path(b)}
    if a_paths != b_paths:
        raise ValueError(f"`a` and `b` don't have the same paths. Paths in `a` missing in `b`: "
                         f"{a_paths - b_paths}; paths in `b` missing in `a`: {b_paths - a_paths}.")


def traverse(func, structure, top_down=True):
    """``structure`` with each sub-tree replaced by ``func(sub_tree)`` where that is not ``None``.

    Top down, ``func`` sees a node before its children and a non-``None`` answer stops the descent; bottom up, it
    sees each node rebuilt from its traversed children.  Return :class:`MAP_TO_NONE` to put ``None`` in a place.
    """
    def traverse_children(node):
        if not is_nested(node):
            return node
        return _rebuild(node, [traverse(func, child, top_down) for _, child in _children(node)])

    if top_down:
        result = func(structure)
        if result is None:
            return traverse_children(structure)
    else:
        structure = traverse_children(structure)
        result = func(structure)
        if result is None:
            return structure
    return None if result is MAP_TO_NONE else result


def lists_to_tuples(structure):
    """``structure`` with every list turned into a tuple."""
    return traverse(lambda node: tuple(node) if isinstance(node, list) else None, structure, top_down=False)


def map_shape_structure(func, structure):
    """``func`` applied to each shape in ``structure``: a list or tuple holding only ints and ``None`` is a
    shape (a leaf) rather than a container."""
    def walk(node):
        if isinstance(node, (list, tuple)) and all(isinstance(entry, (int, type(None))) for entry in node):
            return func(node)
        if is_nested(node):
            return _rebuild(node, [walk(child) for _, child in _children(node)])
        return func(node)

    return walk(structure)
