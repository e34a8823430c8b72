"""The torch thread count of the standalone commands (generate, serve, walk).

The demo model is tiny: its work per call is too small to split across threads, and on a busy
machine extra threads wait on each other. `python -m bench.threads` measured the demo generation
at 0.89 s with 1 thread and 9.4 s with 2 (torch's default here) on a loaded 2-core machine, so
1 is the default; a real checkpoint (`--checkpoint`) on an idle machine may prefer more.
"""

from __future__ import annotations

import argparse

DEFAULT_THREADS = 1
MAX_THREADS = 256


def thread_count(text: str) -> int:
    """`--threads`: a whole number from 1 to MAX_THREADS."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to {MAX_THREADS}, got {text}"
        ) from None
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_THREADS}, got {text}")
    return value


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=thread_count,
        default=DEFAULT_THREADS,
        help="torch CPU threads (1 measured fastest for the demo model; see bench/threads.py)",
    )


def apply_threads(count: int) -> None:
    """Set torch's intra-op thread count for this process."""
    import torch

    torch.set_num_threads(count)
