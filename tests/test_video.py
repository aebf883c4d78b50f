"""Video probing, decoding, seeking and bad-input errors (core.video)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skelsplat.core.errors import VideoError
from skelsplat.core.footage import demo_take_dir
from skelsplat.core.video import (
    iter_frames,
    list_videos,
    prefetch,
    probe_video,
    read_frame,
    write_video,
)


def _coded_frames(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    """[n, h, w, 3] frames whose brightness encodes the frame index (10 * i + 20)."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        frames[i] = 20 + 10 * i
        frames[i, :8, :8] = (255, 0, 0)  # red marker at the top-left corner
    return frames


def _index_of(rgb: np.ndarray) -> int:
    return round((float(rgb[16:, 16:].mean()) - 20) / 10)


@pytest.fixture(scope="module")
def coded_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "coded.mp4"
    return write_video(path, _coded_frames(20), fps=25, keyframe_interval=6)


def test_probe_reports_size_rate_count_and_codec(coded_video: Path) -> None:
    info = probe_video(coded_video)
    assert (info.n_frames, info.width, info.height, info.rotation) == (20, 64, 48, 0)
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(0.8)
    assert info.codec == "h264"


def test_iter_frames_decodes_in_order_with_a_range(coded_video: Path) -> None:
    got = [(i, _index_of(rgb), rgb.shape, rgb.dtype) for i, rgb in iter_frames(coded_video, 5, 9)]
    assert [g[0] for g in got] == [5, 6, 7, 8]
    assert [g[1] for g in got] == [5, 6, 7, 8]
    assert all(g[2] == (48, 64, 3) and g[3] == np.uint8 for g in got)
    assert len(list(iter_frames(coded_video))) == 20


def test_prefetch_yields_the_same_frames_and_reraises(coded_video: Path) -> None:
    got = [(i, _index_of(f)) for i, f in prefetch(iter_frames(coded_video), depth=2)]
    assert got == [(i, i) for i in range(20)]

    def failing():
        yield 1
        raise VideoError("frame 1 broke")

    with pytest.raises(VideoError, match="frame 1 broke"):
        list(prefetch(failing()))
    early = prefetch(iter_frames(coded_video), depth=2)
    assert next(early)[0] == 0
    early.close()  # stops the decoding thread without reading the rest


@pytest.mark.parametrize("index", [0, 7, 13, 19])
def test_read_frame_seeks_to_the_exact_frame(coded_video: Path, index: int) -> None:
    rgb = read_frame(coded_video, index)
    assert _index_of(rgb) == index
    expected = next(f for i, f in iter_frames(coded_video, index, index + 1))
    assert np.abs(rgb.astype(int) - expected).max() == 0


def test_read_frame_out_of_range_names_file_and_frame(coded_video: Path) -> None:
    with pytest.raises(VideoError, match=r"coded\.mp4.*camera c1.*frame 20.*20 frames"):
        read_frame(coded_video, 20, camera="c1")


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_display_rotation_is_applied(tmp_path: Path, rotation: int) -> None:
    frames = _coded_frames(3, h=32, w=48)
    path = write_video(tmp_path / f"rot{rotation}.mp4", frames, fps=30, rotation=rotation)
    info = probe_video(path)
    assert info.rotation == rotation
    assert info.size == ((32, 48) if rotation in (90, 270) else (48, 32))
    rgb = next(f for _, f in iter_frames(path))
    assert rgb.shape == (info.height, info.width, 3)
    # the red top-left marker moves where a counter-clockwise turn puts it
    red = np.argwhere((rgb[..., 0] > 180) & (rgb[..., 1] < 80))
    centre = red.mean(0)
    H, W = rgb.shape[:2]
    corner = {90: (H - 4, 4), 180: (H - 4, W - 4), 270: (4, W - 4)}[rotation]
    assert np.abs(centre - corner).max() < 2.5


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"nope\.mp4.*camera cam9.*not found"):
        probe_video(tmp_path / "nope.mp4", camera="cam9")


def test_garbage_file_is_a_video_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError, match=r"broken\.mp4.*cannot be opened"):
        probe_video(bad)


def test_zero_frame_video(tmp_path: Path) -> None:
    import av

    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w") as container:  # header and stream, no frames
        stream = container.add_stream("mpeg4", rate=25)
        stream.width = stream.height = 16
        container.start_encoding()
    assert empty.stat().st_size > 0
    with pytest.raises(VideoError, match=r"empty\.mp4.*(zero frames|no video stream)"):
        probe_video(empty)
    with pytest.raises(VideoError, match="no frames to write"):
        write_video(tmp_path / "none.mp4", np.zeros((0, 16, 16, 3), np.uint8))


def test_truncated_video_fails_at_open_or_yields_fewer_frames(tmp_path: Path,
                                                               coded_video: Path) -> None:
    data = coded_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match=r"cut\.mp4"):
        probe_video(cut)  # the moov atom sits at the end: half a file has no index


def test_bad_frame_array_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"\[F, H, W, 3\] uint8"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8), np.uint8))


def test_list_videos_filters_by_suffix(tmp_path: Path) -> None:
    for name in ("b.MP4", "a.mov", "notes.txt", "c.avi"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_videos(tmp_path)] == ["a.mov", "b.MP4", "c.avi"]
    with pytest.raises(VideoError, match="not a folder"):
        list_videos(tmp_path / "notes.txt")


def test_bundled_demo_videos() -> None:
    infos = [probe_video(p) for p in list_videos(demo_take_dir() / "videos")]
    assert [i.path.stem for i in infos] == ["cam01", "cam02", "cam03", "cam04"]
    assert [i.n_frames for i in infos] == [100] * 4
    assert all(i.fps == pytest.approx(60.0) for i in infos)
    assert [i.size for i in infos] == [(1080, 1920), (1080, 1920), (1088, 1920), (1088, 1920)]
    assert [i.codec for i in infos] == ["h264", "vp9", "h264", "h264"]
    assert read_frame(infos[1].path, 99).shape == (1920, 1080, 3)


def test_read_frame_uses_a_known_probe(coded_video: Path) -> None:
    from dataclasses import replace

    info = probe_video(coded_video)
    assert _index_of(read_frame(coded_video, 7, info=info)) == 7
    # the given probe is trusted (no second probe): its frame count bounds the index
    with pytest.raises(VideoError, match="out of range"):
        read_frame(coded_video, 7, info=replace(info, n_frames=5))
