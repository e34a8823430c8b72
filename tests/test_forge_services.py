"""ForgeHostServices.text_tokens: the T5 count the runner trims region lines to."""

from __future__ import annotations

from typing import Any

import pytest

from lib_couple.hosts.forge.services import ForgeHostServices


class T5Engine:
    """Shaped like Forge's and Neo's `T5TextProcessingEngine.tokenize_line`: chunks and a count.

    A line is split into chunks at BREAK; each chunk is its words, the end token and pads."""

    def __init__(self, min_length: int = 256) -> None:
        self.min_length = min_length

    def tokenize_line(self, line: str) -> tuple[list[list[int]], int]:
        chunks, count = [], 0
        for part in line.split("BREAK"):
            tokens = [7] * len(part.split()) + [1]
            count += len(tokens)
            chunks.append(tokens + [0] * max(0, self.min_length - len(tokens)))
        return chunks, count


class Engine:
    def __init__(self, t5: Any) -> None:
        self.text_processing_engine_t5 = t5


@pytest.mark.parametrize(("line", "tokens"), [("a red circle", 4), ("", 1), ("one " * 300, 301)])
def test_a_one_chunk_line_counts_its_words_and_end_token(line: str, tokens: int) -> None:
    assert ForgeHostServices().text_tokens(Engine(T5Engine()), line) == tokens


def test_lines_of_more_chunks_and_models_without_t5_are_not_counted() -> None:
    services = ForgeHostServices()
    assert services.text_tokens(Engine(T5Engine()), "a red BREAK circle") is None
    assert services.text_tokens(object(), "a red circle") is None  # SD1.5, SDXL: no T5 engine
    assert services.text_tokens(Engine(object()), "a red circle") is None
