"""The HTML report in a real browser: headless Chromium loads report.html, every embedded plot
decodes (complete, naturalWidth > 0), the tables are there, and a screenshot is taken.

How: a copy of the report gets a small inline script that, on the window's load event, records
the image and table counts as attributes of <body>; ``--dump-dom`` prints the DOM after the load.
The report itself is screenshotted unmodified. Debian's ``chromium`` package provides the browser
(``apt-get install -y chromium``); where it is absent the test skips with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from hirisearch.report.run.save import write_run
from tests.report.synthetic import DOCS

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var b = document.body;
  b.setAttribute("data-images", String(imgs.length));
  b.setAttribute("data-images-loaded", String(ok.length));
  b.setAttribute("data-tables", String(document.querySelectorAll("table").length));
  b.setAttribute("data-rows", String(document.querySelectorAll("tbody tr").length));
});
</script>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    env = {**os.environ, "HOME": str(tmp)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.mark.parametrize("kind", sorted(DOCS))
def test_report_html_in_headless_chromium(kind: str, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium not installed (apt-get install -y chromium); CI installs it")
    run = tmp_path / "run"
    files = write_run(run, kind, DOCS[kind]())
    page = files.html.read_text()
    expected_imgs = page.count("<img ")
    expected_tables = page.count("<table>")
    assert expected_imgs >= 1 and expected_tables >= 1

    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    res = _run(browser, tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    body = re.search(r"<body[^>]*>", res.stdout)
    assert res.returncode == 0 and body, res.stderr[-2000:]
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body.group(0)))
    assert attrs.get("images") == str(expected_imgs), (attrs, res.stderr[-2000:])
    assert attrs["images-loaded"] == attrs["images"], "an embedded plot did not decode"
    assert attrs["tables"] == str(expected_tables) and int(attrs["rows"]) > 0

    shot = tmp_path / f"{kind}.png"
    res = _run(
        browser, tmp_path, "--window-size=1280,2000", f"--screenshot={shot}", files.html.as_uri()
    )
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    img = mpimg.imread(shot)
    assert img.shape[:2] == (2000, 1280)
    assert img[..., :3].std() > 0.05, "the screenshot is blank"
    keep = os.environ.get("HIRISEARCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
