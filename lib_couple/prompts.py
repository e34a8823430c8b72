"""Turning the positive prompt into one prompt line per region."""

from __future__ import annotations

import re
from typing import Literal

CommonSyntax = Literal["off", "{ }", "< >"]
COMMON_SYNTAXES: tuple[CommonSyntax, ...] = ("off", "{ }", "< >")


# Forge's extra-network tags (`<lora:name:0.8>`, `<hypernet:...>`): Forge removes them from each
# batch's prompts before the conditioning is made (modules/extra_networks.py uses this pattern).
EXTRA_NETWORK_TAG = re.compile(r"<(\w+):([^>]+)>")


def strip_extra_networks(prompt: str) -> str:
    """The prompt as Forge conditions it: extra-network tags removed, the rest untouched."""
    return EXTRA_NETWORK_TAG.sub("", prompt)


def resolve_separator(separator: str) -> str:
    """The separator as typed in the UI, with the peer's escapes: `\\n` is a newline, `\\t` a space.

    An empty or whitespace-only separator means a newline.
    """
    resolved = separator.replace("\\n", "\n").replace("\\t", " ")
    return resolved if resolved.strip() else "\n"


def split_lines(prompt: str, separator: str = "\n") -> list[str]:
    """Split a prompt into region lines, each stripped; trailing empty lines are ignored."""
    lines = [line.strip() for line in prompt.split(resolve_separator(separator))]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _common_patterns(syntax: CommonSyntax) -> tuple[re.Pattern[str], re.Pattern[str]]:
    opening, closing = syntax.split(" ")
    o, c = re.escape(opening), re.escape(closing)
    inner = f"[^{o}{c}]"
    definition = re.compile(f"{o}\\s*({inner}+?)\\s*:\\s*({inner}*?)\\s*{c}")
    recall = re.compile(f"{o}\\s*({inner}+?)\\s*{c}")
    return definition, recall


def expand_common_prompts(prompt: str, syntax: CommonSyntax = "{ }", keep_definitions: bool = True) -> str:
    """Replace `{key:value}` definitions and `{key}` recalls (or `< >`), before the line split.

    A definition is replaced by its value, or removed when `keep_definitions` is off; a recall
    of an unknown key is left as written. Later definitions of a key override earlier ones.
    """
    if syntax == "off":
        return prompt
    if syntax not in COMMON_SYNTAXES:
        raise ValueError(f"unknown common-prompt syntax {syntax!r}; use one of {COMMON_SYNTAXES}")
    definition, recall = _common_patterns(syntax)
    values: dict[str, str] = {}

    def define(match: re.Match[str]) -> str:
        values[match.group(1)] = match.group(2)
        return match.group(2) if keep_definitions else ""

    defined = definition.sub(define, prompt)
    return recall.sub(lambda m: values.get(m.group(1), m.group(0)), defined)
