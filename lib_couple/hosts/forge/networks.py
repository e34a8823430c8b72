"""What Forge's extra networks (LoRA tags) add to a region encoding's cache key.

Forge hands `after_extra_networks_activate` its `extra_network_data`: `{network name:
[ExtraNetworkParams, ...]}`, each params object holding a tag's arguments as `items` (strings,
such as `["my_lora", "0.8"]`) and their parsed `positional` / `named`. The class has no
`__repr__`, so its repr is an object address, which a later object may reuse after this one is
freed: the key is built from the values instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

_MAX_DEPTH = 8  # Forge's data is three levels deep; anything deeper is not Forge's shape
_unknown = itertools.count()

Key = tuple[object, ...] | str | int | float | bool | None


def network_key(data: object) -> Key:
    """A key of plain values (a stable repr) that differs whenever the networks or their
    parameters differ; a value of no known shape gets a key of its own, so it never shares
    an encoding."""
    return _value(data, 0)


def _value(data: object, depth: int) -> Key:
    if data is None or isinstance(data, str | int | float | bool):
        return data
    if depth < _MAX_DEPTH:
        if isinstance(data, Mapping):
            return tuple((str(name), _value(value, depth + 1)) for name, value in data.items())
        if isinstance(data, list | tuple):
            return tuple(_value(item, depth + 1) for item in data)
        items = getattr(data, "items", None)
        if isinstance(items, list | tuple):  # an ExtraNetworkParams
            return (
                "params",
                _value(items, depth + 1),
                _value(getattr(data, "positional", ()), depth + 1),
                _value(getattr(data, "named", {}), depth + 1),
            )
    return ("unknown", next(_unknown))
