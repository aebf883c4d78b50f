"""OpenCV FileStorage calibrations (YAML and XML) and EasyMocap ``intri.yml``/``extri.yml``.

The YAML reader handles the subset OpenCV writes: a ``%YAML:1.0`` header, block
mappings and sequences by indentation, ``!!opencv-matrix`` nodes (``rows``, ``cols``,
``dt``, ``data``), flow lists that span lines, quoted or bare scalars and ``#``
comments. XML documents (``<opencv_storage>``) go through :mod:`xml.etree`.

Camera layouts recognised in a document:
- EasyMocap / multi-camera: ``names`` (list) and per-camera keys ``K_<name>``,
  ``dist_<name>`` (intrinsics) and ``Rot_<name>`` (3x3) or ``R_<name>`` (Rodrigues),
  ``T_<name>`` (extrinsics); optional ``H_<name>``, ``W_<name>`` image size. EasyMocap
  keeps them in two files (``intri.yml`` + ``extri.yml`` side by side).
- One camera per document (OpenCV's calibration sample, ROS): ``camera_matrix`` /
  ``cameraMatrix`` / ``K``, ``distortion_coefficients`` / ``distCoeffs`` / ``D``,
  ``image_width`` + ``image_height`` (or ``image_size``), optional extrinsics ``R`` /
  ``rvec`` and ``T`` / ``tvec`` (identity and zero otherwise), optional
  ``distortion_model: fisheye`` / ``equidistant``.
- One camera per top-level mapping (``cam0: {camera_matrix: ..., ...}``).
Image sizes that are not stored are estimated as twice the principal point.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..camera import Camera, rotation_from_rodrigues
from ..errors import CalibrationError
from ._common import (
    detect_scale,
    image_size,
    make_camera,
    number,
    numbers,
    size_from_principal_point,
    where,
)

# ------------------------------------------------------------------------------ YAML
_KEY = re.compile(r"^([A-Za-z_][\w.\- ]*|\"[^\"]*\"|'[^']*')\s*:(?:\s+(.*)|)$")


def _strip_comment(line: str) -> str:
    out, quote = [], None
    for ch in line:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out).rstrip()


def _scalar(text: str) -> object:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    low = text.lower()
    if low in (".nan", "nan"):
        return float("nan")
    if low in (".inf", "inf", "-.inf", "-inf"):
        return float("-inf") if low.startswith("-") else float("inf")
    if low in ("true", "false"):
        return low == "true"
    return text


def _flow(text: str, ctx: str) -> object:
    """A YAML flow collection ``[a, b, [c]]`` or ``{k: v}`` (no nesting of maps in lists)."""
    text = text.strip()
    if text.startswith("{"):
        if not text.endswith("}"):
            raise CalibrationError(f"{ctx}: unterminated '{{'")
        out: dict = {}
        for part in filter(None, (p.strip() for p in text[1:-1].split(","))):
            k, sep, v = part.partition(":")
            if not sep:
                raise CalibrationError(f"{ctx}: expected 'key: value' in {text!r:.60}")
            out[k.strip().strip("\"'")] = _flow(v, ctx)
        return out
    if not text.startswith("["):
        return _scalar(text)
    stack: list[list] = [[]]
    token = ""
    for ch in text:
        if ch == "[":
            stack.append([])
        elif ch in ",]":
            if token.strip():
                stack[-1].append(_scalar(token))
            token = ""
            if ch == "]":
                if len(stack) < 2:
                    raise CalibrationError(f"{ctx}: unbalanced ']'")
                done = stack.pop()
                stack[-1].append(done)
        else:
            token += ch
    if len(stack) != 1 or token.strip() or len(stack[0]) != 1:
        raise CalibrationError(f"{ctx}: malformed flow list {text!r:.60}")
    return stack[0][0]


class _YamlReader:
    """Indentation-based reader for the FileStorage YAML subset."""

    def __init__(self, text: str, path: Path) -> None:
        self.path = path
        self.lines: list[tuple[int, int, str]] = []  # (line number, indent, content)
        for no, raw in enumerate(text.splitlines(), 1):
            if raw.startswith(("%YAML", "---", "...")):
                continue
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise CalibrationError(f"{path}, line {no}: tabs in YAML indentation")
            line = _strip_comment(raw)
            if line.strip():
                self.lines.append((no, len(line) - len(line.lstrip()), line.strip()))
        self.i = 0

    def error(self, no: int, msg: str) -> CalibrationError:
        return CalibrationError(f"{self.path}, line {no}: {msg}")

    def parse(self) -> dict:
        if not self.lines:
            raise CalibrationError(f"{self.path}: empty FileStorage document")
        value = self.block(self.lines[0][1])
        if self.i != len(self.lines):
            no = self.lines[self.i][0]
            raise self.error(no, "unexpected indentation")
        if not isinstance(value, dict):
            raise CalibrationError(f"{self.path}: expected a mapping at the top level")
        return value

    def block(self, indent: int) -> object:
        content = self.lines[self.i][2]
        if content.startswith("- ") or content == "-":
            return self.sequence(indent)
        return self.mapping(indent)

    def sequence(self, indent: int) -> list:
        out = []
        while self.i < len(self.lines):
            no, ind, content = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent or not (content.startswith("- ") or content == "-"):
                raise self.error(no, "expected '- item' in a sequence")
            self.i += 1
            rest = content[1:].strip()
            out.append(self.value(rest, indent, no))
        return out

    def mapping(self, indent: int) -> dict:
        out: dict = {}
        while self.i < len(self.lines):
            no, ind, content = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent:
                raise self.error(no, "unexpected indentation")
            m = _KEY.match(content)
            if not m:
                raise self.error(no, f"expected 'key: value', got {content!r:.60}")
            key = m.group(1).strip("\"'")
            self.i += 1
            out[key] = self.value((m.group(2) or "").strip(), indent, no)
        return out

    def value(self, rest: str, indent: int, no: int) -> object:
        tag = None
        if rest.startswith("!!"):
            tag, _, rest = rest.partition(" ")
            rest = rest.strip()
        if rest.startswith(("[", "{")):
            rest = self.continue_flow(rest, no)
            value = _flow(rest, f"{self.path}, line {no}")
        elif rest:
            value = _scalar(rest)
        elif self.i < len(self.lines) and self.lines[self.i][1] > indent:
            value = self.block(self.lines[self.i][1])
        elif (self.i < len(self.lines) and self.lines[self.i][1] == indent
              and self.lines[self.i][2].startswith("-")):
            value = self.sequence(indent)  # "key:\n- a\n- b" (same indent)
        else:
            value = None
        if tag == "!!opencv-matrix":
            return _matrix(value, f"{self.path}, line {no}")
        return value

    def continue_flow(self, rest: str, no: int) -> str:
        depth = rest.count("[") + rest.count("{") - rest.count("]") - rest.count("}")
        while depth > 0:
            if self.i >= len(self.lines):
                raise self.error(no, "unterminated flow list")
            more = self.lines[self.i][2]
            self.i += 1
            rest += " " + more
            depth += more.count("[") + more.count("{") - more.count("]") - more.count("}")
        return rest


def _matrix(node: object, ctx: str) -> np.ndarray:
    """An ``!!opencv-matrix`` / ``type_id="opencv-matrix"`` node -> [rows, cols] array."""
    if not isinstance(node, Mapping):
        raise CalibrationError(f"{ctx}: opencv-matrix must have rows, cols, dt, data")
    rows = number(node.get("rows"), f"{ctx}: rows")
    cols = number(node.get("cols"), f"{ctx}: cols")
    if rows <= 0 or cols <= 0 or rows != int(rows) or cols != int(cols) or rows * cols > 1e6:
        raise CalibrationError(f"{ctx}: opencv-matrix rows/cols must be positive integers, "
                               f"got {rows:g}x{cols:g}")
    data = node.get("data")
    if not isinstance(data, list):
        raise CalibrationError(f"{ctx}: opencv-matrix data must be a list")
    arr = numbers(data, None, f"{ctx}: opencv-matrix data", sizes=(int(rows * cols),))
    return arr.reshape(int(rows), int(cols))


def _read_xml(path: Path) -> dict:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise CalibrationError(f"{path}: not valid XML ({exc})") from None
    if root.tag != "opencv_storage":
        raise CalibrationError(f"{path}: expected <opencv_storage>, found <{root.tag}>")

    def node(el: ET.Element) -> object:
        ctx = f"{path}, <{el.tag}>"
        if el.get("type_id") == "opencv-matrix":
            fields = {c.tag: c.text or "" for c in el}
            data = [_scalar(x) for x in fields.get("data", "").split()]
            return _matrix({"rows": _scalar(fields.get("rows", "")),
                            "cols": _scalar(fields.get("cols", "")), "data": data}, ctx)
        children = list(el)
        if children:
            if all(c.tag == "_" for c in children):
                return [node(c) for c in children]
            return {c.tag: node(c) for c in children}
        parts = (el.text or "").split()
        if len(parts) > 1:
            return [_scalar(p) for p in parts]
        return _scalar(parts[0]) if parts else None

    return {c.tag: node(c) for c in root}


def read_storage(path: Path) -> dict:
    """A FileStorage document (YAML or XML) as nested dicts, lists and arrays."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CalibrationError(f"{path}: not a text FileStorage file") from None
    if text.lstrip("\ufeff \r\n\t").startswith("<"):
        return _read_xml(path)
    return _YamlReader(text, path).parse()


# ------------------------------------------------------------------------------ cameras
_K_KEYS = ("camera_matrix", "cameraMatrix", "K", "intrinsic", "intrinsics", "M")
_D_KEYS = ("distortion_coefficients", "distCoeffs", "dist_coeffs", "D", "dist", "distortion")
_R_KEYS = ("R", "Rot", "rotation", "rvec", "rvecs")
_T_KEYS = ("T", "t", "translation", "tvec", "tvecs")


def _first(doc: Mapping, keys: tuple[str, ...]) -> object | None:
    for k in keys:
        if k in doc:
            return doc[k]
    return None


def _rotation(value: object, what: str) -> np.ndarray:
    arr = numbers(value, None, what, sizes=(3, 9))
    return rotation_from_rodrigues(arr) if arr.size == 3 else arr.reshape(3, 3)


def _names(doc: Mapping, path: Path) -> list[str] | None:
    names = doc.get("names")
    if names is None:
        return None
    if isinstance(names, (str, int)):
        names = [names]
    if not isinstance(names, list) or not names \
            or not all(isinstance(n, (str, int)) and not isinstance(n, bool) for n in names):
        raise CalibrationError(f"{path}: 'names' must be a list of camera names, got {names!r:.60}")
    return [str(n) for n in names]


def _size(doc: Mapping, prefix: str, suffix: str, K: np.ndarray, ctx: str,
          size: tuple[int, int] | None) -> tuple[int, int]:
    w = doc.get(f"{prefix}image_width{suffix}", doc.get(f"W{suffix}"))
    h = doc.get(f"{prefix}image_height{suffix}", doc.get(f"H{suffix}"))
    if w is not None and h is not None:
        return image_size([w, h], f"{ctx}: image width/height")
    both = doc.get(f"image_size{suffix}", doc.get(f"imageSize{suffix}"))
    if both is not None:
        return image_size(both, f"{ctx}: image_size")
    return size if size is not None else size_from_principal_point(K)


def _model(doc: Mapping, ctx: str) -> str:
    model = str(doc.get("distortion_model", doc.get("model", "pinhole"))).lower()
    if model in ("fisheye", "equidistant", "kannala_brandt"):
        return "fisheye"
    if model in ("pinhole", "plumb_bob", "rational_polynomial", "radtan", "opencv"):
        return "pinhole"
    raise CalibrationError(f"{ctx}: unknown distortion model {model!r}")


def _camera_from_fields(doc: Mapping, name: str, path: Path,
                        size: tuple[int, int] | None) -> tuple:
    ctx = where(path, name)
    K_raw = _first(doc, _K_KEYS)
    if K_raw is None:
        raise CalibrationError(f"{ctx}: missing camera matrix (one of {list(_K_KEYS)})")
    K = numbers(K_raw, (3, 3), f"{ctx}: camera matrix")
    model = _model(doc, ctx)
    d_raw = _first(doc, _D_KEYS)
    dist = np.zeros(5) if d_raw is None else numbers(
        d_raw, None, f"{ctx}: distortion", sizes=(4,) if model == "fisheye" else (4, 5, 8, 12, 14))
    if model == "pinhole" and dist.size > 5:
        if np.any(dist[5:] != 0):
            raise CalibrationError(f"{ctx}: rational/thin-prism distortion terms are not "
                                   "supported (only k1, k2, p1, p2, k3)")
        dist = dist[:5]
    r_raw, t_raw = _first(doc, _R_KEYS), _first(doc, _T_KEYS)
    R = np.eye(3) if r_raw is None else _rotation(r_raw, f"{ctx}: rotation")
    t = np.zeros(3) if t_raw is None else numbers(t_raw, (3,), f"{ctx}: translation")
    return name, K, dist, R, t, _size(doc, "", "", K, ctx, size), model


def _per_name_cameras(doc: Mapping, names: list[str], path: Path,
                      size: tuple[int, int] | None) -> list[tuple]:
    out = []
    for name in names:
        ctx = where(path, name)
        K_raw = doc.get(f"K_{name}")
        if K_raw is None:
            raise CalibrationError(f"{ctx}: missing K_{name}")
        K = numbers(K_raw, (3, 3), f"{ctx}: K_{name}")
        d_raw = doc.get(f"dist_{name}", doc.get(f"D_{name}"))
        dist = np.zeros(5) if d_raw is None else numbers(
            d_raw, None, f"{ctx}: dist_{name}", sizes=(4, 5))
        r_raw = doc.get(f"Rot_{name}", doc.get(f"R_{name}"))
        t_raw = doc.get(f"T_{name}")
        if r_raw is None or t_raw is None:
            raise CalibrationError(f"{ctx}: missing extrinsics Rot_{name}/R_{name} and T_{name}")
        R = _rotation(r_raw, f"{ctx}: rotation")
        t = numbers(t_raw, (3,), f"{ctx}: T_{name}")
        wh = _size(doc, "", f"_{name}", K, ctx, size)
        out.append((name, K, dist, R, t, wh, "pinhole"))
    return out


def _build(raw: list[tuple], path: Path, units: str) -> list[Camera]:
    scale = detect_scale([(r[3], r[4]) for r in raw], units, path)
    return [make_camera(path, n, K, d, R, t * scale, s, m) for n, K, d, R, t, s, m in raw]


def sniff_opencv(path: Path) -> str:
    """``"easymocap"`` when a FileStorage document has ``names`` and ``K_<name>``/``R_<name>``
    keys, else ``"opencv"``."""
    try:
        doc = read_storage(path)
    except CalibrationError:
        return "opencv"
    names = doc.get("names")
    if isinstance(names, list) and names and any(
            f"{p}_{names[0]}" in doc for p in ("K", "R", "Rot", "T")):
        return "easymocap"
    return "opencv"


def find_easymocap_pair(path: Path) -> tuple[Path, Path] | None:
    """(intri.yml, extri.yml) for a folder or one of the two files, if both exist."""
    folder = path if path.is_dir() else path.parent
    for ext in (".yml", ".yaml", ".xml"):
        intri, extri = folder / f"intri{ext}", folder / f"extri{ext}"
        if intri.is_file() and extri.is_file():
            return intri, extri
    return None


def read_easymocap(path: Path, size: tuple[int, int] | None = None) -> list[Camera]:
    """EasyMocap cameras from ``intri.yml`` + ``extri.yml`` (a folder or either file);
    a single file holding both intrinsics and extrinsics works too. Metres."""
    pair = find_easymocap_pair(path)
    if pair is not None and (path.is_dir() or path.name.lower().startswith(("intri", "extri"))):
        doc = {**read_storage(pair[1]), **read_storage(pair[0])}
        src = pair[0].parent
    elif path.is_file():
        doc, src = read_storage(path), path
    else:
        raise CalibrationError(f"{path}: expected EasyMocap intri.yml and extri.yml")
    names = _names(doc, src)
    if names is None:
        raise CalibrationError(f"{src}: missing 'names' (the EasyMocap camera list)")
    return _build(_per_name_cameras(doc, names, src, size), src, "m")


def read_opencv(path: Path, units: str = "auto",
                size: tuple[int, int] | None = None) -> list[Camera]:
    """Cameras of a generic OpenCV FileStorage YAML/XML document (see module docstring)."""
    doc = read_storage(path)
    names = _names(doc, path)
    if names is not None:
        raw = _per_name_cameras(doc, names, path, size)
    elif _first(doc, _K_KEYS) is not None:
        name = doc.get("camera_name", path.name.split(".")[0])
        raw = [_camera_from_fields(doc, str(name), path, size)]
    else:
        raw = [_camera_from_fields(v, str(k), path, size) for k, v in doc.items()
               if isinstance(v, Mapping) and _first(v, _K_KEYS) is not None]
        if not raw:
            raise CalibrationError(f"{path}: no camera found (expected a camera matrix key "
                                   f"such as {list(_K_KEYS[:3])}, or 'names' with K_<name>)")
    return _build(raw, path, units)
