"""numba against numpy on the mask work numba could speed up: box rasterisation and feathering.

numba is not a dependency: this module measures it when it is installed and says so when not.
"""

from __future__ import annotations

import importlib
import importlib.util
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
# Five boxes of a 1024 x 1024 Advanced layout: (top, bottom, left, right, weight).
BOXES = np.array(
    [[0, 512, 0, 512, 1.0], [0, 512, 512, 1024, 1.0], [512, 1024, 0, 1024, 1.0], [256, 768, 256, 768, 1.5],
     [0, 1024, 0, 1024, 0.5]],
    dtype=np.float64,
)  # fmt: skip
SIDE = 1024
RADIUS = 16


def rasterise_numpy(boxes: npt.NDArray[np.float64], side: int) -> Array:
    masks = np.zeros((len(boxes), side, side), dtype=np.float32)
    for index, (top, bottom, left, right, weight) in enumerate(boxes):
        masks[index, int(top) : int(bottom), int(left) : int(right)] = weight
    return masks


def _box_blur_rows(image: Array, radius: int) -> Array:
    """Mean over a window of 2 * radius + 1 along the last axis, edges clamped (cumulative sums)."""
    padded = np.pad(image, ((0, 0), (radius + 1, radius)), mode="edge").astype(np.float64)
    sums = np.cumsum(padded, axis=1)
    width = 2 * radius + 1
    return ((sums[:, width:] - sums[:, :-width]) / width).astype(np.float32)


def feather_numpy(mask: Array, radius: int) -> Array:
    """Separable box blur: soft region edges."""
    return _box_blur_rows(_box_blur_rows(mask, radius).T.copy(), radius).T.copy()


def _numba_kernels() -> tuple[Callable[..., Array], Callable[..., Array]]:
    numba: Any = importlib.import_module("numba")

    @numba.njit(cache=False)  # type: ignore[misc]
    def rasterise(boxes: Any, side: int) -> Any:
        masks = np.zeros((boxes.shape[0], side, side), dtype=np.float32)
        for index in range(boxes.shape[0]):
            top, bottom, left, right = (
                int(boxes[index, 0]),
                int(boxes[index, 1]),
                int(boxes[index, 2]),
                int(boxes[index, 3]),
            )
            for y in range(top, bottom):
                for x in range(left, right):
                    masks[index, y, x] = boxes[index, 4]
        return masks

    @numba.njit(cache=False)  # type: ignore[misc]
    def blur_rows(image: Any, radius: int) -> Any:
        height, width = image.shape
        out = np.empty_like(image)
        span = 2 * radius + 1
        for y in range(height):
            total = 0.0
            for x in range(-radius - 1, radius):
                total += image[y, min(max(x, 0), width - 1)]
            for x in range(width):
                total += image[y, min(x + radius, width - 1)]
                total -= image[y, min(max(x - radius - 1, 0), width - 1)]
                out[y, x] = total / span
        return out

    def feather(mask: Array, radius: int) -> Array:
        result: Array = blur_rows(np.ascontiguousarray(blur_rows(mask, radius).T), radius).T.copy()
        return result

    return rasterise, feather


def _median_ms(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def run(repeats: int = 15) -> dict[str, Any]:
    mask = rasterise_numpy(BOXES, SIDE)[3]
    result: dict[str, Any] = {
        "rasterise_numpy_ms": _median_ms(lambda: rasterise_numpy(BOXES, SIDE), repeats),
        "feather_numpy_ms": _median_ms(lambda: feather_numpy(mask, RADIUS), repeats),
    }
    if importlib.util.find_spec("numba") is None:
        result["numba"] = "not installed"
        return result
    rasterise, feather = _numba_kernels()
    start = time.perf_counter()
    same = np.allclose(rasterise(BOXES, SIDE), rasterise_numpy(BOXES, SIDE)) and np.allclose(
        feather(mask, RADIUS), feather_numpy(mask, RADIUS), atol=1e-5
    )
    result["numba_compile_ms"] = 1e3 * (time.perf_counter() - start)
    result["numba_matches_numpy"] = bool(same)
    result["rasterise_numba_ms"] = _median_ms(lambda: rasterise(BOXES, SIDE), repeats)
    result["feather_numba_ms"] = _median_ms(lambda: feather(mask, RADIUS), repeats)
    return result
