"""The benchmark command: `python -m bench.run [--smoke | --quick | full (default)]`.

Cross-attention per block call (plain, naive, ours, ours without the pool, ours with a negative
line per region) side by side in one
process, interleaved, as medians and ratios; peak memory of the same calls; whole generations
on the demo model; numba against numpy for mask work. Prints markdown and can write JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from bench import numba_masks
from bench.cases import SD15, SDXL, VARIANTS, Case, Level, all_cases, prepare
from bench.malloc import pin_thresholds
from bench.memory import peak_delta_bytes, peak_supported
from bench.timing import interleaved_medians


@dataclass(frozen=True)
class Mode:
    name: str
    levels: list[Level]
    regions: tuple[int, ...]
    batches: tuple[int, ...]
    rounds: int
    generations: bool


def _tiny(level: Level) -> Level:
    """The same layout at a fraction of the width and tokens: structure only, for tests."""
    return replace(level, channels=level.heads * 8, tokens=level.tokens // 16, context_dim=32, image=128)


MODES = {
    "smoke": Mode("smoke", [_tiny(SD15[0])], (2, 3), (1,), 1, False),
    "quick": Mode("quick", SD15 + SDXL[:1], (3,), (1,), 7, True),
    "full": Mode("full", SD15 + SDXL, (2, 3, 5), (1, 2), 15, True),
}


@dataclass
class CaseResult:
    case: str
    ms: dict[str, float]
    ratios: dict[str, float]
    peak_mib: dict[str, float | None]


@dataclass
class MixResult:
    """One UNet step's cross-attention: every level's median, times its blocks, summed."""

    mix: str
    ms: dict[str, float]
    ratios: dict[str, float]


@dataclass
class Report:
    mode: str
    backend: str
    threads: int
    malloc_pinned: bool
    cases: list[CaseResult] = field(default_factory=list)
    mixes: list[MixResult] = field(default_factory=list)
    pool: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, Any] | None = None
    numba: dict[str, Any] = field(default_factory=dict)


def ratios(ms: dict[str, float]) -> dict[str, float]:
    return {
        "naive/ours": ms["naive"] / ms["ours"],
        "ours/plain": ms["ours"] / ms["plain"],
        "naive/plain": ms["naive"] / ms["plain"],
        "nopool/ours": ms["ours-nopool"] / ms["ours"],
        "negatives/ours": ms["ours-negatives"] / ms["ours"],
    }


def measure_case(case: Case, rounds: int, memory: bool) -> tuple[CaseResult, dict[str, int]]:
    prepared = prepare(case)
    medians = interleaved_medians(prepared.runners, rounds)
    ms = {name: 1e3 * seconds for name, seconds in medians.items()}
    peaks: dict[str, float | None] = {name: None for name in VARIANTS}
    if memory:
        peaks = {name: peak_delta_bytes(run) / 2**20 for name, run in prepared.runners.items()}
    stats = prepared.pool.stats
    pool = {"requests": stats.requests, "reuses": stats.reuses, "bytes_reused": stats.bytes_reused}
    return CaseResult(case.name, ms, ratios(ms), peaks), pool


def unet_mixes(measured: list[tuple[Case, CaseResult]]) -> list[MixResult]:
    """Per model, regions and batch whose every level was measured: the blocks-weighted sums."""
    groups: dict[tuple[str, int, int], list[tuple[Case, CaseResult]]] = {}
    for case, result in measured:
        groups.setdefault((case.level.model, case.regions, case.batch), []).append((case, result))
    levels = {level.model: len(models) for models in (SD15, SDXL) for level in models}
    mixes = []
    for (model, regions, batch), members in groups.items():
        if len(members) < levels[model]:
            continue
        ms = {name: sum(c.level.blocks * r.ms[name] for c, r in members) for name in VARIANTS}
        mixes.append(MixResult(f"{model} UNet step r{regions} b{batch}", ms, ratios(ms)))
    return mixes


def collect(mode: Mode, memory: bool = True, only: str | None = None) -> Report:
    report = Report(mode.name, "torch SDPA (CPU)", torch.get_num_threads(), False)
    totals = {"requests": 0, "reuses": 0, "bytes_reused": 0}
    measured: list[tuple[Case, CaseResult]] = []
    for case in all_cases(mode.regions, mode.batches, mode.levels):
        if only is not None and only not in case.name:
            continue
        result, pool = measure_case(case, mode.rounds, memory)
        report.cases.append(result)
        measured.append((case, result))
        totals = {key: totals[key] + pool[key] for key in totals}
        summary = ", ".join(f"{k} {v:.2f}" for k, v in result.ratios.items())
        print(f"  {result.case}: {summary}", file=sys.stderr)
    report.mixes = unet_mixes(measured)
    rate = totals["reuses"] / totals["requests"] if totals["requests"] else 0.0
    report.pool = {**totals, "reuse_rate": rate}
    if mode.generations:
        from bench import generation

        report.generation = asdict(generation.run(quick=mode.name != "full"))
    report.numba = numba_masks.run(repeats=3 if mode.name == "smoke" else 15)
    return report


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _timing_row(label: str, ms: dict[str, float], ratio: dict[str, float]) -> str:
    """A table row's label, medians and ratios, each cell closed by `|`."""
    cells = [_fmt(ms[name]) for name in VARIANTS]
    cells += [_fmt(ratio[name], 2) for name in ("naive/ours", "ours/plain", "nopool/ours", "negatives/ours")]
    return f"| {label} | " + " | ".join(cells) + " |"


def markdown(report: Report) -> str:
    lines = [
        f"mode {report.mode}; attention {report.backend}; {report.threads} torch thread(s); "
        f"malloc thresholds pinned: {report.malloc_pinned}",
        "",
        "| case | plain ms | naive ms | ours ms | ours-nopool ms | ours-negatives ms | naive/ours | "
        "ours/plain | nopool/ours | negatives/ours | peak MiB plain / naive / ours / ours-nopool / "
        "ours-negatives |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report.cases:
        peaks = " / ".join(_fmt(c.peak_mib[name]) for name in VARIANTS)
        lines.append(f"{_timing_row(c.case, c.ms, c.ratios)} {peaks} |")
    if report.mixes:
        lines += [
            "",
            "| whole step (levels x their blocks) | plain ms | naive ms | ours ms | ours-nopool ms | "
            "ours-negatives ms | naive/ours | ours/plain | nopool/ours | negatives/ours |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [_timing_row(m.mix, m.ms, m.ratios) for m in report.mixes]
    lines += ["", f"pool: {json.dumps(report.pool)}"]
    if report.generation is not None:
        lines.append(f"generation: {json.dumps(report.generation)}")
    lines.append(f"numba: {json.dumps(report.numba)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="tiny shapes, one round: structure only")
    group.add_argument("--quick", action="store_true", help="3 regions, batch 1, every level once")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier when shared)")
    parser.add_argument("--rounds", type=int, help="timed rounds per case (default: the mode's)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--only", help="only the cases whose name contains this, e.g. '320ch' or 'r3 b1'")
    args = parser.parse_args(argv)
    pinned = pin_thresholds()
    torch.set_num_threads(args.threads)
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.rounds is not None:
        mode = replace(mode, rounds=args.rounds)
    report = collect(mode, memory=peak_supported(), only=args.only)
    report.malloc_pinned = pinned
    text = markdown(report)
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
