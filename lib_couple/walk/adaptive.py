"""Adaptive step size from a kernel density estimate over the walk's visited low-dimensional coordinates.

Rule: the denser the visited area around the cursor, the smaller the step. A user who keeps coming
back to a stretch of the walk is looking for detail there, so steps shrink to refine it; in
unexplored stretches the step stays near `base` to cover ground. The KDE runs on walk coordinates
(path positions or 2D pad positions), never on the conditioning itself (~1 M dims for Flux).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.neighbors import KernelDensity  # type: ignore[import-untyped]

Points = npt.ArrayLike


def _as_2d(points: Points) -> npt.NDArray[np.float64]:
    array = np.asarray(points, dtype=np.float64)
    return array.reshape(-1, 1) if array.ndim <= 1 else array


def density_ratio(visited: Points, at: Points, bandwidth: float = 0.1) -> float:
    """Gaussian KDE density at `at` over the mean density at the visited points themselves.

    Dividing by that self-density makes the ratio free of units and sample count: ~1 means "as
    visited as a typical visited point", ~0 means unexplored.
    """
    samples = _as_2d(visited)
    query = _as_2d(at).reshape(1, -1)
    if samples.shape[1] != query.shape[1]:
        raise ValueError(f"visited points are {samples.shape[1]}-D but the query is {query.shape[1]}-D")
    if bandwidth <= 0:
        raise ValueError("bandwidth must be positive")
    kde = KernelDensity(kernel="gaussian", bandwidth=bandwidth).fit(samples)
    reference = float(np.exp(kde.score_samples(samples)).mean())
    return float(np.exp(kde.score_samples(query))[0]) / reference


def adaptive_step(
    visited: Points,
    at: Points,
    base: float,
    *,
    alpha: float = 1.0,
    bandwidth: float = 0.1,
    min_step: float = 0.0,
    max_step: float | None = None,
    min_samples: int = 2,
) -> float:
    """step = base / (1 + alpha * density / density_ref), clamped to [min_step, max_step].

    With fewer than `min_samples` visits there is nothing to estimate and `base` is returned.
    """
    upper = base if max_step is None else max_step
    if len(_as_2d(visited)) < min_samples:
        return min(upper, max(min_step, base))
    step = base / (1.0 + alpha * density_ratio(visited, at, bandwidth))
    return min(upper, max(min_step, step))
