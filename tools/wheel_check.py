"""Check the bert_nb a user installs: the built wheel, in a clean virtual environment.

An editable install (what ``make`` does) reads the checkout, so it hides a subpackage or a
data file that the wheel leaves out. ``make wheel-test`` builds the wheel, installs it with
its dependencies into a fresh venv, and runs this script with that venv's Python from
outside the checkout. It checks that:

- ``bert_nb`` is imported from the venv, not from the checkout;
- every file of the checkout's ``bert_nb/`` (modules of every subpackage, data files) is installed;
- ``import bert_nb`` and ``%load_ext bert_nb`` do not import torch or transformers;
- in a real IPython shell, one command of every subpackage works on the packaged model:
  ``%%bert tokenize`` (magics, plots), ``%%bert similarity`` (a figure and its description),
  a panel (panels), and a notebook saved as an offline page (the nbconvert exporter and its template).

It prints one line per check and ends with ``N passed, N failed``; the exit code is 1 on a failure.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "bert_nb"
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def imported_from_the_venv():
    import bert_nb

    where = Path(bert_nb.__file__).resolve()
    assert Path(sys.prefix).resolve() in where.parents, f"bert_nb came from {where}, not from {sys.prefix}"
    return str(where.parent)


@check
def every_file_of_the_package_installed():
    import bert_nb

    installed = Path(bert_nb.__file__).resolve().parent
    wanted = sorted(p.relative_to(SOURCE) for p in SOURCE.rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    missing = [str(p) for p in wanted if not (installed / p).is_file()]
    assert not missing, f"not in the wheel: {', '.join(missing)}"
    return f"{len(wanted)} files, subpackages {sorted(p.name for p in installed.iterdir() if p.is_dir() and p.name != '__pycache__')}"


@check
def loading_the_extension_imports_no_torch():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "bert_nb")
    heavy = [m for m in ("torch", "transformers") if m in sys.modules]
    assert not heavy, f"%load_ext bert_nb imported {heavy}"
    return "%load_ext bert_nb: no torch, no transformers"


def _run(source: str):
    from IPython.core.interactiveshell import InteractiveShell

    result = InteractiveShell.instance().run_cell(source)
    result.raise_error()
    return result.result


@check
def a_magic_on_the_packaged_model():
    toks = _run("%%bert tokenize -o toks\nTokenization isn't magic: it's WordPiece.")
    pieces = list(toks.to_frame().token)
    assert "##piece" in pieces and pieces[0] == "[CLS]", pieces
    return f"%%bert tokenize: {len(pieces)} pieces"


@check
def a_figure_and_its_description():
    import bert_nb
    from bert_nb.plots import describe

    sim = _run("%%bert similarity\nA man is playing a guitar.\nSomeone plays an instrument.\nThe stock market fell.")
    figure = bert_nb.plots.similarity_heatmap(sim)
    text = describe(figure)
    assert "heatmap: 3 x 3" in text, text
    assert sim.matrix[0][1] > sim.matrix[0][2], "the guitar sentences should be closer than the stock market"
    return text.splitlines()[0]


@check
def a_panel():
    import bert_nb

    panel = bert_nb.panels.TokenizePanel(bert_nb.load("default", device="cpu"))
    assert panel.children, "the panel has no widgets"
    return repr(panel)


@check
def a_notebook_as_an_offline_page():
    import tempfile

    import nbformat
    from nbconvert.exporters import get_exporter

    import bert_nb

    assert get_exporter("bert_nb_html").__name__ == "OfflineHTMLExporter", "the nbconvert exporter is not registered"
    folder = Path(tempfile.mkdtemp())
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A page")]), folder / "a.ipynb")
    page = bert_nb.export_html(folder / "a.ipynb").read_text()  # its template comes from the wheel
    assert "A page" in page and "<script src=" not in page, "the page loads scripts from the network"
    return f"--to bert_nb_html: {len(page)} characters, nothing loaded from the network"


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    passed = failed = 0
    for fn in CHECKS:
        try:
            print(f"ok    {fn.__name__}: {fn()}")
            passed += 1
        except Exception:
            print(f"FAIL  {fn.__name__}:\n{traceback.format_exc()}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
