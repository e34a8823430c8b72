"""Extra check through lllyasviel Forge's and Neo's own `backend/text_processing/t5_engine.py` (from
the fetched snapshots, host imports stubbed, a word-per-token tokenizer): the count
`ForgeHostServices.text_tokens` reads is where the engine's padding starts. Skips without them."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import pytest

from lib_couple.hosts.forge.services import ForgeHostServices
from tests.doubles.host_sources import FORGE, NEO, host_source, modules_in_place

SNAPSHOTS = {"forge": (FORGE, "backend"), "neo": (NEO, "webui/backend")}
PAD, END = 0, 1


class WordTokenizer:
    """One token per word (ids from 2 up), as a Hugging Face tokenizer answers the engine."""

    def __call__(self, texts: list[str], **_: Any) -> dict[str, list[list[int]]]:
        return {"input_ids": [[2 + len(word) for word in text.split()] for text in texts]}

    def get_vocab(self) -> dict[str, int]:
        return {}


@pytest.fixture(params=sorted(SNAPSHOTS))
def t5_engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    repo, root = SNAPSHOTS[request.param]
    names = ["backend", "backend.text_processing", "backend.memory_management", "backend.args"]
    names += ["modules", "modules.shared", "modules.prompt_parser"]
    names += ["backend.text_processing.parsing", "backend.text_processing.emphasis"]
    modules = {name: types.ModuleType(name) for name in names}
    with modules_in_place(modules):
        modules["modules.shared"].opts = types.SimpleNamespace(emphasis="Original")  # type: ignore[attr-defined]
        modules["backend.args"].dynamic_args = types.SimpleNamespace(last_extra_generation_params={})  # type: ignore[attr-defined]
        parsing = modules["backend.text_processing.parsing"]
        exec(
            compile(host_source(repo, f"{root}/text_processing/parsing.py"), "parsing.py", "exec"),
            parsing.__dict__,
        )
        modules["modules.prompt_parser"].parse_prompt_attention = parsing.parse_prompt_attention  # type: ignore[attr-defined]
        emphasis = modules["backend.text_processing.emphasis"]
        exec(
            compile(host_source(repo, f"{root}/text_processing/emphasis.py"), "emphasis.py", "exec"),
            emphasis.__dict__,
        )
        package = modules["backend.text_processing"]
        package.parsing, package.emphasis = parsing, emphasis  # type: ignore[attr-defined]
        modules["backend"].text_processing = package  # type: ignore[attr-defined]
        modules["backend"].memory_management = modules["backend.memory_management"]  # type: ignore[attr-defined]
        engine_module = types.ModuleType("host_t5_engine")
        source = host_source(repo, f"{root}/text_processing/t5_engine.py")
        exec(compile(source, "t5_engine.py", "exec"), engine_module.__dict__)
        yield engine_module.T5TextProcessingEngine


@pytest.mark.parametrize("line", ["a red circle", "one", "", "a (red:1.2) circle on a wide green field " * 3])
def test_the_count_is_where_the_hosts_padding_starts(t5_engine: Any, line: str) -> None:
    encoder = types.SimpleNamespace(transformer=None)
    engine = t5_engine(encoder, WordTokenizer(), min_length=256)
    model = types.SimpleNamespace(text_processing_engine_t5=engine)
    count = ForgeHostServices().text_tokens(model, line)
    (chunk,), _ = engine.tokenize_line(line)
    assert count is not None
    assert len(chunk.tokens) == 256
    assert chunk.tokens[count - 1] == END
    assert all(token == PAD for token in chunk.tokens[count:])
    assert all(token > END for token in chunk.tokens[: count - 1])  # the words, none cut


def test_a_line_with_break_is_not_counted(t5_engine: Any) -> None:
    engine = t5_engine(types.SimpleNamespace(transformer=None), WordTokenizer())
    model = types.SimpleNamespace(text_processing_engine_t5=engine)
    assert ForgeHostServices().text_tokens(model, "a red circle BREAK a blue square") is None
