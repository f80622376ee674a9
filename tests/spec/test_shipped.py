"""Shipped specs by name: from any directory, and inside a built wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hirisearch.cli import app
from hirisearch.errors import SpecError
from hirisearch.ops.search.space import load_space
from hirisearch.spec import load_spec
from hirisearch.spec.shipped import SHIPPED_DIR, shipped_specs

ROOT = Path(__file__).resolve().parents[2]
MODEL_FILES = sorted(p for p in (ROOT / "specs").glob("*/*.yaml") if p.parent.name != "search")
runner = CliRunner()


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no specs/ folder here


def test_the_clone_specs_folder_is_the_shipped_one() -> None:
    assert (ROOT / "specs").resolve() == SHIPPED_DIR
    assert [path.name for _, path in shipped_specs()] == [p.name for p in MODEL_FILES]


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_spec_loads_by_name(path: Path) -> None:
    name = f"{path.parent.name}/{path.stem}"
    assert load_spec(name) == load_spec(path)
    assert load_spec(f"{name}.yaml") == load_spec(path)


def test_an_existing_path_wins_over_a_shipped_name(tmp_path: Path) -> None:
    (tmp_path / "swin").mkdir()
    text = (SHIPPED_DIR / "swin" / "t.yaml").read_text().replace("Swin-T", "My-Swin")
    (tmp_path / "swin" / "t.yaml").write_text(text)
    assert load_spec("swin/t.yaml").name == "My-Swin"
    assert load_spec("swin/t").name == "Swin-T"


def test_an_unknown_name_is_one_line() -> None:
    with pytest.raises(SpecError) as e:
        load_spec("swin/x")
    assert e.value.one_line() == (
        "swin/x: no such file, and no shipped spec of that name (`hirisearch list` shows them)"
    )


def test_a_shipped_space_loads_by_name_with_its_base() -> None:
    space = load_space("search/swin_t_448")
    assert space == load_space(SHIPPED_DIR / "search" / "swin_t_448.yaml")


def test_list_and_profile_by_name_from_another_folder() -> None:
    listed = runner.invoke(app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    refs = {row["ref"] for row in json.loads(listed.stdout)["specs"]}
    assert refs == {f"{p.parent.name}/{p.stem}" for p in MODEL_FILES}
    by_name = runner.invoke(app, ["profile", "hiri_vit/s", "--res", "448", "--no-trace", "--json"])
    by_path = runner.invoke(
        app,
        ["profile", str(SHIPPED_DIR / "hiri_vit/s.yaml"), "--res", "448", "--no-trace", "--json"],
    )
    assert by_name.exit_code == 0, by_name.output
    assert json.loads(by_name.stdout)["macs"] == json.loads(by_path.stdout)["macs"]


def test_the_wheel_ships_every_spec_and_space(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode != 0 and "No module named" in out.stderr:
        pytest.skip(f"cannot build a wheel here: {out.stderr.strip().splitlines()[-1]}")
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("hirisearch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"hirisearch/specs/{p.parent.name}/{p.name}" for p in (ROOT / "specs").glob("*/*.yaml")
    }
    assert expected <= names
    assert not any(n.startswith("hirisearch/specs/") and n.count("/") == 2 for n in names)
