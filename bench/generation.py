"""Whole generations on the embedded demo model: with and without regions, repeated prompts,
and a long run checking that live tensors and memory stay flat."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.memory import rss_bytes
from lib_couple.demo.model import DemoComponents, load_demo_pipeline, weights_present
from lib_couple.hosts.standalone import GenerationRequest, generate
from lib_couple.memory.manager import count_live_tensors_now, get_memory_manager
from lib_couple.params import CoupleParams

PROMPT = "a red circle\na blue square\na green triangle"


def load_model() -> tuple[DemoComponents, str]:
    """The trained demo model, or untrained weights when the trained ones are absent."""
    if weights_present():
        return load_demo_pipeline(), "trained demo weights"
    from lib_couple.demo.model import write_untrained_weights

    directory = write_untrained_weights(Path(tempfile.mkdtemp(prefix="forge_couple_bench_")))
    return load_demo_pipeline(weights_dir=directory), "random weights (demo weights not present)"


def request(regions: bool, size: int, steps: int, seed: int = 1) -> GenerationRequest:
    couple = CoupleParams(enabled=regions)
    return GenerationRequest(prompt=PROMPT, width=size, height=size, steps=steps, seed=seed, couple=couple)


class EncoderCalls:
    """Counts text-encoder forward calls through a hook."""

    def __init__(self, model: DemoComponents) -> None:
        self.count = 0
        self._handle = model.text_encoder.register_forward_hook(self._hook)

    def _hook(self, *_: Any) -> None:
        self.count += 1

    def close(self) -> None:
        self._handle.remove()


@dataclass
class GenerationResults:
    weights: str
    size: int
    steps: int
    seconds: dict[str, float]
    encoder_calls: dict[str, int]
    cache_hits: int
    flat: dict[str, Any]


def _median_seconds(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def long_run(model: DemoComponents, count: int, size: int) -> dict[str, Any]:
    """`count` regional generations in a row (each in the manager's generation scope)."""
    marks: list[tuple[int, int, int]] = []
    for index in range(count):
        generate(model, request(True, size, 2, seed=index), progress=False)  # in its own scope
        if index in (0, count // 2, count - 1):
            marks.append((index + 1, count_live_tensors_now(), rss_bytes()))
    first, last = marks[0], marks[-1]
    return {
        "generations": count,
        "live_tensors": [m[1] for m in marks],
        "rss_mib": [round(m[2] / 2**20, 1) for m in marks],
        "tensor_growth": last[1] - first[1],
        "rss_growth_mib": round((last[2] - first[2]) / 2**20, 1),
    }


def run(quick: bool) -> GenerationResults:
    model, weights = load_model()
    size, steps = (64, 2) if quick else (256, 20)
    rounds = 1 if quick else 3
    generate(model, request(True, size, 1), progress=False)  # warm-up
    seconds = _median_seconds(
        {
            "plain": lambda: generate(model, request(False, size, steps), progress=False),
            "regions": lambda: generate(model, request(True, size, steps), progress=False),
        },
        rounds,
    )
    calls = EncoderCalls(model)
    encoder_calls: dict[str, int] = {}
    cache = get_memory_manager().cache  # the host's own encoding cache
    cache.clear()
    hits_before = cache.stats.hits
    for label in ("first", "second"):
        before = calls.count
        generate(model, request(True, size, 1, seed=5), progress=False)
        encoder_calls[label] = calls.count - before
    calls.close()
    flat = long_run(model, 10 if quick else 100, 64)
    hits = cache.stats.hits - hits_before
    return GenerationResults(weights, size, steps, seconds, encoder_calls, hits, flat)
