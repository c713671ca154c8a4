"""The per-notebook summary at the end of ``make test``, and its verdict.

Each notebook ran once, in JupyterLab, on ATen's generic kernels and one thread
(``build/browser_check*.json``), and nbval compared what the browser saved with the stored
outputs (``build/nbval_replay.json``). One row per notebook in ``notebooks/``: execution
seconds (JupyterLab's recorded cell times, one thread), outputs and cells compared, figures
(drawn in the browser / Plotly figures among the stored outputs: panels draw more), screenshots,
and pass/fail. A notebook fails when the browser check or nbval failed,
when it was not run at all, or when it ran longer than the budget (``--budget``, 120 s):
notebooks teach with small data and few steps; heavy runs belong in ``bench/``.

    python tools/test_summary.py [--build build] [--budget 120]

Exit code 1 when any notebook failed; the table also goes to ``build/notebook_summary.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _browser_results(build: Path) -> dict:
    """The JupyterLab (light theme) results by notebook, from every shard's report."""
    found = {}
    for path in sorted(build.glob("browser_check*.json")):
        report = json.loads(path.read_text())
        if report.get("ui") == "lab" and not report.get("dark"):
            found.update({r["notebook"]: r for r in report["results"]})
    return found


def summarize(build: Path, budget: float, notebooks: list[str]) -> list[dict]:
    """One row per notebook: what ran, what was compared, and the verdict with its reasons."""
    browser = _browser_results(build)
    replay_file = build / "nbval_replay.json"
    replay = json.loads(replay_file.read_text()) if replay_file.exists() else {}
    rows = []
    for name in notebooks:
        b, n = browser.get(name), replay.get(name)
        why = []
        if b is None:
            why.append("not run in the browser")
        elif not b.get("ok"):
            why.append("browser: " + "; ".join(b.get("problems", [])))
        seconds = (b or {}).get("execution_seconds")
        if b is not None and seconds is None:
            why.append("no execution time recorded")
        elif seconds is not None and seconds > budget:
            why.append(f"ran {seconds:.0f} s, over the {budget:.0f} s budget: lighten it (heavy runs go to bench/)")
        if n is None:
            why.append("nbval did not compare it")
        elif n["failed"]:
            why.append(f"nbval: {n['failed']} cells differ or raised")
        rows.append({"notebook": name, "seconds": seconds, "outputs_compared": (n or {}).get("outputs_compared"),
                     "cells_compared": (n or {}).get("cells_compared"), "cells_failed": (n or {}).get("failed"),
                     "figures": f"{b['plots_rendered']}/{b['plots_expected']}" if b and "plots_rendered" in b else None,
                     "screenshots": (b or {}).get("screenshots"), "attempts": (b or {}).get("attempts"),
                     "ok": not why, "why": why})
    return rows


def table(rows: list[dict], budget: float) -> str:
    """The rows as a fixed-width table, then the failures, one line each."""
    head = f"{'notebook':<26} {'seconds':>7} {'outputs':>7} {'cells':>5} {'failed':>6} {'figures':>7} {'shots':>5}  result"
    lines = [f"notebooks: one execution each (JupyterLab, ATen generic kernels, one thread); nbval on what it saved; "
             f"budget {budget:.0f} s each", head, "-" * len(head)]
    dash = "-"
    for r in rows:
        lines.append(f"{r['notebook']:<26} {r['seconds'] if r['seconds'] is not None else dash:>7} "
                     f"{r['outputs_compared'] if r['outputs_compared'] is not None else dash:>7} "
                     f"{r['cells_compared'] if r['cells_compared'] is not None else dash:>5} "
                     f"{r['cells_failed'] if r['cells_failed'] is not None else dash:>6} "
                     f"{r['figures'] or dash:>7} {r['screenshots'] if r['screenshots'] is not None else dash:>5}  "
                     f"{'pass' if r['ok'] else 'FAIL'}{' (2nd attempt)' if (r['attempts'] or 1) > 1 else ''}")
    total = sum(r["seconds"] or 0 for r in rows)
    lines.append(f"{len(rows)} notebooks, {total:.0f} s of execution, "
                 f"{sum(r['outputs_compared'] or 0 for r in rows)} outputs compared")
    lines += [f"  {r['notebook']}: {'; '.join(r['why'])}" for r in rows if not r["ok"]]
    lines.append(f"notebooks: {sum(r['ok'] for r in rows)} passed, {sum(not r['ok'] for r in rows)} failed")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--budget", type=float, default=120.0, help="seconds one notebook may run on one thread")
    args = ap.parse_args(argv)
    build = Path(args.build)
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    rows = summarize(build, args.budget, notebooks)
    (build / "notebook_summary.json").write_text(json.dumps(rows, indent=2))
    print(table(rows, args.budget))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
