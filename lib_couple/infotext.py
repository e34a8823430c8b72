"""Infotext: the `forge_couple_*` keys, and the parameters text Forge writes under an image.

One table maps fields of CoupleParams to the peer's keys, so writing and pasting agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from lib_couple.params import CoupleParams, parse_mapping_value

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
FIELD_OF_KEY = {key: name for name, key in KEYS}


def _written_fields(params: CoupleParams) -> list[str]:
    """The peer writes direction only in Basic, the mapping only in Advanced, no background there."""
    skip = {"direction"} if params.mode != "Basic" else set()
    skip |= {"mapping"} if params.mode != "Advanced" else {"background", "background_weight"}
    skip |= {name for name in ("strict_coverage", "region_negatives") if not getattr(params, name)}
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
        elif isinstance(default, float):
            try:
                value = float(text)
            except ValueError:
                value = None
        else:
            value = str(text)
        if value is not None:
            restored[name] = value
    return restored


# --- the parameters text (Forge's `create_infotext` / `parse_generation_parameters` format) ---

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


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
    *lines, last = text.strip().split("\n")
    if len(_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
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
    params = {key: unquote(value) for key, value in _PARAM.findall(last)}
    return "\n".join(prompt), "\n".join(negative), params
