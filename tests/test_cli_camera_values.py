"""``CAM=VALUE`` items of the command line (``--offsets``, ``--map``), parsed in one place."""

from __future__ import annotations

import pytest

from skelsplat.cli.camera_values import parse_camera_values, parse_offsets
from skelsplat.core.errors import SkelsplatError


def test_camera_values_are_parsed_once_with_clear_errors() -> None:
    assert parse_offsets(["cam1=3", "cam2=-2"]) == {"cam1": 3, "cam2": -2}
    assert parse_offsets([]) is None
    assert parse_camera_values(["cam1=a.mp4"], "--map") == {"cam1": "a.mp4"}
    for bad in ("cam1", "=3", "cam1=", "cam1=x"):
        with pytest.raises(SkelsplatError, match=r"--offsets: expected CAM=N where the frame "
                                                 r"offset must be an integer, got '"):
            parse_offsets([bad])
    with pytest.raises(SkelsplatError, match="--map: expected CAM=VALUE, got 'cam1'"):
        parse_camera_values(["cam1"], "--map")
