"""Forge Couple's section of Forge's settings page."""

from __future__ import annotations

from typing import Any

from lib_couple.params import MODES

SECTION = ("forge_couple", "Forge Couple")
FROM_CONFIG = "From config"

# name: (default, label, component kind, component args, info)
OPTIONS: dict[str, tuple[Any, str, str | None, dict[str, Any] | None, str]] = {
    "fc_do_interrupt": (
        True,
        "Interrupt the generation when the regions are invalid",
        None,
        None,
        "otherwise the image is generated without regions; the error is shown either way",
    ),
    "fc_default_mode": (
        FROM_CONFIG,
        "Default mode",
        "radio",
        {"choices": [FROM_CONFIG, *MODES]},
        "the mode the accordion opens in; 'From config' uses the YAML defaults; needs Reload UI",
    ),
    "fc_sync_delay_ms": (
        100,
        "Region editor: delay before an edit is synced to the backend (ms)",
        "slider",
        {"minimum": 0, "maximum": 1000, "step": 10},
        "a sync is also forced before every Generate",
    ),
    "fc_cache_entries": (
        64,
        "Encoded region prompts kept in memory across generations",
        "slider",
        {"minimum": 1, "maximum": 1024, "step": 1},
        "each entry is one line's conditioning",
    ),
}


def option(name: str) -> Any:
    """The current value of a Forge Couple setting (its default outside Forge or before registration)."""
    try:
        from modules import shared
    except ImportError:
        return OPTIONS[name][0]
    return getattr(shared.opts, name, OPTIONS[name][0])


def register() -> None:
    """Add the options when Forge builds its settings page."""
    import gradio as gr
    from modules import script_callbacks, shared

    components = {"radio": gr.Radio, "slider": gr.Slider}

    def add_options() -> None:
        for name, (default, label, kind, args, info) in OPTIONS.items():
            component = components[kind] if kind else None
            entry = shared.OptionInfo(
                default, label, component, args, section=SECTION, category_id="sd"
            ).info(info)
            shared.opts.add_option(name, entry)

    script_callbacks.on_ui_settings(add_options)
