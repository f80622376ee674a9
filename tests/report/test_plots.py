from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg

from hirisearch.report.plots import ScalingSeries, resolution_scaling


def test_resolution_scaling_writes_png_and_svg(tmp_path: Path) -> None:
    series = [
        ScalingSeries("A", "hiri_vit", (224, 448), (1.1, 4.9)),
        ScalingSeries("B", "vit", (224, 448), (4.6, 22.0)),
    ]
    out = resolution_scaling(series, tmp_path / "s.png", formats=("svg",))
    assert [p.suffix for p in out] == [".png", ".svg"]
    img = mpimg.imread(out[0])
    assert img.shape[0] > 300 and img.shape[1] > 500
    assert "GFLOPs" in out[1].read_text()
