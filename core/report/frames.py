"""Which frames the run report draws (from arrays only; no plotting, no files).

The report's numbers come from ``core.metrics`` (reprojection error, bone lengths and
their stability, NaN-aware means; the report shows bone lengths in millimetres).
"""

from __future__ import annotations

import itertools

import numpy as np


def pick_report_frames(valid: np.ndarray, n: int = 3) -> list[int]:
    """Row indices of ``n`` frames spread over the take, preferring well-covered frames.

    The take is cut into ``n`` equal parts and the frame with the most valid joints of each
    part is taken (first one on ties). ``valid`` is [F, J] bool.
    """
    valid = np.asarray(valid, dtype=bool)
    F = valid.shape[0]
    if F == 0 or n <= 0:
        return []
    counts = valid.sum(axis=1)
    edges = np.linspace(0, F, min(n, F) + 1).round().astype(int)
    rows = []
    for a, b in itertools.pairwise(edges):
        if b > a:
            rows.append(int(a + np.argmax(counts[a:b])))
    return rows
