"""pytest plugin: nbval's own checks on notebooks that a browser has already executed.

``make test`` runs every notebook once, in JupyterLab, on another CPU code path than the one
its outputs were stored on, and saves what the browser shows (``tools/browser_check.py``
writes it to ``build/executed/``). This plugin then runs nbval on the stored notebooks with
one change: instead of a live kernel, each cell "executes" on a replay kernel that sends
back the outputs the browser saved for that cell, as the iopub messages a kernel would send.
Everything else is nbval's: its collection, its cell tags (``nbval-ignore-output``,
``nbval-skip``, ``raises-exception``), its sanitizing (``--nbval-sanitize-with``), the MIME
types it compares and skips, its stream coalescing, its diff and its verdict. A cell that
raised in the browser fails as "Cell execution caused an exception", and a cell the browser
never ran fails too.

    python -m pytest -p nbval_replay --nbval-replay build/executed \
        --nbval-sanitize-with notebooks/sanitize.cfg notebooks/

(``tools/`` on ``PYTHONPATH``). Per notebook, the cells and outputs compared, and the cells passed and failed, go to
``--nbval-replay-report`` (JSON) for the summary that ``make test`` prints.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict, deque
from pathlib import Path
from queue import Empty

import nbformat
import pytest
from nbval.plugin import IPyNbCell, IPyNbFile


def pytest_addoption(parser):
    group = parser.getgroup("nbval", "Jupyter Notebook validation")
    group.addoption("--nbval-replay", metavar="DIR", default=None,
                    help="compare each notebook's stored outputs with the executed copy of the same name in DIR "
                         "(nbval's rules, no kernel)")
    group.addoption("--nbval-replay-report", metavar="FILE", default=None,
                    help="write per-notebook counts (cells compared, passed, failed) to FILE as JSON")


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if opt.nbval_replay and not (opt.nbval or opt.nbval_lax) and file_path.suffix == ".ipynb":
        return ReplayedNotebook.from_parent(parent, path=file_path)


class ReplayKernel:
    """Stands in for nbval's RunningKernel: answers each cell with the outputs saved for it."""

    def __init__(self, executed: Path):
        if not executed.exists():
            raise FileNotFoundError(f"{executed} does not exist: the browser did not save this notebook "
                                    "(see the browser test's report for why)")
        nb = nbformat.read(executed, as_version=4)
        self.cells = [c for c in nb.cells if c.cell_type == "code"]
        self.position = 0
        self.messages: deque = deque()
        self.ids = itertools.count()

    # -- what nbval calls --------------------------------------------------------------------
    def execute_cell_input(self, source: str, allow_stdin=None) -> str:
        msg_id = f"replay-{next(self.ids)}"
        cell = self._next_cell(source)
        if cell is None:
            self._send(msg_id, "error", ename="ReplayError", evalue="not in the executed notebook",
                       traceback=["This cell's source is not in the notebook the browser saved (edited since?)."])
        elif cell.execution_count is None:
            self._send(msg_id, "error", ename="ReplayError", evalue="not run",
                       traceback=["The browser never ran this cell: an earlier cell failed or Run All stopped."])
        else:
            for out in cell.outputs:
                self._send_output(msg_id, out)
        self._send(msg_id, "status", execution_state="idle")
        return msg_id

    def get_message(self, stream="iopub", timeout=None):
        if not self.messages:
            raise Empty
        return self.messages.popleft()

    def await_reply(self, msg_id, timeout=None):
        return {"content": {"status": "ok"}}

    def await_idle(self, parent_id, timeout):
        while self.messages and self.messages[0]["parent_header"]["msg_id"] == parent_id:
            self.messages.popleft()

    def is_alive(self) -> bool:
        return True

    def interrupt(self):
        pass

    def stop(self):
        pass

    # -- helpers -----------------------------------------------------------------------------
    def _next_cell(self, source: str):
        """The next executed code cell with this source (skipped cells are passed over), or None."""
        for i in range(self.position, len(self.cells)):
            if self.cells[i].source == source:
                self.position = i + 1
                return self.cells[i]
        return None

    def _send_output(self, msg_id: str, out) -> None:
        kind = out.output_type
        if kind == "stream":
            self._send(msg_id, "stream", name=out.name, text=out.text)
        elif kind in ("display_data", "execute_result"):
            content = {"data": out.get("data", {}), "metadata": out.get("metadata", {})}
            if kind == "execute_result":
                content["execution_count"] = out.get("execution_count")
            self._send(msg_id, kind, **content)
        elif kind == "error":
            self._send(msg_id, "error", ename=out.ename, evalue=out.evalue, traceback=out.traceback)

    def _send(self, msg_id: str, msg_type: str, **content) -> None:
        self.messages.append({"msg_type": msg_type, "parent_header": {"msg_id": msg_id}, "content": content})


class ReplayedNotebook(IPyNbFile):
    """nbval's notebook collector, on a replay kernel instead of a live one."""

    def setup(self):
        self.kernel = ReplayKernel(Path(self.config.option.nbval_replay) / self.path.name)
        self.setup_sanitize_files()


_counts: dict = defaultdict(lambda: {"cells": 0, "cells_compared": 0, "outputs_compared": 0, "passed": 0, "failed": 0,
                                     "skipped": 0})


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    notebook, _, _ = report.nodeid.partition("::")
    if not notebook.endswith(".ipynb"):
        return
    row = _counts[Path(notebook).name]
    row["cells"] += 1
    row[report.outcome] += 1  # passed, failed or skipped


def pytest_collection_modifyitems(config, items):
    for item in items:
        if isinstance(item, IPyNbCell) and item.options["check"] and not item.options["skip"] \
                and item.cell.execution_count is not None:
            row = _counts[item.path.name]
            row["cells_compared"] += 1
            row["outputs_compared"] += len(item.cell.outputs)


def pytest_sessionfinish(session):
    path = session.config.option.nbval_replay_report
    if path and _counts:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(_counts, indent=2, sort_keys=True))


@pytest.hookimpl(trylast=True)
def pytest_report_header(config):
    if config.option.nbval_replay:
        return f"nbval on the outputs saved by the browser in {config.option.nbval_replay} (no kernel)"
