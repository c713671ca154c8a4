"""Run every tutorial in a real JupyterLab in headless Chromium and check what a user would see.

For each notebook: open it, Run All, wait for the kernel, then check that no widget failed to
display, no cell raised, every Plotly figure rendered (plot SVGs counted against the figures
the notebook produces), and that nothing was requested from outside 127.0.0.1. In
every AttentionPanel, moving the layer slider must change its figure; in the dashboard, every
tab must draw. Geometry is checked too: no widget drawn blank, no figure or widget wider than
its cell, no Plotly label cut off, no figure taller than a screen, no bert_nb text with a
contrast ratio under 3 (run with --dark for the dark theme). Screenshots go
to build/screenshots/, a JSON report to build/browser_check.json.

With ``executed=`` (``--executed DIR``), each notebook is saved as the browser shows it once
it has run, with JupyterLab's per-cell timing: ``tools/nbval_replay.py`` then compares those
outputs with the stored ones by nbval's rules, so one execution serves both checks. With
``kernel_env=GENERIC_KERNELS`` (``--generic-kernels``) the kernels run on ATen's generic
kernels and one thread, another CPU code path than the one the outputs were stored on.

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
# a CPU code path other than the one the notebooks were stored on, one thread: what make test runs them on
GENERIC_KERNELS = {"ATEN_CPU_CAPABILITY": "default", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TRACEBACK = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_lab(folder: Path, port: int, token: str, settings: Path, ui: str = "lab", dark: bool = False,
               kernel_env: dict | None = None) -> subprocess.Popen:
    settings.mkdir(parents=True, exist_ok=True)
    notes = settings / "@jupyterlab" / "apputils-extension"
    notes.mkdir(parents=True, exist_ok=True)
    if dark:
        (notes / "themes.jupyterlab-settings").write_text(json.dumps({"theme": "JupyterLab Dark"}))
    (notes / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)  # render every cell, not only the visible ones
    # ... and record when each cell started and ended, saved with the notebook: its execution time
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none", "recordTiming": True}))
    # the kernels inherit the server's environment: that is how they run on another CPU code path
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "HF_HUB_OFFLINE": "1", **(kernel_env or {})}
    cmd = [sys.executable, "-m", "jupyterlab" if ui == "lab" else "notebook", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
           "--allow-root"] + (["--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                               "--LabApp.expose_app_in_browser=True"] if ui == "lab" else [])
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
        running = any("*" in p for p in prompts)
        if done >= cells and not running:
            return True
        if done and not running and page.locator(TRACEBACK, has_text="Traceback").count():  # a cell raised: the rest will not run
            return False
        time.sleep(1)
    return False


def _save_executed(page, notebook: Path, dest: Path) -> float | None:
    """Save the notebook as the browser shows it and copy it to ``dest``; the seconds its cells ran.

    The copy is what nbval then compares with the stored notebook (``tools/nbval_replay.py``).
    The seconds add up each cell's execute-input to execute-reply, as JupyterLab recorded them.
    """
    if not page.evaluate("() => !!window.jupyterapp"):  # only JupyterLab is started with its app exposed
        return None
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")  # resolves once written
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook, dest)
    return _execution_seconds(json.loads(dest.read_text()))


def _execution_seconds(nb: dict) -> float:
    """Seconds from each code cell's execute-input to its reply, summed (JupyterLab's recorded timing)."""
    from datetime import datetime

    def when(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    total = 0.0
    for cell in nb["cells"]:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            total += (when(timing["shell.execute_reply"]) - when(timing["iopub.execute_input"])).total_seconds()
    return round(total, 1)


def _blank_copy(src: Path, dst: Path) -> None:
    """Copy a notebook without outputs or execution counts, so only this run's results are seen."""
    nb = json.loads(src.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    dst.write_text(json.dumps(nb))


def check(notebook: Path, expected: int, page, shots: Path, timeout_s: float, external: list[str]) -> dict:
    """Open ``notebook`` in ``page``, Run All, and measure what a user would see (see the module doc)."""
    name = notebook.name
    before = len(external)
    if page.ui == "lab":
        page.goto(f"{page.base}/lab/workspaces/{notebook.stem}/tree/{name}?reset&token={page.token}")
    else:  # Notebook 7, the classic one-document interface
        page.goto(f"{page.base}/notebooks/{name}?token={page.token}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=120_000)
    time.sleep(3)  # the kernel connects
    started = time.time()
    finished = _run_all(page, _code_cells(notebook), timeout_s)
    ran = time.time() - started
    for _ in range(30):  # let figures draw: at least 3 s, up to 30 s on a busy machine
        time.sleep(1)
        if _ >= 2 and page.locator(".js-plotly-plot").count() >= expected:
            break
    result = {
        "notebook": name, "finished": finished, "run_all_seconds": round(ran, 1),
        "widget_errors": page.get_by_text("Error displaying widget").count(),
        "cell_errors": page.locator(TRACEBACK, has_text="Traceback").count(),
        "plots_rendered": page.locator(".js-plotly-plot").count(),
        "plot_svgs": page.locator(".js-plotly-plot svg.main-svg").count(),
        "plots_expected": expected,
    }
    if result["cell_errors"]:  # what raised, so a failure that a retry passes still says why
        text = page.locator(TRACEBACK, has_text="Traceback").first.inner_text(timeout=10_000)
        result["raised"] = [line for line in text.splitlines() if line.strip()][-1][:300]
    suffix = page.suffix
    result["layout"] = page.evaluate(LAYOUT_JS)
    if page.locator(".jp-OutputArea-output .widget-slider:visible", has_text="Layer").count():  # an AttentionPanel
        result["slider_changes_figure"] = _move_slider(page)
    if page.locator(".jp-OutputArea-output .widget-tab").count():
        result["dashboard_tabs"] = _dashboard_tabs(page, shots / f"{notebook.stem}{suffix}")
    page.screenshot(path=str(shots / f"{notebook.stem}{suffix}.png"), full_page=True)
    result["screenshots"] = 1 + len(result.get("dashboard_tabs", [])) + _output_shots(page, shots / f"{notebook.stem}{suffix}")
    if page.executed_to and (finished or result["cell_errors"]):  # a failed cell too: nbval reports it
        result["execution_seconds"] = _save_executed(page, notebook, page.executed_to)
    result["external_requests"] = external[before:]
    result["problems"] = _problems(result)
    result["ok"] = not result["problems"]
    return result


def _problems(result: dict) -> list[str]:
    """What a user would see wrong, one line each; empty when the notebook passed."""
    out = []
    if not result["finished"]:
        out.append("Run All did not finish")
    if result["widget_errors"]:
        out.append(f"{result['widget_errors']} 'Error displaying widget'")
    if result["cell_errors"]:
        out.append(f"{result['cell_errors']} cells raised" + (f": {result['raised']}" if result.get("raised") else ""))
    if result["plots_rendered"] < result["plots_expected"]:
        out.append(f"{result['plots_rendered']} of {result['plots_expected']} Plotly figures drew")
    if result["external_requests"]:
        out.append(f"requests left 127.0.0.1: {result['external_requests'][:3]}")
    if result.get("slider_changes_figure") is False:
        out.append("moving the attention layer slider did not change its figure")
    for key, what in (("blank_widgets", "widgets drew blank"), ("overflowing", "outputs wider than the notebook"),
                      ("clipped_labels", "figure labels cut off"), ("too_tall", "figures taller than 1,100 px"),
                      ("low_contrast", "text hard to read against its background")):
        if result["layout"].get(key):
            out.append(f"{what}: {result['layout'][key][:5]}")
    for tab in result.get("dashboard_tabs", []):
        if not tab["ok"]:
            out.append(f"dashboard tab '{tab['tab']}' did not draw, or its slider did nothing ({tab})")
    return out


# What drew, measured: widget outputs with no size, figure or widget outputs wider than their
# cell, Plotly labels outside the figure's own SVG, figures taller than a screen, and bert_nb
# text with too little contrast against its background (the dark theme's light text on a
# light box, say). Figures inside hidden tabs have no size and are checked by _dashboard_tabs.
LAYOUT_JS = r"""() => {
  const live = [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(o => o.matches('.js-plotly-plot') || o.querySelector('.jupyter-widgets, .js-plotly-plot'));
  const name = (o, i) => i + ':' + (o.textContent || '').trim().slice(0, 30);
  const res = {blank_widgets: [], overflowing: [], clipped_labels: [], too_tall: []};
  live.forEach((o, i) => {
    const r = o.getBoundingClientRect();
    if (o.querySelector('.jupyter-widgets') && (r.height < 20 || r.width < 50)) res.blank_widgets.push(name(o, i));
    if (o.scrollWidth > o.clientWidth + 4) res.overflowing.push(name(o, i) + ` (${o.scrollWidth} > ${o.clientWidth} px)`);
  });
  document.querySelectorAll('.js-plotly-plot').forEach((p, i) => {
    const svg = p.querySelector('svg.main-svg');
    if (!svg) return;
    const box = svg.getBoundingClientRect();
    if (box.width === 0) return;
    if (box.height > 1100) res.too_tall.push(i + ` (${Math.round(box.height)} px)`);
    p.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .gtitle').forEach(t => {
      const r = t.getBoundingClientRect();
      if (r.width && (r.left < box.left - 2 || r.right > box.right + 2 || r.top < box.top - 2 || r.bottom > box.bottom + 2))
        res.clipped_labels.push(i + ':' + t.textContent.slice(0, 30));
    });
  });
  // text of bert_nb's views and panel status lines must stand out from what is behind it
  // (WCAG contrast ratio >= 3, after the opacity used for secondary text)
  const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = c => { const f = v => (v /= 255) <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                     return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const behind = el => { for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c; }
    return [255, 255, 255]; };
  const fade = el => { let o = 1; for (let e = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity); return o; };
  const views = '.jp-OutputArea-output [class^="bert-nb-"], .jp-OutputArea-output .widget-html-content';
  res.low_contrast = [];
  document.querySelectorAll(`${views}, :is(${views}) *`).forEach(el => {
    const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    if (!own || !el.getClientRects().length) return;
    const bg = behind(el), fg = rgb(getComputedStyle(el).color), o = fade(el);
    const seen = [0, 1, 2].map(i => fg[i] * o + bg[i] * (1 - o));
    const [a, b] = [lum(seen), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 3) res.low_contrast.push(own.slice(0, 20) + ` (${ratio.toFixed(1)})`);
  });
  return res;
}"""


def _dashboard_tabs(page, stem: Path) -> list[dict]:
    """Open each tab of the dashboard; its panel must draw, figures included, at a usable size."""
    tabs_widget = page.locator(".jp-OutputArea-output .widget-tab").last
    tabs_widget.scroll_into_view_if_needed()
    labels = tabs_widget.locator(".lm-TabBar-tab")
    seen = []
    for i in range(labels.count()):
        label = labels.nth(i)
        name = label.inner_text().strip()
        label.click()
        panel = tabs_widget.locator(".widget-tab-contents > .jupyter-widgets:not(.lm-mod-hidden)").first
        deadline = time.time() + 20  # a busy machine draws later: look again until it passes or time is up
        while True:
            time.sleep(1.5)
            box = panel.bounding_box() or {"width": 0, "height": 0}
            plots = [b for b in (s.bounding_box() for s in panel.locator(".js-plotly-plot svg.main-svg").all()) if b]
            ok = box["height"] > 60 and all(b["width"] > 200 and b["height"] > 100 for b in plots)
            if ok or time.time() > deadline:
                break
        tab = {"tab": name, "height": round(box["height"]), "plots": len(plots),
               "plot_widths": [round(b["width"]) for b in plots], "ok": ok}
        if panel.locator(".widget-slider", has_text="Layer").count():
            tab["slider_changes_figure"] = _move_slider(page)
            tab["ok"] = tab["ok"] and tab["slider_changes_figure"]
        tabs_widget.screenshot(path=f"{stem}-dashboard-{i}-{name}.png")
        seen.append(tab)
    return seen


def _output_shots(page, stem: Path) -> int:
    """One picture per figure or widget output, so every output can be looked at, not only the first screen.

    Returns how many were taken.
    """
    stem.mkdir(parents=True, exist_ok=True)
    outputs = page.locator(".jp-OutputArea-output.js-plotly-plot, .jp-OutputArea-output:has(.js-plotly-plot), "
                           ".jp-OutputArea-output:has(.jupyter-widgets)")
    taken = 0
    for i in range(outputs.count()):
        try:
            outputs.nth(i).screenshot(path=str(stem / f"{i:02d}.png"), timeout=10_000)
            taken += 1
        except Exception as err:  # a picture is a convenience, not a check
            print(f"no screenshot of output {i}: {err}", file=sys.stderr)
    return taken


def _move_slider(page) -> bool:
    """Click the AttentionPanel's layer slider track; its figure's title must change."""
    slider = page.locator(".widget-slider:visible", has_text="Layer").last
    if not slider.count():
        return False
    slider.scroll_into_view_if_needed()
    plot = slider.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]").locator(".js-plotly-plot").last
    title = plot.locator(".gtitle").text_content(timeout=10_000)
    track = slider.locator(".noUi-target").first
    box = track.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)  # a click on the track
    for _ in range(60):  # up to 30 s: the kernel re-slices, the figure redraws
        time.sleep(0.5)
        if plot.locator(".gtitle").text_content() != title:
            return True
    return False


class Session:
    """One Jupyter server on blank copies of the notebooks, and one headless Chromium driving it.

    ``with Session(ui="lab") as s: s.check(path)``. Every request that leaves 127.0.0.1 is
    blocked and recorded. A notebook that fails is run once more on a fresh copy, in a fresh
    page, and both attempts are reported: the result says which attempt passed.
    """

    def __init__(self, notebooks, ui: str = "lab", chromium: str | None = None, out: Path = ROOT / "build",
                 timeout_s: float = 600, retries: int = 1, dark: bool = False, kernel_env: dict | None = None,
                 executed: Path | None = None, report_as: str | None = None):
        self.dark, self.kernel_env = dark, kernel_env
        self.executed = Path(executed) if executed else None  # where each executed notebook is saved (JupyterLab)
        self.suffix = ("" if ui == "lab" else "-notebook7") + ("-dark" if dark else "")
        self.report_as = report_as or f"browser_check{self.suffix}.json"
        self.sources = [Path(p) for p in notebooks]
        self.ui, self.timeout_s, self.retries = ui, timeout_s, retries
        self.chromium = chromium or shutil.which("chromium") or "/usr/bin/chromium"
        self.out, self.shots = Path(out), Path(out) / "screenshots"
        self.results: list[dict] = []
        self.external: list[str] = []

    def __enter__(self) -> "Session":
        from playwright.sync_api import sync_playwright

        self.shots.mkdir(parents=True, exist_ok=True)
        self._clear_old_shots()
        for src in self.sources if self.executed else []:  # no stale copy may stand in for this run's
            (self.executed / src.name).unlink(missing_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="bert_nb-browser-"))
        for src in self.sources:
            _blank_copy(src, self.work / src.name)
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.server = _start_lab(self.work, self.port, self.token, self.work / ".settings", self.ui, self.dark,
                                 self.kernel_env)
        self.started = time.time()
        try:
            self._pw = sync_playwright().start()
            self.browser = self._pw.chromium.launch(executable_path=self.chromium, args=FLAGS, headless=True)
            self.context = self.browser.new_context(viewport={"width": 1400, "height": 1400})
            self.context.route("**/*", self._guard)
        except BaseException:
            self._stop_server()
            raise
        return self

    def _clear_old_shots(self) -> None:
        """Remove this interface's pictures of these notebooks from an earlier run, so none is stale."""
        for src in self.sources:
            for stem in (f"{src.stem}{self.suffix}", f"retry*-{src.stem}{self.suffix}"):  # first runs, then reruns
                olds = [*self.shots.glob(f"{stem}.png"), *self.shots.glob(stem), *self.shots.glob(f"{stem}-dashboard-*.png")]
                for old in olds:
                    if old.is_dir():
                        shutil.rmtree(old)
                    else:
                        old.unlink()

    def _guard(self, route):
        url = route.request.url
        if urlparse(url).hostname in ("127.0.0.1", "localhost") or url.startswith(("data:", "blob:")):
            return route.continue_()
        self.external.append(url)
        return route.abort()

    def check(self, source: Path) -> dict:
        """Run one notebook (retried once on a fresh copy if it fails) and return what was seen."""
        source = Path(source)
        attempts = []
        for attempt in range(1 + self.retries):
            name = source.name if attempt == 0 else f"retry{attempt}-{source.name}"
            if attempt:
                _blank_copy(source, self.work / name)  # the first copy may have been autosaved with outputs
            page = self.context.new_page()  # one page and one workspace per run
            page.base, page.token, page.ui = f"http://127.0.0.1:{self.port}", self.token, self.ui
            page.suffix, page.executed_to = self.suffix, self.executed / source.name if self.executed else None
            t0 = time.time()
            try:
                result = check(self.work / name, _expected_plots(source), page, self.shots, self.timeout_s,
                               self.external)
            except Exception as err:  # a browser-side time-out is a failed attempt, not a crash
                result = {"notebook": name, "ok": False, "problems": [f"{type(err).__name__}: {str(err)[:300]}"]}
            finally:
                page.close()
                self._shut_down_kernels()
            result["seconds"] = round(time.time() - t0, 1)
            attempts.append(result)
            if result["ok"]:
                break
        final = dict(attempts[-1], notebook=source.name, attempts=len(attempts))
        if len(attempts) > 1:
            final["earlier_problems"] = [a["problems"] for a in attempts[:-1]]
        self.results.append(final)
        return final

    def _shut_down_kernels(self) -> None:
        """End the notebooks' kernels once checked, so models do not pile up in memory."""
        import urllib.request

        base, auth = f"http://127.0.0.1:{self.port}/api/sessions", {"Authorization": f"token {self.token}"}
        try:
            with urllib.request.urlopen(urllib.request.Request(base, headers=auth), timeout=10) as r:
                sessions = json.load(r)
            for sess in sessions:
                req = urllib.request.Request(f"{base}/{sess['id']}", headers=auth, method="DELETE")
                urllib.request.urlopen(req, timeout=30).close()
        except OSError as err:  # the check goes on; only memory is at stake
            print(f"could not shut the kernels down: {err}", file=sys.stderr)

    def report(self) -> dict:
        report = {"ui": self.ui, "dark": self.dark, "seconds": round(time.time() - self.started, 1), "results": self.results,
                  "kernel_env": self.kernel_env or {}, "ok": bool(self.results) and all(r["ok"] for r in self.results)}
        (self.out / self.report_as).write_text(json.dumps(report, indent=2))
        return report

    def _stop_server(self):
        self.server.terminate()
        try:
            self.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.server.kill()

    def __exit__(self, *exc):
        try:
            self.browser.close()
            self._pw.stop()
        finally:
            self._stop_server()
            shutil.rmtree(self.work, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="default: every notebook in notebooks/")
    ap.add_argument("--chromium", default=None, help="the browser binary (default: Debian's chromium on PATH)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    ap.add_argument("--retries", type=int, default=1, help="fresh runs of a notebook that failed")
    ap.add_argument("--out", default=str(ROOT / "build"))
    ap.add_argument("--ui", choices=["lab", "notebook"], default="lab",
                    help="JupyterLab, or the classic-style Notebook 7 interface")
    ap.add_argument("--dark", action="store_true", help="the interface's dark theme")
    ap.add_argument("--executed", default=None, help="save each executed notebook in this folder (JupyterLab)")
    ap.add_argument("--generic-kernels", action="store_true",
                    help="kernels on ATen's generic CPU kernels, one thread (as make test runs them)")
    args = ap.parse_args(argv)

    sources = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    with Session(sources, ui=args.ui, chromium=args.chromium, out=Path(args.out), timeout_s=args.timeout,
                 retries=args.retries, dark=args.dark, executed=args.executed,
                 kernel_env=GENERIC_KERNELS if args.generic_kernels else None) as session:
        for nb in session.sources:
            print(json.dumps(session.check(nb)), flush=True)
        report = session.report()
    print(f"{'OK' if report['ok'] else 'FAILED'}: {len(report['results'])} notebooks in {report['seconds']} s; "
          f"screenshots in {session.shots}")
    for r in report["results"]:
        if not r["ok"]:
            print(f"  {r['notebook']}: {'; '.join(r['problems'])}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
