"""The script's hooks as plain logic over Forge's processing object (duck-typed, no Forge import).

Order in a generation (FORGE_FACTS 4.3): `setup` and `process` once; per batch `before_process_batch`,
`after_extra_networks_activate` (prompts without LoRA tags; again for hires conds) and
`process_before_every_sampling` before each sampling pass (twice more with hires fix, each time
on a fresh UNet); `postprocess` once at the end. Each pass patches a fresh clone, and the
model is left unpatched after the generation whatever happened.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from lib_couple.attention.couple import RegionSet
from lib_couple.attention.cross_attention import AttentionFn
from lib_couple.attention.joint_attention import trim_text
from lib_couple.errors import CoupleError
from lib_couple.hosts.forge.architectures import model_label, regions_architecture, supported_names
from lib_couple.hosts.forge.networks import Key, network_key
from lib_couple.hosts.forge.patchers import Patched, PatchRequest, patcher_for
from lib_couple.infotext import error_infotext, to_infotext
from lib_couple.memory.attention_cache import AttentionCache, cache_key
from lib_couple.memory.manager import MemoryManager
from lib_couple.params import CoupleParams, params_from_args
from lib_couple.planning import plan_regions, region_negatives
from lib_couple.prompts import strip_extra_networks
from lib_couple.regions import RegionPlan
from lib_couple.tiles import grid_box, tile_prompt
from lib_couple.token_masks import add_fallback

logger = logging.getLogger("forge_couple")


class ForgeServices(Protocol):
    """What the runner needs from Forge beyond the processing object."""

    def encode(
        self, sd_model: Any, line: str, width: int, height: int, negative: bool = False
    ) -> torch.Tensor:
        """One region line's cross-attention conditioning `[1, T, D]` with the model's encoders
        (`negative`: encoded as a negative prompt, which SDXL's conditioning reads)."""
        ...

    def text_tokens(self, sd_model: Any, line: str) -> int | None:
        """A line's real T5 tokens before the host pads it; None where the host cannot tell."""
        ...

    def conditioning_identity(self, sd_model: Any) -> Hashable:
        """What else an encoding depends on: checkpoint, its LoRA state, clip skip."""
        ...

    def interrupt_on_error(self) -> bool: ...

    def attention_function(self) -> AttentionFn:
        """Forge's own attention, so the regions follow the user's --attention-* choice."""
        ...

    def interrupt(self) -> None: ...


@dataclass
class _Patch:
    forge_objects: Any
    original_unet: Any
    patched: Patched


class CoupleRunner:
    """One per script instance (Forge makes one per tab); holds one generation's state."""

    def __init__(
        self,
        services: ForgeServices,
        cache: AttentionCache[torch.Tensor] | None = None,
        manager: MemoryManager | None = None,
    ) -> None:
        """`manager` owns the encoding cache and the per-generation cleanup (the script passes the
        process's one, so both tabs share it); `cache` alone makes a private manager around it."""
        self.services = services
        self.manager = manager if manager is not None else MemoryManager(cache=cache)
        self.cache: AttentionCache[torch.Tensor] = self.manager.cache
        self._reset()

    def _reset(self) -> None:
        self.params = CoupleParams()
        self.error: str | None = None
        self.plans: list[RegionPlan] = []
        self.negative_lines: list[list[str] | None] = []  # per plan: its regions' negative lines
        self.item_sets: list[int] = []
        self.planned_for: tuple[tuple[tuple[str, str], ...], int, int] | None = None
        self.network_state: Key = ()
        self._patches: list[_Patch] = []
        self.tiles_done = 0  # SD Upscale's tiles so far, counted row by row across its batches
        self.source_size: tuple[int, int] | None = None  # img2img's input, before SD Upscale cuts it

    # --- hooks ---

    def setup(self, p: Any, args: Sequence[object]) -> None:
        """Start a generation with the script's arguments (UI or API, in ARG_NAMES order)."""
        self.restore()
        self._reset()
        try:
            self.params = params_from_args(args)
            images = getattr(p, "init_images", None)
            if images and hasattr(images[0], "size"):
                self.source_size = (int(images[0].size[0]), int(images[0].size[1]))
        except CoupleError as error:
            self.params = CoupleParams(enabled=True)
            self._fail(p, self.params, error)

    def process(self, p: Any) -> None:
        """Refuse bad regions before the first batch: an interrupt set here stops Forge before it
        samples, where one set later still leaves the decoded starting noise as an image.

        Forge may load the checkpoint only inside the batch loop, so the model is not judged here:
        an unsupported one is skipped quietly and reported by the later hooks."""
        params = self.params
        if not params.enabled or self.error or _tiling(p, params) or regions_architecture(p.sd_model) is None:
            return
        prompts = getattr(p, "all_prompts", None) or [p.prompt]
        try:
            for prompt in dict.fromkeys(strip_extra_networks(prompt) for prompt in prompts):
                plan = plan_regions(params, prompt, int(p.width), int(p.height))
                if params.strict_coverage:
                    add_fallback(plan.masks, strict=True)  # not otherwise: it would warn twice
        except CoupleError as error:
            self._fail(p, params, error)

    def after_extra_networks_activate(
        self, p: Any, prompts: Sequence[str], extra_network_data: object = None
    ) -> None:
        params = self.params
        if not params.enabled or self.error or _tiling(p, params) or not self._supported(p, params):
            return
        self.network_state = network_key(extra_network_data)
        self._plan(p, params, list(prompts))

    def process_before_every_sampling(self, p: Any, x: torch.Tensor) -> None:
        params = self.params
        if not params.enabled or self.error:
            return
        if params.compatibility and getattr(p, "is_hr_pass", False):
            return
        if _tiling(p, params):
            return  # tile mode has given each tile its own prompt instead (process_batch)
        if getattr(p, "_ad_inner", False):
            return  # ADetailer's inner passes paint a crop: the regions do not apply to it
        row = regions_architecture(p.sd_model) if self._supported(p, params) else None
        if row is None:
            return
        if self.planned_for is None or self.planned_for[0] != _pairs(p, params, list(p.prompts)):
            self._plan(p, params, list(p.prompts))
            if self.error:
                return
        height, width = int(x.shape[-2]) * 8, int(x.shape[-1]) * 8
        trim = row.regions == "dit-joint"  # T5 lines join the joint sequence: drop most pads
        try:
            regions = [
                RegionSet(
                    self._encode(p.sd_model, plan.prompts, width, height, trim=trim),
                    plan.masks,
                    strict=params.strict_coverage,
                    negatives=None
                    if lines is None
                    else self._encode(p.sd_model, lines, width, height, True, trim=trim),
                )
                for plan, lines in zip(self.plans, self.negative_lines, strict=True)
            ]
            forge_objects = p.sd_model.forge_objects
            original = forge_objects.unet
            request = PatchRequest(
                regions,
                self.item_sets,
                self.services.attention_function(),
                self.manager.pool if self.manager.use_pool else None,
                params.joint_controls(),
            )
            patched = patcher_for(row).patch(original, request)
        except CoupleError as error:
            self._fail(p, params, error)
            return
        forge_objects.unet = patched.unet
        self.manager.track_model(patched.unet)
        self._patches.append(_Patch(forge_objects, original, patched))

    def process_batch(self, p: Any) -> None:
        """Tile mode: give each SD Upscale tile of this batch the lines of the regions it holds.

        Runs after LoRA tags are stripped from `p.prompts` and before the conditioning is made.
        """
        params = self.params
        if not params.enabled or self.error or not _tiling(p, params):
            return
        count = len(getattr(p, "init_images", None) or p.prompts)
        width, height = _plan_size(self.source_size or (p.width * params.tile_h, p.height * params.tile_v))
        try:
            prompts = list(p.prompts)
            for item in range(min(count, len(prompts))):
                plan = plan_regions(params, prompts[item], width, height)
                box = grid_box(self.tiles_done + item, params.tile_h, params.tile_v, width, height)
                prompts[item] = tile_prompt(
                    plan.prompts, plan.masks, box, params.tile_threshold, params.tile_replace
                )
                if params.debug:
                    logger.info(
                        "tile %d: %s",
                        (self.tiles_done + item) % (params.tile_h * params.tile_v),
                        prompts[item],
                    )
        except CoupleError as error:
            self._fail(p, params, error)
            return
        self.tiles_done += count
        p.prompts = prompts
        p.extra_generation_params.update(to_infotext(params))

    def postprocess(self, p: Any) -> None:
        self.restore()

    # --- state ---

    def restore(self) -> None:
        """Put back every UNet this runner replaced and drop the per-generation caches."""
        for patch in reversed(self._patches):
            if patch.forge_objects.unet is patch.patched.unet:
                patch.forge_objects.unet = patch.original_unet
            patch.patched.clear()
            self.manager.unpatch(patch.patched.unet)
        self._patches = []
        self.manager.end_generation()

    def _plan(self, p: Any, params: CoupleParams, prompts: list[str]) -> None:
        pairs = _pairs(p, params, prompts)
        key = (pairs, int(p.width), int(p.height))
        if self.planned_for == key:
            return
        try:
            distinct = list(dict.fromkeys(pairs))
            self.plans = [plan_regions(params, prompt, int(p.width), int(p.height)) for prompt, _ in distinct]
            self.item_sets = [distinct.index(pair) for pair in pairs]
        except CoupleError as error:
            self._fail(p, params, error)
            return
        self.negative_lines = []
        for plan, (_, negative) in zip(self.plans, distinct, strict=True):
            lines, message = region_negatives(params, negative, plan)
            self.negative_lines.append(lines)
            if message:
                logger.info("Forge Couple: %s", message)
                p.comment(f"Forge Couple: {message}")
        self.planned_for = key
        p.extra_generation_params.update(to_infotext(params))

    def _encode(
        self,
        sd_model: Any,
        lines: Sequence[str],
        width: int,
        height: int,
        negative: bool = False,
        trim: bool = False,
    ) -> list[torch.Tensor]:
        """The lines' conditionings (cached whole); `trim`: each cut to its real tokens + padding."""
        identity = self.services.conditioning_identity(sd_model)
        kind = ("negative",) if negative else ()  # SDXL encodes a negative prompt its own way

        def encoded(line: str) -> torch.Tensor:
            key = cache_key(identity, self.network_state, line, width, height, *kind)
            cond = self.cache.get_or_compute(
                key, lambda: self.services.encode(sd_model, line, width, height, negative=negative)
            )
            if not trim:
                return cond
            tokens = self.services.text_tokens(sd_model, line)
            return trim_text(cond, tokens, self.params.flux_region_padding)

        return [encoded(line) for line in lines]

    def _supported(self, p: Any, params: CoupleParams) -> bool:
        """Whether the loaded model can be patched; if not, say so once and generate without regions."""
        if regions_architecture(p.sd_model) is not None:
            return True
        self.error = (
            f"Forge Couple supports {supported_names()} models; {model_label(p.sd_model)} is not one, "
            "so this image was generated without regions"
        )
        logger.warning(self.error)
        p.comment(self.error)
        for key in to_infotext(params):
            p.extra_generation_params.pop(key, None)
        return False

    def _fail(self, p: Any, params: CoupleParams, error: CoupleError) -> None:
        self.error = f"Forge Couple: {error}"
        logger.error("%s", error)  # the handler (lib_couple/log.py) names the extension
        for key in to_infotext(params):
            p.extra_generation_params.pop(key, None)
        p.extra_generation_params.update(error_infotext(str(error)))
        p.comment(self.error)
        if self.services.interrupt_on_error():
            self.services.interrupt()


def _pairs(p: Any, params: CoupleParams, prompts: list[str]) -> tuple[tuple[str, str], ...]:
    """Each image's prompt and (with per-region negatives on) negative prompt: what plans depend on."""
    if not params.region_negatives:
        return tuple((prompt, "") for prompt in prompts)
    negatives = list(getattr(p, "negative_prompts", None) or [])
    if len(negatives) != len(prompts):
        negatives = [str(getattr(p, "negative_prompt", "") or "")] * len(prompts)
    return tuple(zip(prompts, map(str, negatives), strict=True))


def _tiling(p: Any, params: CoupleParams) -> bool:
    """Whether tile mode is on for this img2img generation (it has no meaning in txt2img)."""
    return params.use_tile and bool(getattr(p, "init_images", None))


def _plan_size(size: tuple[int, int], longest: int = 256) -> tuple[int, int]:
    """The whole upscaled image's aspect at a small size: tile mode only measures overlaps."""
    width, height = size
    scale = longest / max(width, height, 1)
    return max(8, round(width * scale)), max(8, round(height * scale))
