"""Matching camera names across files: calibration cameras vs keypoint folders or videos.

Rules, tried in order, each only for the names still unmatched and only against the
candidates still free: equal names; equal ignoring case; equal camera numbers (the last run
of digits, as a number: ``cam01`` <-> ``cam_1`` <-> ``01``). A rule that finds several
candidates for one name is an ambiguity, reported to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence


def camera_number(name: str) -> int | None:
    """The last run of digits in ``name`` as a number (``"cam_01"`` -> 1), else None."""
    found = re.findall(r"\d+", name)
    return int(found[-1]) if found else None


_RULES: tuple[Callable[[str, str], bool], ...] = (
    lambda w, c: w == c,
    lambda w, c: w.lower() == c.lower(),
    lambda w, c: camera_number(w) is not None and camera_number(w) == camera_number(c),
)


def match_camera_names(
    wanted: Sequence[str],
    candidates: Sequence[str],
    ambiguous: Callable[[str, list[int]], Exception],
    assigned: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Assign a candidate index to each wanted name by the module's rules.

    Args:
        wanted: names to match (e.g. the calibration's cameras).
        candidates: names found (keypoint folders, video stems).
        ambiguous: builds the error raised when a name matches several candidates
            (arguments: the name and the candidate indices).
        assigned: matches fixed beforehand (name -> candidate index); kept and not reused.
    Returns:
        name -> candidate index for every name matched (unmatched names are absent).
    """
    result: dict[str, int] = dict(assigned or {})
    for rule in _RULES:
        for w in wanted:
            if w in result:
                continue
            taken = set(result.values())
            hits = [i for i, c in enumerate(candidates) if i not in taken and rule(w, c)]
            if len(hits) > 1:
                raise ambiguous(w, hits)
            if hits:
                result[w] = hits[0]
    return result
