"""Fake `modules.*` packages with the pieces of Forge's API the script imports (FORGE_FACTS 4.1-4.7)."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lib_couple.attention.cross_attention import multihead_attention

ROOT = Path(__file__).resolve().parents[2]


class OptionInfo:
    def __init__(
        self,
        default: Any = None,
        label: str = "",
        component: Any = None,
        component_args: Any = None,
        onchange: Any = None,
        section: Any = None,
        category_id: Any = None,
    ) -> None:
        self.default, self.label, self.component, self.component_args = (
            default,
            label,
            component,
            component_args,
        )
        self.section, self.category_id, self.comment = section, category_id, ""

    def info(self, text: str) -> OptionInfo:
        self.comment = text
        return self


class Options:
    def __init__(self) -> None:
        self.data_labels: dict[str, OptionInfo] = {}

    def add_option(self, key: str, info: OptionInfo) -> None:
        self.data_labels[key] = info
        setattr(self, key, info.default)


class State:
    def __init__(self) -> None:
        self.interrupted = False

    def interrupt(self) -> None:
        self.interrupted = True


class Script:
    """modules.scripts.Script: hooks default to doing nothing."""

    def __init__(self) -> None:
        self.infotext_fields: list[Any] | None = None
        self.paste_field_names: list[str] | None = None


class SdConditioning(list):  # type: ignore[type-arg]
    def __init__(
        self,
        prompts: Any,
        is_negative_prompt: bool = False,
        width: Any = None,
        height: Any = None,
        copy_from: Any = None,
        distilled_cfg_scale: Any = None,
    ) -> None:
        super().__init__(prompts)
        self.is_negative_prompt, self.width, self.height = is_negative_prompt, width, height


@contextmanager
def fake_forge(cmd_opts: dict[str, Any] | None = None) -> Iterator[types.SimpleNamespace]:
    """Install fake `modules` packages, yield handles to them, and remove them afterwards."""
    settings_callbacks: list[Callable[[], None]] = []
    package = types.ModuleType("modules")
    package.__path__ = []
    scripts = types.ModuleType("modules.scripts")
    scripts.Script = Script  # type: ignore[attr-defined]
    scripts.AlwaysVisible = object()  # type: ignore[attr-defined]
    shared = types.ModuleType("modules.shared")
    shared.opts = Options()  # type: ignore[attr-defined]
    shared.state = State()  # type: ignore[attr-defined]
    shared.cmd_opts = types.SimpleNamespace(**(cmd_opts or {}))  # type: ignore[attr-defined]
    shared.OptionInfo = OptionInfo  # type: ignore[attr-defined]
    callbacks = types.ModuleType("modules.script_callbacks")
    callbacks.on_ui_settings = settings_callbacks.append  # type: ignore[attr-defined]
    model_loaded_callbacks: list[Callable[[Any], None]] = []
    callbacks.on_model_loaded = model_loaded_callbacks.append  # type: ignore[attr-defined]
    # Forge calls these with (prompt text, parsed params) before a paste reads the params.
    infotext_pasted_callbacks: list[Callable[[str, dict[str, Any]], None]] = []
    callbacks.on_infotext_pasted = infotext_pasted_callbacks.append  # type: ignore[attr-defined]
    prompt_parser = types.ModuleType("modules.prompt_parser")
    prompt_parser.SdConditioning = SdConditioning  # type: ignore[attr-defined]
    backend = types.ModuleType("backend")
    backend.__path__ = []
    attention = types.ModuleType("backend.attention")
    attention.attention_function = multihead_attention  # type: ignore[attr-defined]
    fakes = {
        "backend": backend,
        "backend.attention": attention,
        "modules": package,
        "modules.scripts": scripts,
        "modules.shared": shared,
        "modules.script_callbacks": callbacks,
        "modules.prompt_parser": prompt_parser,
    }
    with installed(fakes):
        yield types.SimpleNamespace(
            scripts=scripts,
            shared=shared,
            settings_callbacks=settings_callbacks,
            model_loaded_callbacks=model_loaded_callbacks,
            infotext_pasted_callbacks=infotext_pasted_callbacks,
            script=load_script(),
        )


@contextmanager
def installed(fakes: dict[str, types.ModuleType]) -> Iterator[None]:
    """Put fake modules in `sys.modules` for the block, then restore what was there."""
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def api_default_script_args(scripts: list[Any]) -> list[object]:
    """The hosts' `Api.init_default_script_args` (`modules/api/api.py`, the same on Forge and Neo):
    every script's `ui()` called twice inside one `gr.Blocks`, with no guard. Neo runs it while
    its API is set up, so an exception there ends that setup; Forge runs it at the first request."""
    import gradio as gr

    values: list[object] = []
    with gr.Blocks():
        for script in scripts:
            if script.ui(script.is_img2img):
                values.extend(control.value for control in script.ui(script.is_img2img))
    return values


def load_script() -> types.ModuleType:
    """Import scripts/forge_couple.py the way Forge does: by path, as its own module."""
    spec = importlib.util.spec_from_file_location("forge_couple_script", ROOT / "scripts" / "forge_couple.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
