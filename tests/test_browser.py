"""Every notebook run in a real JupyterLab in headless Chromium (Notebook 7: test_browser_notebook7.py).

Marked ``browser``: they run with ``--browser``, as ``make test`` does after installing Debian's
chromium and the ``browser`` extra. The checks themselves live in ``tools/browser_check.py``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
WIDGET_HEAVY = ["00_tour.ipynb", "04_attention.ipynb"]  # the dashboard, and the attention panel's slider

pytestmark = pytest.mark.browser


def session_for(ui: str, names: list[str] | None = None, dark: bool = False, **options):
    """A browser Session over the notebooks of that interface, or a skip that says what is missing."""
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("Playwright is not installed: pip install -e '.[browser]' (make test does)")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed: apt-get install chromium (make test tries)")
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    from browser_check import Session

    names = names or (NOTEBOOKS if ui == "lab" else WIDGET_HEAVY)
    return Session([ROOT / "notebooks" / n for n in names], ui=ui, out=ROOT / "build", dark=dark, **options)


@pytest.fixture(scope="module")
def lab(request):
    """JupyterLab over the chosen notebooks; kernels on ATen's generic kernels, each executed notebook saved.

    The saved copies (``build/executed/``) are what nbval then compares with the stored outputs
    (``make nbval-replay``): one execution per notebook serves both checks.
    """
    from .conftest import NOTEBOOK_CACHE, selected_notebooks

    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    from browser_check import GENERIC_KERNELS

    names = selected_notebooks(request.config, NOTEBOOKS)
    shard = "" if names == NOTEBOOKS else "-" + "-".join(n.split("_")[0] for n in names)
    kernels = {**GENERIC_KERNELS, **({"BERT_NB_CACHE": NOTEBOOK_CACHE} if NOTEBOOK_CACHE else {})}
    with session_for("lab", names, kernel_env=kernels, executed=ROOT / "build" / "executed",
                     report_as=f"browser_check{shard}.json") as session:
        yield session
        session.report()


def verdict(result: dict) -> str:
    return f"{result['notebook']}: {'; '.join(result['problems'])} (screenshots in build/screenshots/)"


# seconds one notebook may run on one thread: notebooks teach with small data and few steps; heavy runs go to bench/
BUDGET_S = float(os.environ.get("BERT_NB_NOTEBOOK_BUDGET_S", 120))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(lab, name):
    result = lab.check(ROOT / "notebooks" / name)
    assert result["ok"], verdict(result)
    assert result["plots_rendered"] >= result["plots_expected"] and not result["external_requests"]
    seconds = result.get("execution_seconds")
    assert seconds is not None, f"{name}: JupyterLab recorded no cell timing"
    assert seconds <= BUDGET_S, (f"{name} ran {seconds:.0f} s on one thread, over the {BUDGET_S:.0f} s budget: "
                                 "use less data or fewer steps (quality runs belong in bench/)")


def test_dashboard_tabs_all_draw(lab):
    tour = next((r for r in lab.results if r["notebook"] == "00_tour.ipynb"), None)
    if tour is None:
        tour = lab.check(ROOT / "notebooks" / "00_tour.ipynb")
    tabs = {t["tab"]: t for t in tour.get("dashboard_tabs", [])}
    assert list(tabs) == ["tokenize", "mask", "similarity", "attention", "layers", "finetune"], tour
    assert all(t["ok"] for t in tabs.values()), tabs
    assert tabs["attention"]["slider_changes_figure"]

