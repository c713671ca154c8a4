"""nbval on outputs a browser saved (tools/nbval_replay.py): a broken stored number and a cell that raised both fail.

``make test`` executes each notebook once, in JupyterLab, and compares the saved copy with the
stored notebook by nbval's rules. These tests feed the comparison copies of a real tutorial
(05, fine-tuning) changed the way a regression would change them, and check that nbval says so,
for that cell only.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "notebooks" / "05_finetuning.ipynb"


def _compare(tmp_path: Path, executed) -> tuple[dict, dict]:
    """Run nbval with the replay plugin on 05 against ``executed``; per-cell outcomes and the plugin's counts."""
    folder = tmp_path / "executed"
    folder.mkdir(exist_ok=True)
    if executed is not None:
        nbformat.write(executed, folder / STORED.name)
    report, junit = tmp_path / "counts.json", tmp_path / "junit.xml"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tools")}
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval_replay", "-q",
                    "--nbval-replay", str(folder), "--nbval-replay-report", str(report), f"--junitxml={junit}",
                    "--nbval-sanitize-with", str(ROOT / "notebooks" / "sanitize.cfg"), str(STORED)],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    import xml.etree.ElementTree as ET

    outcomes = {}
    for case in ET.parse(junit).iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        outcomes[case.get("name")] = ("failed", bad.get("message", "") + (bad.text or "")) if bad is not None else \
            ("skipped", "") if case.find("skipped") is not None else ("passed", "")
    return outcomes, json.loads(report.read_text())[STORED.name]


def _stored():
    return nbformat.read(STORED, as_version=4)


def _code(nb, source_start: str):
    """The code cell whose source starts with ``source_start``, and its number among code cells."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    return next((i, c) for i, c in enumerate(cells) if c.source.startswith(source_start))


def test_the_stored_notebook_against_itself_passes(tmp_path):
    outcomes, counts = _compare(tmp_path, _stored())
    assert {o for o, _ in outcomes.values()} == {"passed"}, outcomes
    checked = [c for c in _stored().cells if c.cell_type == "code"
               and "nbval-ignore-output" not in c.metadata.get("tags", [])]
    assert counts["cells_compared"] == len(checked) and counts["failed"] == 0
    assert counts["outputs_compared"] == sum(len(c.outputs) for c in checked)


def test_a_broken_number_fails_that_cell_only(tmp_path):
    executed = _stored()
    number, cell = _code(executed, "clf.metrics[")
    for out in cell.outputs:  # the held-out accuracy after 3 epochs, in the text and the HTML table
        for mime in ("text/plain", "text/html"):
            assert "0.767" in out.data[mime]
            out.data[mime] = out.data[mime].replace("0.767", "0.768")
    outcomes, counts = _compare(tmp_path, executed)
    failed = {name: why for name, (o, why) in outcomes.items() if o == "failed"}
    assert list(failed) == [f"Cell {number}"], outcomes
    assert "Cell outputs differ" in failed[f"Cell {number}"] and "0.768" in failed[f"Cell {number}"]
    assert counts["failed"] == 1


def test_a_figure_cell_may_differ_but_its_description_may_not(tmp_path):
    executed = _stored()
    _, figure = _code(executed, "from bert_nb.plots import confusion_matrix")
    assert "nbval-ignore-output" in figure.metadata.tags
    figure.outputs = []  # an ignored output: anything goes
    number, words = _code(executed, "# both figures above in words")
    words.outputs[0].text = words.outputs[0].text.replace("[[29  7]", "[[28  8]")
    outcomes, _ = _compare(tmp_path, executed)
    assert [n for n, (o, _) in outcomes.items() if o == "failed"] == [f"Cell {number}"], outcomes


def test_a_cell_that_raised_fails_and_so_do_the_cells_never_run(tmp_path):
    executed = _stored()
    number, cell = _code(executed, "clf.predict([")
    cell.outputs = [nbformat.v4.new_output("error", ename="RuntimeError", evalue="boom",
                                           traceback=["RuntimeError: boom"])]
    later = [c for c in executed.cells if c.cell_type == "code"][number + 1:]
    for c in later:  # Run All stops at an error: the rest keep no count and no output
        c.execution_count, c.outputs = None, []
    outcomes, counts = _compare(tmp_path, executed)
    assert outcomes[f"Cell {number}"][0] == "failed"
    assert "Cell execution caused an exception" in outcomes[f"Cell {number}"][1]
    assert all(outcomes[f"Cell {n}"][0] == "failed" for n in range(number + 1, number + 1 + len(later)))
    assert all(outcomes[f"Cell {n}"][0] == "passed" for n in range(number)), outcomes
    assert counts["failed"] == 1 + len(later)


def test_no_executed_copy_fails_every_cell(tmp_path):
    outcomes, _ = _compare(tmp_path, None)
    assert outcomes and {o for o, _ in outcomes.values()} == {"failed"}
    assert "did not save this notebook" in next(iter(outcomes.values()))[1]


def test_an_edited_cell_is_not_compared_with_an_older_run(tmp_path):
    executed = _stored()
    number, cell = _code(executed, "clf.predict([")
    cell.source = cell.source.replace("beautifully", "wonderfully")
    outcomes, _ = _compare(tmp_path, copy.deepcopy(executed))
    assert outcomes[f"Cell {number}"][0] == "failed" and "not in the notebook the browser saved" in \
        outcomes[f"Cell {number}"][1]


@pytest.mark.parametrize("stamp, seconds", [(("2026-12-03T10:00:00.000Z", "2026-12-03T10:00:12.500Z"), 12.5)])
def test_execution_seconds_add_up_recorded_cell_timing(stamp, seconds):
    sys.path.insert(0, str(ROOT / "tools"))
    from browser_check import _execution_seconds

    timing = {"iopub.execute_input": stamp[0], "shell.execute_reply": stamp[1]}
    nb = {"cells": [{"cell_type": "code", "metadata": {"execution": timing}},
                    {"cell_type": "code", "metadata": {"execution": timing}}, {"cell_type": "markdown", "metadata": {}}]}
    assert _execution_seconds(nb) == 2 * seconds


def test_the_summary_fails_a_notebook_over_budget_unrun_or_differing(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    from test_summary import summarize, table

    def ran(name, seconds, ok=True):
        return {"notebook": name, "ok": ok, "problems": [] if ok else ["2 cells raised"], "execution_seconds": seconds,
                "plots_rendered": 3, "plots_expected": 3, "screenshots": 4, "attempts": 1}

    (tmp_path / "browser_check-a.json").write_text(json.dumps({"ui": "lab", "dark": False, "results": [
        ran("fast.ipynb", 30.0), ran("slow.ipynb", 130.5), ran("broken.ipynb", 10.0, ok=False), ran("differs.ipynb", 5)]}))
    (tmp_path / "browser_check-dark.json").write_text(json.dumps({"ui": "lab", "dark": True, "results": [
        ran("unrun.ipynb", 1.0)]}))  # the dark-theme tour is another check: it does not count as the run
    counts = {"cells": 4, "cells_compared": 3, "outputs_compared": 5, "passed": 4, "failed": 0, "skipped": 0}
    (tmp_path / "nbval_replay.json").write_text(json.dumps({
        n: counts for n in ("fast.ipynb", "slow.ipynb", "broken.ipynb")} | {"differs.ipynb": {**counts, "failed": 1}}))
    rows = {r["notebook"]: r for r in summarize(tmp_path, 120, ["fast.ipynb", "slow.ipynb", "broken.ipynb",
                                                                  "differs.ipynb", "unrun.ipynb"])}
    assert rows["fast.ipynb"]["ok"] and rows["fast.ipynb"]["outputs_compared"] == 5
    assert "over the 120 s budget" in rows["slow.ipynb"]["why"][0]
    assert rows["broken.ipynb"]["why"] == ["browser: 2 cells raised"]
    assert rows["differs.ipynb"]["why"] == ["nbval: 1 cells differ or raised"]
    assert rows["unrun.ipynb"]["why"] == ["not run in the browser", "nbval did not compare it"]
    assert table(list(rows.values()), 120).splitlines()[-1] == "notebooks: 1 passed, 4 failed"
