"""Which component each `forge_couple_*` infotext key restores into, in Forge's terms.

Forge pastes `(component, key)` pairs by `params.get(key)` coerced to the component's value type,
or calls `key(params)` when the key is a callable. Its Send-to buttons copy only the pairs whose
key is a string named in `paste_field_names`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr

from lib_couple.infotext import ENABLED_KEY, KEYS, from_infotext

InfotextKey = str | Callable[[Mapping[str, Any]], Any]


def restore_enabled(params: Mapping[str, Any]) -> bool:
    """Only `forge_couple: True` enables; `ERROR` (refused regions) or no key at all disables.

    A plain key would paste `bool("ERROR") == True`.
    """
    value = params.get(ENABLED_KEY)
    return value is not None and from_infotext({ENABLED_KEY: str(value)}).get("enabled") is True


def enabled_text(enabled: bool) -> str:
    """The Enable checkbox as the text its Send-to mirror carries."""
    return "True" if enabled else "False"


def enabled_from_text(text: str | None) -> bool:
    return restore_enabled({ENABLED_KEY: text}) if text else False


def build_infotext_fields(
    components: Mapping[str, gr.components.Component], enabled_mirror: gr.components.Component
) -> list[tuple[gr.components.Component, InfotextKey]]:
    """One pair per key of the infotext table.

    The Enable checkbox restores through `restore_enabled`; a hidden text mirror holds the
    string key, because Send-to matches pairs by string key only.
    """
    fields: list[tuple[gr.components.Component, InfotextKey]] = []
    for name, key in KEYS:
        if name == "enabled":
            fields.append((components[name], restore_enabled))
            fields.append((enabled_mirror, key))
        else:
            fields.append((components[name], key))
    return fields


def paste_field_names() -> list[str]:
    return [key for _, key in KEYS]
