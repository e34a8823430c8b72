"""Forge Couple's Forge script: declares the UI and hands each hook's values to lib_couple."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from modules import script_callbacks, scripts, shared

from lib_couple.config import load_defaults
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge import settings
from lib_couple.hosts.forge.runner import CoupleRunner
from lib_couple.hosts.forge.services import ForgeHostServices
from lib_couple.hosts.forge.temp_folder import ensure_temp_folder
from lib_couple.infotext import fill_absent_keys
from lib_couple.log import setup_logging
from lib_couple.memory.manager import get_memory_manager
from lib_couple.params import MODES, CoupleParams
from lib_couple.ui import build_couple_ui
from lib_couple.ui.couple_ui import build_unavailable_ui

logger = setup_logging()  # Forge gives the root logger no handler: INFO lines need ours
settings.register()

# The process's memory manager owns the encoded region lines, shared by the txt2img and img2img
# instances for the whole session; a newly loaded checkpoint drops them.
MEMORY = get_memory_manager()
CONDITIONING_CACHE = MEMORY.cache
CONDITIONING_CACHE.resize(int(settings.option("fc_cache_entries")))


def _forget_encodings(_sd_model: Any) -> None:
    # Keys hold the checkpoint's identity, so old entries could only waste memory.
    MEMORY.cache.clear()


script_callbacks.on_model_loaded(_forget_encodings)


def _fill_absent_keys(_infotext: str, params: dict[str, Any]) -> None:
    fill_absent_keys(params)


script_callbacks.on_infotext_pasted(_fill_absent_keys)


def _defaults() -> CoupleParams:
    """The YAML defaults, with the settings page's default mode on top."""
    path = getattr(shared.cmd_opts, "forge_couple_config", None)
    try:
        defaults = load_defaults(Path(path) if path else None)
    except CoupleError as error:
        logger.error("%s; using the built-in defaults", error)
        defaults = CoupleParams()
    mode = settings.option("fc_default_mode")
    return replace(defaults, mode=mode) if mode in MODES else defaults


class ForgeCouple(scripts.Script):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.runner = CoupleRunner(ForgeHostServices(), manager=MEMORY)

    def title(self) -> str:
        return "Forge Couple"

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> list[Any]:
        # Forge calls ui() more than once (API defaults, Reload UI): it builds fresh components
        # every time and keeps no generation input on the server.
        # Neo's API calls ui() unguarded, and an exception there kills its setup thread: never raise.
        ensure_temp_folder()  # the mask gallery's pictures go there on Neo
        try:
            couple_ui = build_couple_ui(is_img2img, "i2i" if is_img2img else "t2i", defaults=_defaults())
        except Exception as error:  # whatever broke, the host must keep its UI and API
            logger.exception("Forge Couple: the panel could not be built")
            couple_ui = build_unavailable_ui(f"{type(error).__name__}: {error}")
        self.infotext_fields = couple_ui.infotext_fields
        self.paste_field_names = couple_ui.paste_field_names
        return couple_ui.controls

    def setup(self, p: Any, *args: Any) -> None:
        CONDITIONING_CACHE.resize(int(settings.option("fc_cache_entries")))
        self.runner.setup(p, args)

    def process(self, p: Any, *args: Any) -> None:
        self.runner.process(p)

    def after_extra_networks_activate(self, p: Any, *args: Any, **kwargs: Any) -> None:
        self.runner.after_extra_networks_activate(p, kwargs["prompts"], kwargs.get("extra_network_data"))

    def process_batch(self, p: Any, *args: Any, **kwargs: Any) -> None:
        self.runner.process_batch(p)

    def process_before_every_sampling(self, p: Any, *args: Any, **kwargs: Any) -> None:
        self.runner.process_before_every_sampling(p, kwargs["x"])

    def postprocess(self, p: Any, processed: Any, *args: Any) -> None:
        self.runner.postprocess(p)
