"""Blender enum items built from core's tuples of identifiers.

The identifiers, and their order, always come from ``core`` (the tuples the CLI's choices
and the API's checks use); the add-on adds only the words shown to the user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def enum_items(identifiers: Sequence[str], words: Mapping[str, tuple[str, str]]
               ) -> list[tuple[str, str, str]]:
    """``(identifier, label, description)`` for every identifier of core, in core's order.

    ``words`` maps identifiers to (label, description); an identifier without words gets
    its own name as the label (a new core choice still shows). Words for an identifier core
    does not have raise ValueError (a choice removed from core must go from the add-on).
    """
    stale = sorted(set(words) - set(identifiers))
    if stale:
        raise ValueError(f"enum words for {stale}, which are not among core's {tuple(identifiers)}")
    return [(i, *words.get(i, (i.replace("_", " ").title(), ""))) for i in identifiers]
