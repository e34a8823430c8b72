"""A word-level CLIP-style tokenizer for the demo vocabulary, built in code (no download)."""

from __future__ import annotations

import re

from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

from lib_couple.demo.shapes import COLOURS, FILLER_WORDS, SHAPES, VOCABULARY

CONTEXT_LENGTH = 77
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
UNK = "<|unk|>"
# Ids are fixed by this order; the shipped text encoder depends on them.
SPECIAL_TOKENS: tuple[str, ...] = (BOS, EOS, UNK)


def vocabulary_ids() -> dict[str, int]:
    """Token id of every special token and word."""
    return {token: index for index, token in enumerate(SPECIAL_TOKENS + VOCABULARY)}


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Lower-cases, splits on whitespace and punctuation, wraps in bos/eos; pads with eos like SD's CLIP."""
    core = Tokenizer(WordLevel(vocab=vocabulary_ids(), unk_token=UNK))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    ids = vocabulary_ids()
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        special_tokens=[(BOS, ids[BOS]), (EOS, ids[EOS])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=EOS,
        model_max_length=CONTEXT_LENGTH,
    )


_WORD = re.compile(r"\w+")
VOCABULARY_HINT = (
    "The demo model knows only these words: colours "
    + ", ".join(COLOURS)
    + "; shapes "
    + ", ".join(SHAPES)
    + "; other words "
    + ", ".join(FILLER_WORDS)
    + ". It was trained on captions like 'a red circle on a white background', 'a blue square', "
    "'a green shape' and 'a black background'; other words are ignored."
)


def unknown_words(text: str) -> list[str]:
    """The words of `text` the demo tokenizer maps to its unknown token, once each, in order."""
    known = set(VOCABULARY)
    unknown: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in known:
            unknown.setdefault(word, None)
    return list(unknown)
