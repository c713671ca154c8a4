"""Run every tutorial in a real JupyterLab in headless Chromium and check what a user would see.

For each notebook: open it, Run All, wait for the kernel, then check that no widget failed to
display, no cell raised, every Plotly figure rendered (plot SVGs counted against the figures
the notebook produces), and that nothing was requested from outside 127.0.0.1. In
04_attention, moving the AttentionPanel's layer slider must change its figure. Screenshots go
to build/screenshots/, a JSON report to build/browser_check.json.

Needs Debian's chromium (`apt-get install chromium`) and `pip install playwright jupyterlab`;
no browser is downloaded. Run: `make browser-test`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
PLOTLY = "application/vnd.plotly.v1+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_lab(folder: Path, port: int, token: str, settings: Path, ui: str = "lab") -> subprocess.Popen:
    settings.mkdir(parents=True, exist_ok=True)
    notes = settings / "@jupyterlab" / "apputils-extension"
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)  # render every cell, not only the visible ones
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "jupyterlab" if ui == "lab" else "notebook", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
           "--allow-root"] + (["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"] if ui == "lab" else [])
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(120):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("JupyterLab did not start")


def _expected_plots(path: Path) -> int:
    """Plotly figures among the stored outputs of the committed notebook."""
    nb = json.loads(path.read_text())
    return sum(1 for c in nb["cells"] for o in c.get("outputs", []) if PLOTLY in o.get("data", {}))


def _code_cells(path: Path) -> int:
    return sum(1 for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")


def _run_all(page, cells: int, timeout_s: float) -> bool:
    """Run All, then wait until every code cell shows an execution count and none is running.

    A Run All issued while the kernel is still connecting can be dropped; when no cell
    has started 30 s later, it is issued again (three tries).
    """
    # JupyterLab shows "Idle" in its status bar; Notebook 7 keeps it in a hidden label
    page.get_by_text("Idle", exact=False).last.wait_for(state="visible" if page.ui == "lab" else "attached",
                                                         timeout=120_000)
    time.sleep(2)
    deadline, tries, issued = time.time() + timeout_s, 0, 0.0
    while time.time() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
        started = [p for p in prompts if "*" in p or p.strip().strip(":").strip("[]").isdigit()]
        if not started and tries < 3 and time.time() - issued > 30:
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            tries, issued = tries + 1, time.time()
        done = sum(1 for p in prompts if p.strip().strip(":").strip("[]").isdigit())
        if done >= cells and not any("*" in p for p in prompts):
            return True
        time.sleep(1)
    return False


def _blank_copy(src: Path, dst: Path) -> None:
    """Copy a notebook without outputs or execution counts, so only this run's results are seen."""
    nb = json.loads(src.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    dst.write_text(json.dumps(nb))


def check(notebook: Path, expected: int, page, shots: Path, timeout_s: float, external: list[str]) -> dict:
    name = notebook.name
    before = len(external)
    if page.ui == "lab":
        page.goto(f"{page.base}/lab/workspaces/{notebook.stem}/tree/{name}?reset&token={page.token}")
    else:  # Notebook 7, the classic one-document interface
        page.goto(f"{page.base}/notebooks/{name}?token={page.token}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=120_000)
    time.sleep(3)  # the kernel connects
    finished = _run_all(page, _code_cells(notebook), timeout_s)
    time.sleep(3)  # let figures draw
    result = {
        "notebook": name, "finished": finished,
        "widget_errors": page.get_by_text("Error displaying widget").count(),
        "cell_errors": page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                    has_text="Traceback").count(),
        "plots_rendered": page.locator(".js-plotly-plot").count(),
        "plot_svgs": page.locator(".js-plotly-plot svg.main-svg").count(),
        "plots_expected": expected,
    }
    if name.startswith("04_"):
        result["slider_changes_figure"] = _move_slider(page)
    suffix = "" if page.ui == "lab" else "-notebook7"
    page.screenshot(path=str(shots / f"{notebook.stem}{suffix}.png"), full_page=True)
    result["external_requests"] = external[before:]
    result["ok"] = (finished and not result["widget_errors"] and not result["cell_errors"]
                    and result["plots_rendered"] >= result["plots_expected"] and not result["external_requests"]
                    and result.get("slider_changes_figure", True))
    return result


def _move_slider(page) -> bool:
    """Click the AttentionPanel's layer slider track; its figure's title must change."""
    slider = page.locator(".widget-slider", has_text="Layer").last
    if not slider.count():
        return False
    slider.scroll_into_view_if_needed()
    plot = slider.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]").locator(".js-plotly-plot").last
    title = plot.locator(".gtitle").text_content(timeout=10_000)
    track = slider.locator(".noUi-target").first
    box = track.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)  # a click on the track
    for _ in range(20):
        time.sleep(0.5)
        if plot.locator(".gtitle").text_content() != title:
            return True
    return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: every notebook in notebooks/")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    ap.add_argument("--out", default=str(ROOT / "build"))
    ap.add_argument("--ui", choices=["lab", "notebook"], default="lab",
                    help="JupyterLab, or the classic-style Notebook 7 interface")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    shots = out / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bert_nb-browser-"))
    sources = [Path(p) for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for src in sources:
        _blank_copy(src, work / src.name)
    port, token = _free_port(), secrets.token_hex(16)
    lab = _start_lab(work, port, token, work / ".settings", args.ui)
    results, started = [], time.time()
    external: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=FLAGS, headless=True)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})

            def guard(route):
                host = urlparse(route.request.url).hostname
                if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
                    return route.continue_()
                external.append(route.request.url)
                return route.abort()

            context.route("**/*", guard)
            for nb in sources:
                page = context.new_page()  # one page and one workspace per notebook
                page.base, page.token, page.ui = f"http://127.0.0.1:{port}", token, args.ui
                t0 = time.time()
                result = check(work / nb.name, _expected_plots(nb), page, shots, args.timeout, external)
                page.close()
                result["seconds"] = round(time.time() - t0, 1)
                results.append(result)
                print(json.dumps(result), flush=True)
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
    report = {"seconds": round(time.time() - started, 1), "results": results,
              "ok": all(r["ok"] for r in results)}
    report["ui"] = args.ui
    (out / f"browser_check{'' if args.ui == 'lab' else '_notebook7'}.json").write_text(json.dumps(report, indent=2))
    print(f"{'OK' if report['ok'] else 'FAILED'}: {len(results)} notebooks in {report['seconds']} s; "
          f"screenshots in {shots}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
