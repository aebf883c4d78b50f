"""Frame offsets from the videos' sound (core.audio_sync)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from skelsplat.core.audio_sync import estimate_offsets_audio, read_audio
from skelsplat.core.errors import VideoError
from skelsplat.core.video import write_video

RATE, FPS = 16000, 30.0


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    pcm = np.clip(samples * 32767, -32768, 32767).astype(np.int16)[None]
    with av.open(str(path), "w", format="wav") as c:
        s = c.add_stream("pcm_s16le", rate=rate)
        s.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in s.encode(frame):
            c.mux(packet)
        for packet in s.encode(None):
            c.mux(packet)
    return path


def scene_sound(seconds: float, seed: int) -> np.ndarray:
    """Room noise with claps and footsteps at random instants."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = rng.normal(0, 0.005, n)
    for t in rng.uniform(0, seconds - 0.2, 25):
        i = int(t * RATE)
        k = np.arange(int(0.05 * RATE))
        x[i:i + len(k)] += rng.uniform(0.1, 0.6) * rng.normal(0, 1, len(k)) * np.exp(-k / 300)
    return x


@pytest.mark.parametrize("offsets", [[0, 7, -10, 3], [0, -1, 10, 0]])
def test_audio_offsets_recovered_exactly(tmp_path: Path, offsets: list[int]) -> None:
    master = scene_sound(12.0, 0)
    spf = int(RATE / FPS)
    paths = []
    for v, o in enumerate(offsets):
        # camera v started o frames earlier than the reference: its frame t + o is take t
        start = int(1.0 * RATE) - o * spf
        rec = master[start: start + int(9 * RATE)] + np.random.default_rng(v).normal(
            0, 0.003, int(9 * RATE))
        paths.append(write_wav(tmp_path / f"cam{v + 1}.wav", rec))
    s = estimate_offsets_audio(paths, [p.stem for p in paths], FPS)
    assert list(s.offsets.values()) == offsets, s.lines()
    assert all(s.reliable.values()), s.lines()
    assert len(read_audio(paths[0], 8000)) == pytest.approx(9 * 8000, abs=400)


def test_video_without_audio_names_the_camera(tmp_path: Path) -> None:
    v = write_video(tmp_path / "cam2.mp4", np.zeros((3, 32, 32, 3), np.uint8), fps=FPS)
    a = write_wav(tmp_path / "cam1.wav", scene_sound(2.0, 1))
    with pytest.raises(VideoError, match=r"camera cam2.*no audio track"):
        estimate_offsets_audio([a, v], ["cam1", "cam2"], FPS)
