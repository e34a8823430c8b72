"""Infotext: the `forge_couple_*` keys, and the parameters text Forge writes under an image.

One table maps fields of CoupleParams to the peer's keys, so writing and pasting agree.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from lib_couple.attention.joint_attention import BLOCK_CHOICES, IMAGE_ATTENTION
from lib_couple.errors import CoupleError
from lib_couple.limits import INFOTEXT
from lib_couple.params import NUMBER_LIMITS, CoupleParams, parse_mapping_value

logger = logging.getLogger("forge_couple")

ENABLED_KEY = "forge_couple"
ERROR_VALUE = "ERROR"

# (field, infotext key), in the order the peer writes them.
KEYS: tuple[tuple[str, str], ...] = (
    ("enabled", ENABLED_KEY),
    ("compatibility", "forge_couple_compatibility"),
    ("mode", "forge_couple_mode"),
    ("separator", "forge_couple_separator"),
    ("direction", "forge_couple_direction"),
    ("mapping", "forge_couple_mapping"),
    ("background", "forge_couple_background"),
    ("background_weight", "forge_couple_background_weight"),
    ("common_parser", "forge_couple_common_parser"),
    ("def_in_prompt", "forge_couple_def_in_prompt"),
    ("strict_coverage", "forge_couple_strict_coverage"),
    ("region_negatives", "forge_couple_region_negatives"),
)
# Ours, written only where they differ from the default (so other models' infotext is the peer's).
FLUX_KEYS: tuple[tuple[str, str], ...] = tuple(
    (name, f"forge_couple_{name}")
    for name in (
        "flux_blocks",
        "flux_block_start",
        "flux_block_stop",
        "flux_steps",
        "flux_base_ratio",
        "flux_image_attention",
        "flux_global_everywhere",
        "flux_region_padding",
    )
)
KEYS += FLUX_KEYS
FIELD_OF_KEY = {key: name for name, key in KEYS}
# The text fields that take one of a few values: anything else pasted is not restored.
CHOICES: dict[str, tuple[str, ...]] = {"flux_blocks": BLOCK_CHOICES, "flux_image_attention": IMAGE_ATTENTION}


def _written_fields(params: CoupleParams) -> list[str]:
    """The peer writes direction only in Basic, the mapping only in Advanced, no background there."""
    skip = {"direction"} if params.mode != "Basic" else set()
    skip |= {"mapping"} if params.mode != "Advanced" else {"background", "background_weight"}
    skip |= {name for name in ("strict_coverage", "region_negatives") if not getattr(params, name)}
    defaults = CoupleParams()
    skip |= {name for name, _ in FLUX_KEYS if getattr(params, name) == getattr(defaults, name)}
    return [name for name, _ in KEYS if name not in skip]


def to_infotext(params: CoupleParams) -> dict[str, Any]:
    """The extra generation parameters of a generation that used these params."""
    keys = dict(KEYS)
    result: dict[str, Any] = {}
    for name in _written_fields(params):
        value = getattr(params, name)
        if name == "separator":
            value = value.replace("\n", "\\n")
            if value != value.strip():  # the parameters line strips unquoted values
                value = json.dumps(value)
        elif name == "mapping":
            value = json.dumps(value)
        result[keys[name]] = value
    return result


# Keys a writer leaves out when they hold this value: ours writes strict coverage and per-region
# negatives only when on, and the peer before v4.0.3 had no def_in_prompt (definitions were kept).
ABSENT_MEANS: dict[str, str] = {
    "forge_couple_strict_coverage": "False",
    "forge_couple_region_negatives": "False",
    "forge_couple_def_in_prompt": "True",
    **{key: str(getattr(CoupleParams(), name)) for name, key in FLUX_KEYS},
}


def fill_absent_keys(params: MutableMapping[str, Any]) -> None:
    """Give a pasted Forge Couple infotext the values its missing keys stand for.

    A paste leaves controls whose key is absent unchanged, so without this a setting from an
    earlier paste would survive into the restored generation. Infotexts without our keys are
    left alone.
    """
    if ENABLED_KEY in params:
        for key, value in ABSENT_MEANS.items():
            params.setdefault(key, value)
    _refuse_pasted_values(params)


def _refuse_pasted_values(params: MutableMapping[str, Any]) -> None:
    """Forge coerces a pasted value to the slider's type, so `nan` would reach the slider:
    a number outside its limit, or a choice that is none of its radio's, pastes as the default,
    with a console warning."""
    defaults = CoupleParams()
    for name, key in KEYS:
        if key not in params or (name not in NUMBER_LIMITS and name not in CHOICES):
            continue
        try:
            _restored_value(name, str(params[key]))
        except CoupleError as error:
            params[key] = str(getattr(defaults, name))
            logger.warning("infotext %s not restored (%s); pasted the default", key, error)


def _restored_value(name: str, text: str) -> Any:
    """A number or choice field's pasted text as its value; CoupleError if it is out of bounds."""
    if name in CHOICES:
        if text not in CHOICES[name]:
            raise CoupleError(f"{name} must be one of {', '.join(CHOICES[name])}, got {text!r:.60}")
        return text
    limit = NUMBER_LIMITS[name]
    return limit.check_int(text) if limit.whole else limit.check(text)


ERROR_MESSAGE_KEY = "forge_couple_error"


def error_infotext(message: str) -> dict[str, Any]:
    """What a generation whose regions were refused writes: the peer's marker and the reason.

    The reason is no control to restore; it is there so that API users and anyone reading the
    image's parameters see why.
    """
    return {ENABLED_KEY: ERROR_VALUE, ERROR_MESSAGE_KEY: message}


def _parse_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    return {"true": True, "false": False}.get(lowered)


def from_infotext(values: Mapping[str, str]) -> dict[str, Any]:
    """Field values restored from pasted infotext; keys absent or unreadable are left out.

    `forge_couple: ERROR` restores as disabled (the generation did not use the regions).
    """
    defaults = CoupleParams()
    restored: dict[str, Any] = {}
    for key, text in values.items():
        name = FIELD_OF_KEY.get(key)
        if name is None:
            continue
        default = getattr(defaults, name)
        value: Any
        if name == "mapping":
            value = parse_mapping_value(text)
        elif isinstance(default, bool):
            value = _parse_bool(str(text))
        elif name in NUMBER_LIMITS or name in CHOICES:
            try:  # NaN, inf, out-of-range numbers and unknown choices are not restored
                value = _restored_value(name, str(text))
            except CoupleError as error:
                logger.warning("infotext %s not restored: %s", key, error)
                value = None
        else:
            value = str(text)
        if value is not None:
            restored[name] = value
    return restored


# --- the parameters text (Forge's `create_infotext` / `parse_generation_parameters` format) ---

# Forge reads `key: value, ...` with the regex `\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`,
# which is quadratic on a long run of words without a colon. `parameter_pairs` finds the same
# pairs in one pass: a start inside a key that fails cannot succeed, so the scan jumps past it.
_SPACES = re.compile(r"\s*")
_KEY = re.compile(r"\w[\w \-/]*")


def _quoted_end(line: str, start: int) -> int:
    """The index after a `"..."` value starting at `start` that ends the pair, or -1."""
    index = start + 1
    while index < len(line):
        char = line[index]
        if char == "\\":
            if index + 1 >= len(line) or line[index + 1] == "\n":
                return -1
            index += 2
        elif char == '"':
            if index == start + 1 or line[index + 1 : index + 2] not in ("", ","):
                return -1
            return index + 1
        else:
            index += 1
    return -1


def parameter_pairs(line: str) -> list[tuple[str, str]]:
    """The (key, raw value) pairs of a parameters line, as Forge's regex finds them."""
    pairs: list[tuple[str, str]] = []
    position = 0
    while position <= len(line):
        key_start = _SPACES.match(line, position).end()  # type: ignore[union-attr]
        key = _KEY.match(line, key_start)
        if key is None or key.end() - key_start < 2 or line[key.end() : key.end() + 1] != ":":
            position = max(position + 1, key.end() if key else key_start)
            continue
        value_start = _SPACES.match(line, key.end() + 1).end()  # type: ignore[union-attr]
        value_end = _quoted_end(line, value_start) if line[value_start : value_start + 1] == '"' else -1
        if value_end == -1:
            comma = line.find(",", value_start)
            value_end = len(line) if comma == -1 else comma
        pairs.append((key.group(0), line[value_start:value_end]))
        position = value_end + 1
    return pairs


def quote(value: object) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if any(c in text for c in ",\n:") else text


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            return str(json.loads(text))
        except json.JSONDecodeError:
            return text
    return text


def format_parameters(prompt: str, negative: str, params: Mapping[str, object]) -> str:
    """Prompt, `Negative prompt:` line and the `key: value, ...` line, as Forge writes them."""
    line = ", ".join(f"{key}: {quote(value)}" for key, value in params.items() if value is not None)
    negative_text = f"\nNegative prompt: {negative}" if negative else ""
    return f"{prompt}{negative_text}\n{line}".strip()


def parse_parameters(text: str) -> tuple[str, str, dict[str, str]]:
    """(prompt, negative prompt, parameters) from a parameters text."""
    INFOTEXT.check(text)
    *lines, last = text.strip().split("\n")
    pairs = parameter_pairs(last)
    if len(pairs) < 3:
        lines.append(last)
        pairs = []
    prompt: list[str] = []
    negative: list[str] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith("Negative prompt:"):
            negative.append(line[len("Negative prompt:") :].strip())
        elif negative:
            negative.append(line)
        else:
            prompt.append(line)
    params = {key: unquote(value) for key, value in pairs}
    return "\n".join(prompt), "\n".join(negative), params
