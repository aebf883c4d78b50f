"""DeepLabCut predictions: CSV and HDF5 (one camera per file).

DeepLabCut writes a pandas frame with column levels ``scorer / bodyparts / coords``
(multi-animal projects add ``individuals`` after ``scorer``), coords ``x, y,
likelihood``, one row per frame. CSV: those levels are the first 3 (or 4) rows, then one
row per frame whose first cell is the frame index (or an image path whose last number is
taken). HDF5: pandas' PyTables "table" layout under the key ``df_with_missing``; it is
read with h5py (no pandas needed) and the column labels come from the table's attributes,
which PyTables stores as protocol-0 pickles of lists of strings: they are decoded with an
unpickler that refuses every class, so a crafted file cannot run code.
Each individual is a candidate person (see ``people.py``). The camera is the file stem
before ``DLC_`` (``cam1DLC_resnet50_...`` -> ``cam1``).
"""

from __future__ import annotations

import csv
import io
import pickle
import re
from pathlib import Path

import numpy as np

from ..errors import KeypointError
from ._assemble import CameraTrack


def camera_from_stem(stem: str) -> str:
    return re.split(r"DLC_|DeepCut_", stem, maxsplit=1)[0].rstrip("_-") or stem


class _NoClassUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _safe_unpickle(raw: object, what: str) -> object:
    data = bytes(raw) if not isinstance(raw, bytes) else raw
    try:
        return _NoClassUnpickler(io.BytesIO(data)).load()
    except Exception:
        raise KeypointError(f"{what}: unreadable column labels") from None


def _table(columns: list[tuple[str, ...]], levels: list[str], values: np.ndarray,
           frames: np.ndarray, path: Path) -> tuple[list[str], dict[int, np.ndarray]]:
    """Body-part names and frame -> candidates [P, J, 3] from labelled columns."""
    try:
        i_part, i_coord = levels.index("bodyparts"), levels.index("coords")
    except ValueError:
        raise KeypointError(f"{path}: expected column levels scorer/bodyparts/coords, "
                            f"got {levels}") from None
    i_ind = levels.index("individuals") if "individuals" in levels else None
    parts: list[str] = []
    people: list[str] = []
    for col in columns:
        if len(col) != len(levels):
            raise KeypointError(f"{path}: column {col} does not match levels {levels}")
        if col[i_part] not in parts:
            parts.append(col[i_part])
        ind = col[i_ind] if i_ind is not None else ""
        if ind not in people:
            people.append(ind)
    if values.ndim != 2 or values.shape[1] != len(columns):
        raise KeypointError(f"{path}: {values.shape[-1] if values.ndim else 0} values per row "
                            f"for {len(columns)} columns")
    cube = np.zeros((values.shape[0], len(people), len(parts), 3))
    seen = np.zeros((len(people), len(parts), 3), dtype=bool)
    coord_index = {"x": 0, "y": 1, "likelihood": 2}
    for c, col in enumerate(columns):
        k = coord_index.get(col[i_coord])
        if k is None:
            raise KeypointError(f"{path}: unknown coordinate {col[i_coord]!r} "
                                "(expected x, y, likelihood)")
        p = people.index(col[i_ind] if i_ind is not None else "")
        j = parts.index(col[i_part])
        cube[:, p, j, k] = values[:, c]
        seen[p, j, k] = True
    incomplete = [parts[j] for j in range(len(parts)) if not seen[:, j].any(axis=0).all()]
    if incomplete:
        raise KeypointError(f"{path}: body part(s) {incomplete} lack x, y or likelihood")
    cube[..., 2] = np.clip(np.nan_to_num(cube[..., 2], nan=0.0), 0.0, 1.0)
    if len(set(frames.tolist())) != len(frames):
        raise KeypointError(f"{path}: repeated frame numbers")
    return parts, {int(f): cube[i] for i, f in enumerate(frames)}


def _frame_number(cell: str, row: int, path: Path) -> int:
    digits = re.findall(r"\d+", cell)
    if not digits:
        raise KeypointError(f"{path}: row {row}: frame index {cell!r} has no number")
    return int(digits[-1])


def read_dlc_csv(path: Path) -> tuple[CameraTrack, list[str]]:
    """One camera from a DeepLabCut CSV; returns the track and its body-part names."""
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise KeypointError(f"{path}: not a readable CSV ({exc})") from None
    n_head = 0
    while n_head < len(rows) and rows[n_head] and rows[n_head][0] in (
            "scorer", "individuals", "bodyparts", "coords"):
        n_head += 1
    levels = [r[0] for r in rows[:n_head]]
    if n_head < 3 or levels[0] != "scorer":
        raise KeypointError(f"{path}: expected DeepLabCut header rows scorer, [individuals,] "
                            f"bodyparts, coords; found {levels}")
    width = len(rows[0])
    if any(len(r) != width for r in rows[:n_head]):
        raise KeypointError(f"{path}: header rows have different lengths")
    columns = [tuple(r[c] for r in rows[:n_head]) for c in range(1, width)]
    body = [r for r in rows[n_head:] if r]
    frames, values = [], np.zeros((len(body), width - 1))
    for i, r in enumerate(body):
        if len(r) != width:
            raise KeypointError(f"{path}: row {n_head + i + 1} has {len(r)} cells, "
                                f"expected {width}")
        frames.append(_frame_number(r[0], n_head + i + 1, path))
        for c, cell in enumerate(r[1:]):
            try:
                values[i, c] = float(cell) if cell.strip() else np.nan
            except ValueError:
                raise KeypointError(f"{path}: row {n_head + i + 1}, column {c + 2}: expected a "
                                    f"number, got {cell!r}") from None
    parts, table = _table(columns, levels, values, np.array(frames, dtype=int), path)
    return CameraTrack(camera_from_stem(path.stem), table, str(path)), parts


def read_dlc_h5(path: Path) -> tuple[CameraTrack, list[str]]:
    """One camera from a DeepLabCut ``.h5`` (pandas/PyTables table layout, via h5py)."""
    try:
        columns, levels, values, frames = _read_h5_table(path)
    except KeypointError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise KeypointError(f"{path}: not a readable DeepLabCut HDF5 file ({exc})") from None
    if not np.issubdtype(frames.dtype, np.integer):
        raise KeypointError(f"{path}: the frame index must be integers")
    parts, data = _table(columns, levels, values.reshape(len(values), -1),
                         frames.astype(int), path)
    return CameraTrack(camera_from_stem(path.stem), data, str(path)), parts


def _read_h5_table(path: Path) -> tuple[list[tuple[str, ...]], list[str], np.ndarray,
                                         np.ndarray]:
    """(column labels, level names, values [F, C], frame index [F]) of a pandas table."""
    import h5py

    with h5py.File(path, "r") as fh:
        keys = [k for k in fh if isinstance(fh[k], h5py.Group) and "table" in fh[k]]
        if not keys:
            raise KeypointError(f"{path}: no pandas table (expected the key "
                                "'df_with_missing' written by DeepLabCut)")
        group = fh["df_with_missing"] if "df_with_missing" in keys else fh[keys[0]]
        table = group["table"]
        names = table.dtype.names or ()
        if "values_block_0" not in names or len([n for n in names if
                                                 n.startswith("values_block")]) != 1:
            raise KeypointError(f"{path}: expected one float block 'values_block_0' in the "
                                f"table, found fields {names}")
        info = _safe_unpickle(group.attrs.get("info", b"N."), f"{path}: info")
        axes = _safe_unpickle(group.attrs.get("non_index_axes", b"N."), f"{path}: columns")
        try:
            levels = [str(n) for n in info[1]["names"]]
            columns = [tuple(str(x) for x in c) for c in axes[0][1]]
        except (TypeError, KeyError, IndexError):
            raise KeypointError(f"{path}: column labels are not the DeepLabCut multi-index "
                                "(scorer/bodyparts/coords)") from None
        rows = table[()]
        values = np.asarray(rows["values_block_0"], dtype=float)
        frames = np.asarray(rows["index"]) if "index" in names else np.arange(len(rows))
    return columns, levels, values, frames
