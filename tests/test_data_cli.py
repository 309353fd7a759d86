"""``eligo data``: info, generate (with a word stream) and show, on small generated sets."""

from __future__ import annotations

import numpy as np

from eligo.cli import main
from eligo.data.stream import decode_stream


def test_data_info_generate_and_show(tmp_path, capsys):
    cache = ["--cache-dir", str(tmp_path / "cache"), "--n-samples", "6"]
    assert main(["data", "info", "gestures", *cache]) == 0
    assert "gestures/train: 6 samples, T=20, 512 inputs, 10 classes" in capsys.readouterr().out
    assert main(["data", "generate", "digits", *cache, "--words", str(tmp_path / "w.bin")]) == 0
    out = capsys.readouterr().out
    assert "digits/test: 6 samples" in out and "cache:" in out
    samples = decode_stream(np.fromfile(tmp_path / "w.bin", dtype="<u4"), 512)
    assert len(samples) == 6 and all(s.label is not None for s in samples)
    assert main(["data", "show", "gestures", "--index", "3", "--out", str(tmp_path / "g.png")]) == 0
    png = (tmp_path / "g.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
