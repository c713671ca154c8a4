"""The tour in JupyterLab's dark theme: every bert_nb view and panel stays readable.

The tour shows the token boxes, fill-mask, the corruption view and the dashboard; the check
measures the contrast of every piece of bert_nb text against what is behind it.
"""

from __future__ import annotations

import pytest

from .test_browser import ROOT, session_for, verdict

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dark_lab():
    with session_for("lab", ["00_tour.ipynb"], dark=True) as session:
        yield session
        session.report()


def test_tour_reads_in_the_dark_theme(dark_lab):
    result = dark_lab.check(ROOT / "notebooks" / "00_tour.ipynb")
    assert result["ok"], verdict(result)
    assert result["layout"]["low_contrast"] == []
