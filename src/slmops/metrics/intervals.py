"""Bootstrap 95% intervals over rows, with a fixed seed.

Every model scored on the same n rows draws the same resamples (they depend on n and the seed
only), so intervals of a difference between two models are paired: a gain is told from noise.
Percentile intervals: the 2.5th and 97.5th percentiles of the metric over the resamples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
LEVEL = 0.95

ResampledMetric = Callable[[np.ndarray], np.ndarray]  # (resamples, n) row indices -> one value per resample


def resample_indices(rows: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> np.ndarray:
    """``resamples`` draws of ``rows`` row indices with replacement: shape (resamples, rows)."""
    if rows <= 0:
        raise ValueError("no rows to resample")
    return np.random.default_rng(seed).integers(0, rows, size=(resamples, rows))


def mean_over_resamples(values: Sequence[float]) -> ResampledMetric:
    array = np.asarray(values, dtype=float)
    return lambda indices: array[indices].mean(axis=1)


def ratio_over_resamples(numerators: Sequence[float], denominators: Sequence[float],
                         transform: Callable[[np.ndarray], np.ndarray] = lambda x: x) -> ResampledMetric:
    """transform(sum of numerators / sum of denominators) per resample (e.g. perplexity from token NLL)."""
    top, bottom = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    return lambda indices: transform(top[indices].sum(axis=1) / np.maximum(bottom[indices].sum(axis=1), 1e-12))


def percentile_interval(values: np.ndarray) -> list[float]:
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def bootstrap_intervals(metrics: Mapping[str, ResampledMetric], indices: np.ndarray) -> dict[str, list[float]]:
    """95% interval of each metric over the resamples ``indices``."""
    return {name: percentile_interval(metric(indices)) for name, metric in metrics.items()}


def difference_intervals(after: Mapping[str, ResampledMetric], before: Mapping[str, ResampledMetric],
                         indices: np.ndarray) -> dict[str, list[float]]:
    """Paired 95% interval of after − before for the metrics both have, on the same resamples."""
    return {name: percentile_interval(after[name](indices) - before[name](indices))
            for name in after if name in before}
