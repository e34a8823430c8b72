"""Peak resident memory of one call, from the kernel's high-water mark (Linux).

tracemalloc does not see PyTorch's allocations. The kernel's peak RSS does, whatever allocates:
writing 5 to /proc/self/clear_refs resets the peak to the current RSS, so the peak after
one call minus the RSS before it is what that call added at its worst moment. With the malloc
thresholds pinned low, large buffers are unmapped when freed, so the figure is per call.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise OSError(f"{field} not in {_STATUS}")
    return int(match.group(1))


def peak_supported() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        _status_kib("VmHWM")
    except OSError:
        return False
    return True


def rss_bytes() -> int:
    return _status_kib("VmRSS") * 1024


def peak_delta_bytes(run: Callable[[], object], repeats: int = 3) -> int:
    """Smallest over `repeats` of (peak RSS during one call) - (RSS before it)."""
    deltas = []
    for _ in range(repeats):
        gc.collect()
        _CLEAR_REFS.write_text("5")
        before = _status_kib("VmRSS")
        run()
        deltas.append((_status_kib("VmHWM") - before) * 1024)
    return max(0, min(deltas))
