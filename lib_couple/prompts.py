"""Turning the positive prompt into one prompt line per region."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

CommonSyntax = Literal["off", "{ }", "< >"]
COMMON_SYNTAXES: tuple[CommonSyntax, ...] = ("off", "{ }", "< >")


# Forge's extra-network tags (`<lora:name:0.8>`, `<hypernet:...>`): Forge removes them from each
# batch's prompts before the conditioning is made. Forge matches `<(\w+):([^>]+)>`; as a regex
# that is quadratic on `<a:<a:<a:...`, so it is scanned here, with the same matches.
_WORD = re.compile(r"\w+")


def extra_network_spans(prompt: str) -> list[tuple[int, int]]:
    """The (start, end) of each extra-network tag, left to right, in one pass."""
    spans: list[tuple[int, int]] = []
    start = prompt.find("<")
    while start != -1:
        word = _WORD.match(prompt, start + 1)
        after = word.end() if word else start + 1
        if word and prompt[after : after + 1] == ":" and prompt[after + 1 : after + 2] not in ("", ">"):
            close = prompt.find(">", after + 2)
            if close == -1:
                return spans  # no `>` after this point: no later tag can close either
            spans.append((start, close + 1))
            start = prompt.find("<", close + 1)
        else:
            start = prompt.find("<", after)
    return spans


def extra_network_tags(prompt: str) -> list[str]:
    """The extra-network tags of a prompt, as written."""
    return [prompt[start:end] for start, end in extra_network_spans(prompt)]


def strip_extra_networks(prompt: str) -> str:
    """The prompt as Forge conditions it: extra-network tags removed, the rest untouched."""
    kept, last = [], 0
    for start, end in extra_network_spans(prompt):
        kept.append(prompt[last:start])
        last = end
    kept.append(prompt[last:])
    return "".join(kept)


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


def _bracketed(text: str, opening: str, closing: str) -> list[tuple[int, int]]:
    """The (start, end) of each `opening ... closing` holding neither bracket, in one pass."""
    spans: list[tuple[int, int]] = []
    start = text.find(opening)
    while start != -1:
        close = text.find(closing, start + 1)
        if close == -1:
            break
        inner_open = text.rfind(opening, start + 1, close)
        if inner_open != -1:  # a nearer opening bracket starts the group
            start = inner_open
        spans.append((start, close + 1))
        start = text.find(opening, close + 1)
    return spans


def _substitute(text: str, opening: str, closing: str, replace: Callable[[str], str | None]) -> str:
    """Each bracketed group replaced by `replace(inner)`, or kept where that is None."""
    parts: list[str] = []
    last = 0
    for start, end in _bracketed(text, opening, closing):
        replacement = replace(text[start + 1 : end - 1])
        if replacement is not None:
            parts.extend((text[last:start], replacement))
            last = end
    parts.append(text[last:])
    return "".join(parts)


def expand_common_prompts(prompt: str, syntax: CommonSyntax = "{ }", keep_definitions: bool = True) -> str:
    """Replace `{key:value}` definitions and `{key}` recalls (or `< >`), before the line split.

    A definition is replaced by its value, or removed when `keep_definitions` is off; a recall
    of an unknown key is left as written. Later definitions of a key override earlier ones.
    Both passes scan the prompt once (linear in its length).
    """
    if syntax == "off":
        return prompt
    if syntax not in COMMON_SYNTAXES:
        raise ValueError(f"unknown common-prompt syntax {syntax!r}; use one of {COMMON_SYNTAXES}")
    opening, closing = syntax.split(" ")
    values: dict[str, str] = {}

    def define(inner: str) -> str | None:
        key, colon, value = inner.partition(":")
        key, value = key.strip(), value.strip()
        if not colon or not key:
            return None
        values[key] = value
        return value if keep_definitions else ""

    defined = _substitute(prompt, opening, closing, define)
    return _substitute(defined, opening, closing, lambda inner: values.get(inner.strip()))
