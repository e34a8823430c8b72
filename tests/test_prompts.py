"""Prompt handling before the regions: separator escapes, the line split and common prompts."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lib_couple.prompts import (
    COMMON_SYNTAXES,
    CommonSyntax,
    expand_common_prompts,
    resolve_separator,
    split_lines,
    strip_extra_networks,
)

# Characters of region lines in the round-trip properties; separators are drawn from others.
LINE_CHARS = string.ascii_letters + string.digits + " ,()_:.'-\t"
SEPARATOR_CHARS = "|;#@&\n~\\"

lines_text = st.text(alphabet=LINE_CHARS, min_size=1, max_size=20).map(str.strip).filter(bool)


# ---------------------------------------------------------------- resolve_separator


@pytest.mark.parametrize(
    ("typed", "resolved"),
    [
        ("\\n", "\n"),
        ("\\n\\n", "\n"),  # blank after the escapes, so one newline (as the peer)
        ("|", "|"),
        (" | ", " | "),
        ("\\t|\\t", " | "),
        ("a\\tb", "a b"),
        ("\\n---\\n", "\n---\n"),
        ("", "\n"),
        ("   ", "\n"),
        ("\t", "\n"),
        ("\\t", "\n"),  # the escape gives a space, which is blank, so a newline
        ("\\t\\t", "\n"),
    ],
)
def test_resolve_separator_escapes_and_blank(typed: str, resolved: str) -> None:
    assert resolve_separator(typed) == resolved


@settings(max_examples=200)
@given(st.text(alphabet=string.printable.replace("\\", "")))
def test_resolve_separator_without_escapes_is_identity_unless_blank(typed: str) -> None:
    expected = typed if typed.strip() else "\n"
    assert resolve_separator(typed) == expected


@settings(max_examples=200)
@given(
    parts=st.lists(st.text(alphabet=string.printable.replace("\\", ""), max_size=4), min_size=2, max_size=5),
    escapes=st.lists(st.sampled_from([("\\n", "\n"), ("\\t", " ")]), min_size=4, max_size=4),
)
def test_resolve_separator_replaces_each_escape(parts: list[str], escapes: list[tuple[str, str]]) -> None:
    typed, meant = parts[0], parts[0]
    for part, (escape, character) in zip(parts[1:], escapes, strict=False):
        typed += escape + part
        meant += character + part
    assert resolve_separator(typed) == (meant if meant.strip() else "\n")


# ---------------------------------------------------------------- split_lines


@settings(max_examples=100)
@given(
    lines=st.lists(lines_text, min_size=1, max_size=8),
    separator=st.text(alphabet=SEPARATOR_CHARS, min_size=1, max_size=3),
    padding=st.sampled_from(["", " ", "  ", "\t"]),
)
def test_split_lines_round_trip(lines: list[str], separator: str, padding: str) -> None:
    """Joining stripped lines with the (resolved) separator and splitting gives them back."""
    resolved = resolve_separator(separator)
    assume(not any(char in line for char in resolved for line in lines))
    prompt = resolved.join(padding + line + padding for line in lines)
    assert split_lines(prompt, separator) == lines


@settings(max_examples=100)
@given(
    lines=st.lists(st.one_of(st.just(""), lines_text), min_size=1, max_size=8),
    trailing=st.lists(st.sampled_from(["", " ", "\t", "  \t "]), max_size=4),
)
def test_split_lines_drops_only_trailing_empty_lines(lines: list[str], trailing: list[str]) -> None:
    prompt = "\n".join([*lines, *trailing])
    expected = list(lines)
    while expected and not expected[-1]:
        expected.pop()
    assert split_lines(prompt) == expected


def test_split_lines_keeps_leading_and_interior_empty_lines() -> None:
    assert split_lines("\na\n\n  \nb\n\n") == ["", "a", "", "", "b"]


def test_split_lines_strips_each_line() -> None:
    assert split_lines("  a cat \t\n\tdog  ") == ["a cat", "dog"]


def test_split_lines_of_blank_prompt_is_empty() -> None:
    assert split_lines("") == []
    assert split_lines(" \n\t\n ") == []


def test_split_lines_uses_resolved_separator() -> None:
    assert split_lines("a|b\nc", "|") == ["a", "b\nc"]
    assert split_lines("a|b\nc", "\\n") == ["a|b", "c"]
    assert split_lines("a|b\nc", "   ") == ["a|b", "c"]
    assert split_lines("a | b|c", "\\t|\\t") == ["a", "b|c"]


# ---------------------------------------------------------------- expand_common_prompts

BRACKETED: tuple[CommonSyntax, ...] = ("{ }", "< >")

key_text = (
    st.text(alphabet=string.ascii_letters + string.digits + " _-", min_size=1, max_size=8)
    .map(str.strip)
    .filter(bool)
)
value_text = st.text(alphabet=string.ascii_letters + string.digits + " ,:()_.-", max_size=12).map(str.strip)
literal_text = st.text(alphabet=string.ascii_letters + string.digits + " ,:()_.\n-", max_size=12)
space = st.sampled_from(["", " ", "  "])


@st.composite
def common_prompt(draw: st.DrawFn) -> tuple[list[tuple[str, ...]], set[str]]:
    """Segments ("text", t) | ("def", key, value, written) | ("recall", key, written)."""
    keys = draw(st.lists(key_text, min_size=1, max_size=4, unique=True))
    unknown = draw(st.lists(key_text.filter(lambda k: k not in keys), max_size=2))
    segments: list[tuple[str, ...]] = []
    for _ in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["text", "def", "recall", "unknown"]))
        if kind == "text":
            segments.append(("text", draw(literal_text)))
        elif kind == "def":
            segments.append(
                ("def", draw(st.sampled_from(keys)), draw(value_text), draw(space), draw(space), draw(space))
            )
        elif kind == "recall" or not unknown:
            segments.append(("recall", draw(st.sampled_from(keys)), draw(space), draw(space)))
        else:
            segments.append(("recall", draw(st.sampled_from(unknown)), draw(space), draw(space)))
    return segments, set(keys)


def render(segments: list[tuple[str, ...]], syntax: str, keep_definitions: bool) -> tuple[str, str]:
    """The prompt as typed and the expansion expected from the definition of the feature."""
    opening, closing = syntax.split(" ")
    values = {seg[1]: seg[2] for seg in segments if seg[0] == "def"}  # the last definition wins
    typed, expected = [], []
    for seg in segments:
        if seg[0] == "text":
            typed.append(seg[1])
            expected.append(seg[1])
        elif seg[0] == "def":
            _, key, value, a, b, c = seg
            typed.append(f"{opening}{a}{key}{b}:{c}{value}{a}{closing}")
            expected.append(value if keep_definitions else "")
        else:
            _, key, a, b = seg
            written = f"{opening}{a}{key}{b}{closing}"
            typed.append(written)
            expected.append(values.get(key, written))
    return "".join(typed), "".join(expected)


@settings(max_examples=100)
@given(common_prompt(), st.sampled_from(BRACKETED), st.booleans())
def test_expand_common_prompts_matches_definition(
    drawn: tuple[list[tuple[str, ...]], set[str]], syntax: CommonSyntax, keep_definitions: bool
) -> None:
    segments, _ = drawn
    typed, expected = render(segments, syntax, keep_definitions)
    assert expand_common_prompts(typed, syntax, keep_definitions) == expected


@pytest.mark.parametrize(("opening", "closing", "syntax"), [("{", "}", "{ }"), ("<", ">", "< >")])
def test_expand_common_prompts_examples(opening: str, closing: str, syntax: CommonSyntax) -> None:
    o, c = opening, closing
    prompt = f"{o}subj{c} in a park\n{o}subj: a red fox{c}, running\n{o}other{c} at dusk"
    assert (
        expand_common_prompts(prompt, syntax)
        == "a red fox in a park\na red fox, running\n" + f"{o}other{c} at dusk"
    )
    assert expand_common_prompts(prompt, syntax, keep_definitions=False) == (
        "a red fox in a park\n, running\n" + f"{o}other{c} at dusk"
    )


def test_expand_common_prompts_value_may_hold_colons_and_later_definition_wins() -> None:
    prompt = "{a: x:1}, {a}, {a:y}, {a}"
    assert expand_common_prompts(prompt, "{ }") == "x:1, y, y, y"


def test_expand_common_prompts_other_syntax_is_literal() -> None:
    prompt = "{a:b} <a> <c:d> {c}"
    assert expand_common_prompts(prompt, "{ }") == "b <a> <c:d> {c}"
    assert expand_common_prompts(prompt, "< >") == "{a:b} <a> d {c}"


@settings(max_examples=100)
@given(st.text(), st.sampled_from(COMMON_SYNTAXES), st.booleans())
def test_expand_common_prompts_without_brackets_is_identity(
    text: str, syntax: CommonSyntax, keep: bool
) -> None:
    if syntax != "off":
        opening, closing = syntax.split(" ")
        text = text.replace(opening, "").replace(closing, "")
    assert expand_common_prompts(text, syntax, keep) == text


@settings(max_examples=40)
@given(common_prompt(), st.booleans())
def test_expand_common_prompts_off_is_identity(
    drawn: tuple[list[tuple[str, ...]], set[str]], keep: bool
) -> None:
    typed, _ = render(drawn[0], "{ }", keep)
    assert expand_common_prompts(typed, "off", keep) == typed


@pytest.mark.parametrize("syntax", ["[ ]", "{}", "( )", "", "{ } "])
def test_expand_common_prompts_unknown_syntax_raises(syntax: str) -> None:
    with pytest.raises(ValueError, match="syntax"):
        expand_common_prompts("{a:b} {a}", syntax)  # type: ignore[arg-type]


words = st.text(alphabet=string.ascii_letters + " ,.()\n", max_size=20)
tags = st.builds(
    lambda kind, name: f"<{kind}:{name}>",
    st.sampled_from(["lora", "hypernet", "lyco"]),
    st.text(alphabet=string.ascii_letters + string.digits + ":._-", min_size=1, max_size=12),
)


@given(st.lists(st.tuples(words, st.one_of(st.none(), tags)), max_size=6))
def test_strip_extra_networks_removes_exactly_the_tags(parts: list[tuple[str, str | None]]) -> None:
    prompt = "".join(text + (tag or "") for text, tag in parts)
    assert strip_extra_networks(prompt) == "".join(text for text, _ in parts)


def test_strip_extra_networks_keeps_angle_brackets_that_are_not_tags() -> None:
    assert strip_extra_networks("a <b> c <:x> d") == "a <b> c <:x> d"
