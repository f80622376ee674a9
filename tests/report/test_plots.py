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


# ------------------------------------------------ every plot on synthetic documents of the schema
from hirisearch.report import plots  # noqa: E402
from tests.report.synthetic import DOCS  # noqa: E402


def _check(files: list[Path], *labels: str) -> str:
    assert [p.suffix for p in files] == [".png", ".svg"]
    img = mpimg.imread(files[0])
    assert img.shape[0] > 200 and img.shape[1] > 400
    assert img[..., :3].std() > 0.05, "the image is blank"
    svg = files[1].read_text()
    for label in labels:
        assert label in svg, f"{label!r} missing from {files[1].name}"
    return svg


def test_stage_breakdown(tmp_path: Path) -> None:
    results = DOCS["compare"]()["results"]
    files = plots.stage_breakdown(results, tmp_path / "stages.png", formats=("svg",))
    _check(files, "GFLOPs per stage, at 448x448, batch 1", "parameters per stage (M)", "stage3",
           "Swin-T", "HIRI-ViT-S", "attention included")  # fmt: skip


def test_stage_breakdown_labels_mixed_resolutions(tmp_path: Path) -> None:
    from tests.report.synthetic import profile_result

    results = [profile_result("A", "a.yaml", img_size=224), profile_result("A", "a.yaml")]
    files = plots.stage_breakdown(results, tmp_path / "s.png", formats=("svg",))
    _check(files, "at each model's input (in its label)", "@224", "@448")


def test_operator_shares(tmp_path: Path) -> None:
    results = DOCS["compare"]()["results"]
    files = plots.operator_shares(results, tmp_path / "ops.png", formats=("svg",))
    # synthetic categories: conv 1/5, linear 1/2, attention the rest, norm 1/100 of the MACs
    _check(files, "convolution", "linear (nn.Linear)", "attention matmuls",
           "normalisation (counted separately)", "50%", "20%", "at 448x448")  # fmt: skip


def test_resolution_scaling_from_a_sweep(tmp_path: Path) -> None:
    series = plots.series_from_sweep(DOCS["sweep"]())
    assert [s.name for s in series] == ["HIRI-ViT-S", "DeiT-S", "Swin-T"]
    assert series[2].img_sizes == (224, 448, 672, 896)  # the sizes Swin-T takes in the document
    files = plots.resolution_scaling(
        series, tmp_path / "sc.png", formats=("svg",), with_params=True
    )
    _check(files, "GFLOPs (log), batch 1", "parameters (M)", "input resolution (pixels per side)")


def test_search_front_in_the_objective_plane(tmp_path: Path) -> None:
    from hirisearch.report.search_plot import search_front

    doc = DOCS["search"]()
    front = sum(t["pareto"] for t in doc["trials"])
    infeasible = sum(not t["feasible"] for t in doc["trials"])
    names = [o["name"] for o in doc["objectives"]]
    files = search_front(doc, tmp_path / "search.png", formats=("svg",))
    svg = _check(files, f"Pareto front ({front})", f"infeasible ({infeasible})", "at 448x448",
                 "objectives' plane")  # fmt: skip
    assert "GFLOPs" not in svg or "gmacs" in names or len(names) == 1  # the objectives' plane


def test_search_front_marks_the_base_spec_and_pairs_three_objectives(tmp_path: Path) -> None:
    from hirisearch.report.search_plot import search_front

    doc = dict(DOCS["search"]())
    t0 = doc["trials"][0]
    names = list(t0["objectives"])[:1] + ["latency_ms", "activations"]
    doc["objectives"] = [{"name": n, "direction": "minimize"} for n in names]
    doc["trials"] = [
        {**t, "objectives": {n: 1.0 + k + j for j, n in enumerate(names)}}
        for k, t in enumerate(doc["trials"])
    ]
    base = {"name": "BASE-SPEC", "feasible": False, "objectives": dict.fromkeys(names, 2.5)}
    doc["run"] = {"base": base}
    doc["budgets"] = {"latency_ms": 3.0}
    files = search_front(doc, tmp_path / "pairs.png", formats=("svg",))
    _check(files, "base spec: BASE-SPEC, outside the budgets", "predicted latency (ms)",
           "activations (M)", "budget latency_ms &lt;= 3")  # fmt: skip


def test_latency_vs_gmacs(tmp_path: Path) -> None:
    recs = DOCS["bench"]()["records"]
    files = plots.latency_vs_gmacs(recs, tmp_path / "lat.png", formats=("svg",))
    # HIRI-ViT-S on the CPU: 4.96 GMACs in 61 ms = 81 GMACs/s
    _check(files, "81 GMACs/s", "cpu, fp32", "cuda, fp16", "at 448x448", "(ms, log)")
