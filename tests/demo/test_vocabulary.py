"""The demo model names the words it ignores, and its vocabulary is what its tokenizer knows."""

from __future__ import annotations

from lib_couple.demo.shapes import VOCABULARY
from lib_couple.demo.tokenizer import UNK, VOCABULARY_HINT, build_tokenizer, unknown_words


def test_unknown_words_are_those_the_tokenizer_maps_to_unk() -> None:
    text = "A purple Dog, a red circle on a white background\npurple"
    assert unknown_words(text) == ["purple", "dog"]
    tokenizer = build_tokenizer()
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(text.replace(",", "")).input_ids)
    assert [t for t in tokens if t == UNK] == [UNK, UNK, UNK]  # purple, dog, purple
    assert unknown_words("a red circle on a black background") == []


def test_the_hint_lists_every_word_of_the_vocabulary() -> None:
    for word in VOCABULARY:
        assert f" {word}" in VOCABULARY_HINT
