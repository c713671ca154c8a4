"""Every notebook run in a real JupyterLab in headless Chromium (Notebook 7: test_browser_notebook7.py).

Marked ``browser``: they run with ``--browser``, as ``make test`` does after installing Debian's
chromium and the ``browser`` extra. The checks themselves live in ``tools/browser_check.py``.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
WIDGET_HEAVY = ["00_tour.ipynb", "04_attention.ipynb"]  # the dashboard, and the attention panel's slider

pytestmark = pytest.mark.browser


def session_for(ui: str, names: list[str] | None = None, dark: bool = False):
    """A browser Session over the notebooks of that interface, or a skip that says what is missing."""
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("Playwright is not installed: pip install -e '.[browser]' (make test does)")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed: apt-get install chromium (make test tries)")
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    from browser_check import Session

    names = names or (NOTEBOOKS if ui == "lab" else WIDGET_HEAVY)
    return Session([ROOT / "notebooks" / n for n in names], ui=ui, out=ROOT / "build", dark=dark)


@pytest.fixture(scope="module")
def lab():
    with session_for("lab") as session:
        yield session
        session.report()


def verdict(result: dict) -> str:
    return f"{result['notebook']}: {'; '.join(result['problems'])} (screenshots in build/screenshots/)"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(lab, name):
    result = lab.check(ROOT / "notebooks" / name)
    assert result["ok"], verdict(result)
    assert result["plots_rendered"] >= result["plots_expected"] and not result["external_requests"]


def test_dashboard_tabs_all_draw(lab):
    tour = next((r for r in lab.results if r["notebook"] == "00_tour.ipynb"), None)
    if tour is None:
        tour = lab.check(ROOT / "notebooks" / "00_tour.ipynb")
    tabs = {t["tab"]: t for t in tour.get("dashboard_tabs", [])}
    assert list(tabs) == ["tokenize", "mask", "similarity", "attention", "layers", "finetune"], tour
    assert all(t["ok"] for t in tabs.values()), tabs
    assert tabs["attention"]["slider_changes_figure"]

