"""The widget-heavy notebooks in the classic-style Notebook 7 interface, in headless Chromium.

A module of its own: one Playwright driver runs at a time, and the JupyterLab module's is
closed before this one starts.
"""

from __future__ import annotations

import pytest

from .test_browser import ROOT, WIDGET_HEAVY, session_for, verdict

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def notebook7():
    with session_for("notebook") as session:
        yield session
        session.report()


@pytest.mark.parametrize("name", WIDGET_HEAVY)
def test_notebook_in_notebook7(notebook7, name):
    result = notebook7.check(ROOT / "notebooks" / name)
    assert result["ok"], verdict(result)
