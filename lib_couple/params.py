"""The script's arguments as one typed model, in the peer extension's positional order.

The UI returns its controls in this order, the API's `alwayson_scripts["forge couple"]["args"]`
uses it, and the infotext keys are derived from the same fields, so none of them can drift.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from lib_couple import limits
from lib_couple.attention.joint_attention import (
    BLOCK_CHOICES,
    IMAGE_ATTENTION,
    BlockChoice,
    ImageAttention,
    JointControls,
)
from lib_couple.errors import CoupleError
from lib_couple.prompts import COMMON_SYNTAXES, CommonSyntax
from lib_couple.regions import BACKGROUNDS, DIRECTIONS, Background, Direction

Mode = Literal["Basic", "Advanced", "Mask"]
MODES: tuple[Mode, ...] = ("Basic", "Advanced", "Mask")
DEFAULT_MAPPING: tuple[tuple[float, ...], ...] = ((0.0, 0.5, 0.0, 1.0, 1.0), (0.5, 1.0, 0.0, 1.0, 1.0))


_JOINT = JointControls()  # the Flux controls' defaults are the engine's
DEFAULT_REGION_PADDING = 16  # T5 pads kept after a region line's tokens (docs/FLUX.md)


def _default_mapping() -> list[Any]:
    return [list(row) for row in DEFAULT_MAPPING]


@dataclass(frozen=True)
class CoupleParams:
    """Every control of the Forge Couple accordion; field order is the API's argument order.

    The first 17 fields are the peer's, in its order; fields after them are ours and optional.
    The `flux_*` fields matter only on Flux / Chroma (JointControls, docs/FLUX.md).
    """

    enabled: bool = False
    compatibility: bool = True  # skip the couple in the hires-fix pass
    mode: Mode = "Basic"
    separator: str = ""
    direction: Direction = "Horizontal"
    background: Background = "None"
    background_weight: float = 0.5
    mapping: list[Any] = field(default_factory=_default_mapping)  # Advanced rows or Mask layers
    common_parser: CommonSyntax = "{ }"
    common_debug: bool = False
    def_in_prompt: bool = True
    use_tile: bool = False
    tile_h: int = 5
    tile_v: int = 4
    tile_threshold: float = 0.75
    tile_replace: str = ""
    debug: bool = False
    strict_coverage: bool = False
    region_negatives: bool = False  # a negative line per region for its uncond rows
    flux_blocks: BlockChoice = _JOINT.blocks
    flux_block_start: int = _JOINT.block_range[0]  # with flux_blocks "range": doubles then singles
    flux_block_stop: int = _JOINT.block_range[1]
    flux_steps: float = _JOINT.steps
    flux_base_ratio: float = _JOINT.base_ratio
    flux_image_attention: ImageAttention = _JOINT.image_attention
    flux_global_everywhere: bool = _JOINT.global_everywhere
    flux_region_padding: int = DEFAULT_REGION_PADDING

    def joint_controls(self) -> JointControls:
        """The Flux controls as the engine takes them (the range only where it is chosen)."""
        return JointControls(
            blocks=self.flux_blocks,
            block_range=(
                (self.flux_block_start, self.flux_block_stop)
                if self.flux_blocks == "range"
                else _JOINT.block_range
            ),
            steps=self.flux_steps,
            base_ratio=self.flux_base_ratio,
            image_attention=self.flux_image_attention,
            global_everywhere=self.flux_global_everywhere,
        )


ARG_NAMES: tuple[str, ...] = tuple(f.name for f in fields(CoupleParams))
# The limits of the number and text arguments, named as the API names them.
NUMBER_LIMITS = {
    name: replace(limit, field=f"argument {name}")
    for name, limit in (
        ("background_weight", limits.BACKGROUND_WEIGHT),
        ("tile_threshold", limits.TILE_THRESHOLD),
        ("tile_h", limits.TILES),
        ("tile_v", limits.TILES),
        ("flux_block_start", limits.FLUX_BLOCK),
        ("flux_block_stop", limits.FLUX_BLOCK),
        ("flux_steps", limits.FLUX_SHARE),
        ("flux_base_ratio", limits.FLUX_BASE_RATIO),
        ("flux_region_padding", limits.FLUX_REGION_PADDING),
    )
}
TEXT_LIMITS = {
    name: replace(limit, field=f"argument {name}")
    for name, limit in (("separator", limits.SEPARATOR), ("tile_replace", limits.TILE_REPLACE))
}
PEER_ARG_COUNT = 17


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise CoupleError(f"argument {name} must be true or false, got {value!r:.60}")


def _choice(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise CoupleError(
            f"argument {name} must be one of {', '.join(map(repr, choices))}, got {value!r:.60}"
        )
    return value


def parse_mapping_value(value: object) -> list[Any]:
    """A mapping as the API, the UI's JSON text or the infotext gives it: a list, or its JSON."""
    if isinstance(value, str):
        limits.MAPPING_JSON.check(value)
        limits.check_json_depth(value, "the mapping")
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as error:
            raise CoupleError(
                f"the mapping is not valid JSON ({error.msg} at character {error.pos})"
            ) from None
    if value is None:
        return []
    if not isinstance(value, list):
        raise CoupleError(f"the mapping must be a list of regions, got {type(value).__name__}")
    if len(value) > limits.REGIONS.high:
        raise CoupleError(f"the mapping has {len(value)} regions; the limit is {limits.REGIONS.high}")
    limits.check_nesting(value, "the mapping")
    return value


def params_from_args(args: Sequence[object]) -> CoupleParams:
    """Validate positional script arguments (UI or API); missing trailing ones keep defaults.

    `None` in an optional slot (the peer's API allows it for direction, background and weight)
    also means the default.
    """
    if len(args) > len(ARG_NAMES):
        raise CoupleError(f"Forge Couple takes at most {len(ARG_NAMES)} arguments, got {len(args)}")
    defaults = CoupleParams()
    given = {name: value for name, value in zip(ARG_NAMES, args, strict=False) if value is not None}
    values: dict[str, Any] = {}
    for name, value in given.items():
        default = getattr(defaults, name)
        if name == "mode":
            values[name] = _choice(name, value, MODES)
        elif name == "direction":
            values[name] = _choice(name, value, DIRECTIONS)
        elif name == "background":
            values[name] = _choice(name, value, BACKGROUNDS)
        elif name == "common_parser":
            values[name] = _choice(name, value, COMMON_SYNTAXES)
        elif name == "flux_blocks":
            values[name] = _choice(name, value, BLOCK_CHOICES)
        elif name == "flux_image_attention":
            values[name] = _choice(name, value, IMAGE_ATTENTION)
        elif name == "mapping":
            values[name] = parse_mapping_value(value)
        elif isinstance(default, bool):
            values[name] = _bool(name, value)
        elif name in NUMBER_LIMITS:
            number = NUMBER_LIMITS[name]
            values[name] = number.check_int(value) if number.whole else number.check(value)
        elif name in TEXT_LIMITS:
            values[name] = TEXT_LIMITS[name].check(value)
    params = replace(defaults, **values)
    _check_block_range(params)
    return params


def _check_block_range(params: CoupleParams) -> None:
    """With flux_blocks "range" the range must hold a block (else it is not used)."""
    start, stop = params.flux_block_start, params.flux_block_stop
    if params.flux_blocks == "range" and start >= stop:
        raise CoupleError(
            f"arguments flux_block_start and flux_block_stop must give a range with start below stop; "
            f"got {start} and {stop}"
        )


def params_to_args(params: CoupleParams) -> list[Any]:
    return [getattr(params, name) for name in ARG_NAMES]
