"""``CAM=VALUE`` command-line items (``--offsets CAM=N``, ``--map CAM=VIDEO``), parsed once,
and the camera-pairing options the commands share."""

from __future__ import annotations

import argparse

from ..core.errors import SkelsplatError


def add_offsets_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--offsets CAM=N ...`` (read with :func:`parse_offsets`)."""
    parser.add_argument("--offsets", nargs="+", metavar="CAM=N", default=[],
                        help="frame offsets: take frame t is video frame t + N of camera CAM")


def add_pair_by_order_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup
                               ) -> None:
    """``--pair-by-order`` (alias ``--sorted``)."""
    parser.add_argument("--pair-by-order", "--sorted", dest="pair_by_order", action="store_true",
                        help="pair cameras and videos in sorted file-name order when the names "
                             "do not match (each pair is listed in a warning)")


def parse_camera_values(items: list[str], flag: str, integer: bool = False) -> dict:
    """``["cam1=3", ...]`` -> ``{"cam1": 3, ...}`` (values ``int`` when ``integer``, else
    ``str``); a malformed item raises SkelsplatError naming ``flag`` and the item."""
    out: dict = {}
    for item in items:
        cam, sep, value = item.partition("=")
        try:
            if not sep or not cam or not value:
                raise ValueError
            out[cam] = int(value) if integer else value
        except ValueError:
            expected = ("CAM=N where the frame offset must be an integer" if integer
                        else "CAM=VALUE")
            raise SkelsplatError(f"{flag}: expected {expected}, got {item!r}") from None
    return out


def parse_offsets(items: list[str], flag: str = "--offsets") -> dict[str, int] | None:
    """Frame offsets ``CAM=N`` -> {camera: N}, or None when there are none."""
    return parse_camera_values(items, flag, integer=True) or None
