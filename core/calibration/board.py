"""Calibration boards: ChArUco and checkerboard definitions, presets, corner layout.

A board is described by the user exactly as printed: the number of *squares* along its
width and height (``5x7``; for a checkerboard too, never the inner corners), the square side
in millimetres and, for ChArUco, the marker side in millimetres and the ArUco dictionary.

Board frame (OpenCV's): origin at the first inner corner, x along the width, y along the
height (down the printed page), z into the board. A board lying face-up on the floor seen
from above therefore has its z axis pointing down; :data:`WORLD_FROM_BOARD` turns that
frame into the Z-up world used by calibrations made from a floor board.

OpenCV (``cv2``, from ``opencv-contrib-python``) is imported lazily: the definitions and
corner layouts here need numpy only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import CalibrationError

BOARD_KINDS = ("charuco", "checkerboard")

#: ArUco dictionaries accepted by ``dictionary`` (OpenCV's names).
DICTIONARIES = (*(f"DICT_{b}X{b}_{n}" for b in (4, 5, 6, 7) for n in (50, 100, 250, 1000)),
                "DICT_ARUCO_ORIGINAL")

#: Board frame (x along the width, y down the page, z into the board) -> Z-up world for a
#: board lying face-up on the floor: X = x, Y = -y, Z = -z (a proper rotation).
WORLD_FROM_BOARD = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class BoardSpec:
    """A printed calibration board.

    Attributes:
        kind: ``"charuco"`` or ``"checkerboard"``.
        squares: (columns, rows) of squares, e.g. (5, 7).
        square_mm: side of one square in millimetres.
        marker_mm: ChArUco only: side of one ArUco marker in millimetres.
        dictionary: ChArUco only: OpenCV dictionary name, e.g. ``DICT_4X4_50``.
        legacy: ChArUco only: OpenCV's pre-4.6 layout (boards with an even number of rows
            printed by old tools start with a marker instead of a black square).
    """

    kind: str
    squares: tuple[int, int]
    square_mm: float
    marker_mm: float | None = None
    dictionary: str | None = None
    legacy: bool = False

    def __post_init__(self) -> None:
        if self.kind not in BOARD_KINDS:
            raise CalibrationError(f"unknown board {self.kind!r}; expected one of {BOARD_KINDS}")
        cols, rows = (int(s) for s in self.squares)
        object.__setattr__(self, "squares", (cols, rows))
        if cols < 3 or rows < 3:
            raise CalibrationError(f"board {cols}x{rows}: a board needs at least 3x3 squares")
        if not self.square_mm or self.square_mm <= 0:
            raise CalibrationError(f"board square size must be positive, got {self.square_mm} mm")
        if self.kind == "charuco":
            if self.marker_mm is None or not 0 < self.marker_mm < self.square_mm:
                raise CalibrationError(
                    f"ChArUco marker size must be positive and smaller than the square "
                    f"({self.square_mm:g} mm), got {self.marker_mm} mm")
            dictionary = (self.dictionary or "DICT_4X4_50").upper()
            if dictionary not in DICTIONARIES:
                raise CalibrationError(f"unknown ArUco dictionary {self.dictionary!r}; "
                                       f"expected one of {', '.join(DICTIONARIES)}")
            object.__setattr__(self, "dictionary", dictionary)
            n_markers = (cols * rows) // 2
            capacity = int(dictionary.rsplit("_", 1)[-1]) if dictionary[-1].isdigit() else 1024
            if n_markers > capacity:
                raise CalibrationError(f"a {cols}x{rows} ChArUco board needs {n_markers} "
                                       f"markers; {dictionary} has only {capacity}")

    # ------------------------------------------------------------------ geometry
    @property
    def inner_corners(self) -> tuple[int, int]:
        """(columns, rows) of inner corners (the points that are detected)."""
        return self.squares[0] - 1, self.squares[1] - 1

    @property
    def n_corners(self) -> int:
        c, r = self.inner_corners
        return c * r

    @property
    def square_m(self) -> float:
        return self.square_mm / 1000.0

    def corner_points(self) -> np.ndarray:  # [C, 3] metres, board frame
        """Inner corners in the board frame (metres), row-major: id = row * cols + col
        (OpenCV's ChArUco corner ids and checkerboard detection order)."""
        c, r = self.inner_corners
        ii, jj = np.meshgrid(np.arange(c), np.arange(r))
        pts = np.stack([ii.ravel() + 1, jj.ravel() + 1, np.zeros(c * r)], -1)
        return pts * self.square_m

    def describe(self) -> str:
        """``"5x7 ChArUco board (100 mm squares, 75 mm DICT_4X4_50 markers)"``."""
        c, r = self.squares
        if self.kind == "charuco":
            return (f"{c}x{r} ChArUco board ({self.square_mm:g} mm squares, {self.marker_mm:g} "
                    f"mm {self.dictionary} markers)")
        return f"{c}x{r} checkerboard ({self.square_mm:g} mm squares)"

    # ------------------------------------------------------------------ OpenCV objects
    def cv_board(self):
        """The ``cv2.aruco.CharucoBoard`` (ChArUco only), in metres."""
        cv2 = import_cv2()
        if self.kind != "charuco":
            raise CalibrationError(f"{self.describe()} has no ArUco markers")
        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        board = cv2.aruco.CharucoBoard(self.squares, self.square_m, self.marker_mm / 1000.0, d)
        if self.legacy:
            board.setLegacyPattern(True)
        return board

    def image(self, px_per_square: int = 40, margin_squares: float = 0.5) -> np.ndarray:
        """The printable board as a grey ``[H, W]`` uint8 image with a white margin."""
        cv2 = import_cv2()
        c, r = self.squares
        m = round(margin_squares * px_per_square)
        w, h = c * px_per_square, r * px_per_square
        if self.kind == "charuco":
            img = self.cv_board().generateImage((w, h), marginSize=0, borderBits=1)
        else:
            jj, ii = np.mgrid[0:h, 0:w] // px_per_square
            img = np.where((ii + jj) % 2 == 0, 0, 255).astype(np.uint8)
        return cv2.copyMakeBorder(img, m, m, m, m, cv2.BORDER_CONSTANT, value=255)


#: Common boards, by name. Sizes are the tools' defaults as printed at 100 %.
BOARD_PRESETS: dict[str, BoardSpec] = {
    # anipose's example config: 10x7 squares, 25 mm squares, 18.75 mm 4x4 markers.
    "anipose": BoardSpec("charuco", (10, 7), 25.0, 18.75, "DICT_4X4_50"),
    # FreeMoCap's default board: 5x7 squares of DICT_4X4_250 markers (US-letter print).
    "freemocap": BoardSpec("charuco", (5, 7), 38.0, 30.0, "DICT_4X4_250"),
    # Caliscope's default: 4x5 squares, DICT_4X4_50 markers.
    "caliscope": BoardSpec("charuco", (4, 5), 54.0, 40.5, "DICT_4X4_50"),
    # A poster-sized board for rooms (A0 print): 5x7 squares of 100 mm, 75 mm markers.
    "charuco-a0": BoardSpec("charuco", (5, 7), 100.0, 75.0, "DICT_4X4_50"),
    # The classic OpenCV checkerboard (9x6 inner corners = 10x7 squares), A4 print.
    "opencv-checkerboard": BoardSpec("checkerboard", (10, 7), 25.0),
    # Pose2Sim's example intrinsics board: 5x8 squares (4x7 inner corners) of 60 mm.
    "pose2sim": BoardSpec("checkerboard", (5, 8), 60.0),
}


def parse_squares(text: str) -> tuple[int, int]:
    """``"5x7"`` -> (5, 7) (columns x rows of squares)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX*,]\s*(\d+)\s*", str(text))
    if not m:
        raise CalibrationError(f"board squares must read COLUMNSxROWS such as 5x7, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def board_from_options(board: str, squares: str | tuple[int, int] | None = None,
                       square_mm: float | None = None, marker_mm: float | None = None,
                       dictionary: str | None = None, legacy: bool = False) -> BoardSpec:
    """A :class:`BoardSpec` from a kind or preset name plus overrides (CLI / panel options).

    ``board`` is ``"charuco"``, ``"checkerboard"`` or a :data:`BOARD_PRESETS` name; a
    preset's values are used where an option is None.
    """
    name = (board or "").lower()
    base = BOARD_PRESETS.get(name)
    if base is None and name not in BOARD_KINDS:
        raise CalibrationError(f"unknown board {board!r}; expected {' or '.join(BOARD_KINDS)} "
                               f"or a preset: {', '.join(BOARD_PRESETS)}")
    kind = base.kind if base else name
    if isinstance(squares, str):
        squares = parse_squares(squares)
    squares = squares or (base.squares if base else None)
    square_mm = square_mm if square_mm is not None else (base.square_mm if base else None)
    if squares is None or square_mm is None:
        raise CalibrationError(f"a {kind} board needs its squares (e.g. 5x7) and square size "
                               "in mm (or pick a preset: " + ", ".join(BOARD_PRESETS) + ")")
    if kind == "charuco":
        marker_mm = marker_mm if marker_mm is not None else (base.marker_mm if base else None)
        dictionary = dictionary or (base.dictionary if base else "DICT_4X4_50")
        if marker_mm is None:
            raise CalibrationError("a ChArUco board needs its marker size in mm",
                                   option="marker_mm")
    else:
        marker_mm, dictionary = None, None
    return BoardSpec(kind, squares, float(square_mm), marker_mm, dictionary, legacy)


def import_cv2():
    """``cv2`` with the ArUco module, or a clear error naming the requirement."""
    try:
        import cv2
    except ImportError:
        raise CalibrationError("board calibration needs OpenCV: install requirements/detect.txt "
                               "(opencv-contrib-python)") from None
    if not hasattr(cv2, "aruco"):
        raise CalibrationError("this OpenCV build has no ArUco module; install "
                               "opencv-contrib-python (requirements/detect.txt)")
    return cv2
