"""Figures leave the notebook: save_figure, `%bert save`, the panels' save row, the offline HTML export."""

import shutil

import pytest

import bert_nb
from bert_nb.errors import BertNbError

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None and shutil.which("google-chrome") is None,
                                    reason="PNG/SVG/PDF need Chromium (`make browser-setup` installs Debian's)")


@pytest.fixture(scope="module")
def sim(minilm):
    return bert_nb.similarity(minilm, ["A man plays <b>guitar</b>.", "Someone plays an instrument.", "Stocks fell."])


def test_html_is_one_self_contained_page(sim, tmp_path):
    path = bert_nb.save_figure(sim, tmp_path / "figs" / "sim.html")  # the folder is made
    page = path.read_text()
    assert path.parent.name == "figs" and page.count("<html") == 1
    assert "Plotly.newPlot" in page and "<script src=" not in page  # plotly.js inline, once
    assert "&lt;b&gt;guitar" in page and "<b>guitar" not in page  # user text is escaped in the figure


@needs_chromium
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_images_through_kaleido(sim, tmp_path, suffix, magic):
    path = bert_nb.save_figure(sim, tmp_path / f"sim{suffix}", width=500, height=400)
    data = path.read_bytes()
    assert magic in data[:400]
    if suffix == ".svg":
        assert 'width="500"' in data.decode() and "Stocks fell." in data.decode()
    assert not list(tmp_path.glob(".sim*"))  # no temporary file left behind


def test_the_browser_drivers_logs_stay_out_of_the_notebook(sim, tmp_path, monkeypatch, caplog):
    import logging

    import kaleido

    def draws_and_logs(fig, opts, kopts):  # as choreographer does with a message it cannot decode, and ignores
        try:
            raise ValueError("Expecting value: line 1 column 1")
        except ValueError:
            logging.getLogger("choreographer.channels.pipe").exception("JSONError decoding message. Ignoring")
        logging.getLogger("kaleido.kaleido").warning("a warning of its own")
        return b"%PDF-1.4 drawn"

    monkeypatch.setattr(kaleido, "calc_fig_sync", draws_and_logs)
    caplog.set_level(logging.DEBUG)
    assert bert_nb.save_figure(sim, tmp_path / "sim.pdf").read_bytes() == b"%PDF-1.4 drawn"
    said = {r.getMessage() for r in caplog.records}  # (an earlier browser's threads may log as they close)
    assert not said & {"JSONError decoding message. Ignoring", "a warning of its own"}  # on stderr before
    assert logging.getLogger("choreographer").level == logging.NOTSET  # as it was
    logging.getLogger("choreographer.channels.pipe").error("after the drawing")
    assert "after the drawing" in {r.getMessage() for r in caplog.records}


def test_a_table_saves_as_an_html_page(minilm, tmp_path, shell):
    hits = bert_nb.search(minilm, ["a <b>query</b>"], ["a <b>query</b>", "other"], top_k=1)  # a DataFrame
    page = bert_nb.save_figure(hits, tmp_path / "hits.html").read_text()  # "A DataFrame has no figure" before
    assert "<table" in page and "&lt;b&gt;query" in page and "<b>query" not in page and "<script" not in page
    with pytest.raises(BertNbError, match=r"A DataFrame has no figure to save as \.png; save it as \.html"):
        bert_nb.save_figure(hits, tmp_path / "hits.png")
    emb = bert_nb.embed(minilm, ["one", "two"])  # a result whose view is its table
    assert bert_nb.save_figure(emb, tmp_path / "emb.html").read_text().count("<tr") == 3
    shell.run_cell("few = ['one text', 'another']")
    shell.run_cell("%%bert search --corpus few --top-k 1 -o found\none")
    shell.run_cell(f"%bert save {tmp_path / 'magic.html'} --var found")
    assert "<td>one</td>" in (tmp_path / "magic.html").read_text()  # the query's row


def test_a_result_without_figure_saves_its_html_view(minilm, tmp_path):
    toks = bert_nb.tokenize(minilm, "Tokenization isn't <magic>.")
    page = bert_nb.save_figure(toks, tmp_path / "tokens.html").read_text()
    assert "ization<sub" in page and "&lt;" in page and "magic" in page and "<script" not in page
    with pytest.raises(BertNbError, match=r"has no figure to save as \.png; save it as \.html"):
        bert_nb.save_figure(toks, tmp_path / "tokens.png")


def test_bad_paths_and_sizes_say_what_to_do(sim, tmp_path):
    with pytest.raises(BertNbError, match=r"end the path in \.html, \.png"):
        bert_nb.save_figure(sim, tmp_path / "sim.gif")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BertNbError, match="is a file, not a folder"):
        bert_nb.save_figure(sim, tmp_path / "afile" / "sim.html")
    with pytest.raises(BertNbError, match="width is a number of pixels"):
        bert_nb.save_figure(sim, tmp_path / "sim.png", width=0)
    with pytest.raises(BertNbError, match="scale"):
        bert_nb.save_figure(sim, tmp_path / "sim.png", scale=-1)
    with pytest.raises(BertNbError, match="pass a result of bert_nb"):
        bert_nb.save_figure(object(), tmp_path / "x.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing half-written


def test_missing_chromium_names_the_install_step(sim, tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium-here"))
    with pytest.raises(BertNbError, match=r"needs a Chromium browser.*apt-get install chromium.*\.html needs nothing"):
        bert_nb.save_figure(sim, tmp_path / "sim.png")
    assert not (tmp_path / "sim.png").exists()
    assert bert_nb.save_figure(sim, tmp_path / "sim.html").is_file()  # HTML works without it


def test_figure_of_plain_figures_panels_and_batches(minilm, sim):
    import plotly.graph_objects as go

    from bert_nb.figures import figure_of
    from bert_nb.panels import SimilarityPanel, TokenizePanel

    fig = go.Figure(go.Bar(x=[1], y=[2]))
    assert figure_of(fig) is fig and type(figure_of(go.FigureWidget(fig))) is go.Figure
    assert figure_of(sim).data[0].type == "heatmap"
    panel = SimilarityPanel(minilm)
    assert figure_of(panel).data and figure_of(TokenizePanel(minilm)) is None
    assert figure_of(bert_nb.Batch((sim, sim))) is None  # several results: save one of them


@needs_chromium
def test_panels_save_what_they_show(minilm, tmp_path):
    from bert_nb.panels import SimilarityPanel, TokenizePanel

    panel = SimilarityPanel(minilm)
    panel.save_path.value = str(tmp_path / "panel.svg")
    panel.save_button.click()
    assert (tmp_path / "panel.svg").read_text().lstrip().startswith(("<svg", "<?xml"))
    assert "saved" in panel.status.value
    tokens = TokenizePanel(minilm)
    assert tokens.save_path.value == "tokenize.html"
    assert tokens.save(tmp_path / "t.html") == tmp_path / "t.html"
    tokens.save_path.value = str(tmp_path / "t.png")
    tokens.save_button.click()
    assert "save it as .html" in tokens.status.value and not (tmp_path / "t.png").exists()


def test_panels_carry_their_figure_for_exports(minilm):
    from bert_nb.figures import FIGURE_KEY
    from bert_nb.panels import SimilarityPanel, TokenizePanel

    data, meta = SimilarityPanel(minilm)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data and meta[FIGURE_KEY]["data"][0]["type"] == "heatmap"
    assert isinstance(TokenizePanel(minilm)._repr_mimebundle_(), dict)  # no figure, no metadata


@needs_chromium
def test_magic_saves_the_last_figure_or_a_variable(shell, tmp_path):
    shell.ip.run_cell("%%bert similarity -o s\nA cat sleeps.\nA dog barks.", store_history=True).raise_error()
    shell.ip.run_cell("%bert tokenize_nothing_here", store_history=True)  # a failed cell is not an output
    out = tmp_path / "last.svg"
    shell.run_cell(f"%bert save {out} --width 400")
    assert 'width="400"' in out.read_text()
    shell.run_cell(f"%bert save {tmp_path / 'var.html'} --var s")
    assert "Plotly.newPlot" in (tmp_path / "var.html").read_text()


def test_magic_bad_input(shell, tmp_path):
    assert "Name the file" in shell.usage_error("%bert save")
    assert "No variable 'nope'" in shell.usage_error(f"%bert save {tmp_path / 'x.svg'} --var nope")
    shell.run_cell("plain_number = 3")
    assert "end the path in" in shell.usage_error(f"%bert save {tmp_path / 'x.doc'} --var plain_number")
    assert "--width" in shell.usage_error(f"%bert save {tmp_path / 'x.svg'} --width wide")


def test_magic_with_nothing_shown_says_so():
    from IPython.core.error import UsageError

    from bert_nb.magics.figures import _last_shown

    class Bare:
        user_ns = {"Out": {1: 42, 2: "text"}}

    with pytest.raises(UsageError, match="No figure has been shown yet"):
        _last_shown(Bare())


@needs_chromium
def test_export_html_draws_every_figure_offline(shell, minilm, tmp_path):
    import nbformat

    from bert_nb.panels import AttentionPanel

    def output(obj):
        data, meta = shell.display_formatter.format(obj)
        return nbformat.v4.new_output("execute_result", data=data, metadata=meta, execution_count=1)

    sim = bert_nb.similarity(minilm, ["A <script>x</script> cat.", "A dog."])
    cells = [nbformat.v4.new_markdown_cell("# A page"),
             nbformat.v4.new_code_cell("sim", outputs=[output(sim)]),
             nbformat.v4.new_code_cell("panel", outputs=[output(AttentionPanel(minilm, text="Short text."))]),
             nbformat.v4.new_code_cell("tokens", outputs=[output(bert_nb.tokenize(minilm, "Hi there."))])]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": "y" * 100_000}}}
    source = tmp_path / "page.ipynb"
    nbformat.write(nb, source)
    page = bert_nb.export_html(source).read_text()
    assert page.count("<svg") >= 2  # the similarity heatmap and the panel's attention map
    assert '<script src="http' not in page and "cdnjs" not in page and "unpkg" not in page
    assert "widget-state" not in page and len(page) < 2_000_000
    assert "&lt;script&gt;x" in page and "<script>x</script>" not in page
    assert "AttentionPanel on" in page and "Hi" in page  # the panel's summary line and the token view stay
    with pytest.raises(BertNbError, match="No notebook at"):
        bert_nb.export_html(tmp_path / "missing.ipynb")
    for broken in ("{not json", '{"cells": 5}', "[1, 2]", '{"nbformat": 4, "nbformat_minor": 5, "cells": []}'):
        (tmp_path / "broken.ipynb").write_text(broken)  # each was a traceback from inside nbformat
        with pytest.raises(BertNbError, match="Cannot read .*broken.ipynb as a notebook .*save it from Jupyter"):
            bert_nb.export_html(tmp_path / "broken.ipynb")
    assert not (tmp_path / "broken.html").exists()


@needs_chromium
def test_a_tutorial_notebook_exports_small_and_offline(tmp_path):
    from pathlib import Path

    from nbconvert.exporters import get_exporter

    assert get_exporter("bert_nb_html").__name__ == "OfflineHTMLExporter"  # `jupyter nbconvert --to bert_nb_html`
    source = Path(__file__).parents[1] / "notebooks" / "04_attention.ipynb"  # the most figures, one a 12 x 12 grid
    page = bert_nb.export_html(source, tmp_path / "04.html", theme="dark")
    text = page.read_text()
    assert page.stat().st_size < 5_000_000 and text.count('class="bert-nb-figure"') >= 5
    assert "<script src=" not in text and 'data-jp-theme-light="false"' in text
    with pytest.raises(BertNbError, match="theme is 'light' or 'dark'"):
        bert_nb.export_html(source, tmp_path / "x.html", theme="blue")
