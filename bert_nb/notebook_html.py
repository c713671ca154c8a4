"""Notebooks as one offline HTML page: every figure drawn, no widget JavaScript, nothing from a CDN.

nbconvert's HTML keeps each panel's widget state (Plotly's 5 MB of JavaScript per
panel) and loads require.js, the widget manager and MathJax from public CDNs, so
offline it shows only text stand-ins. This export draws every Plotly figure, the
ones panels show included, as inline SVG (kaleido, the system's Chromium), drops the
widget state and loads nothing: a page of a few hundred KB that opens anywhere.

From the shell: ``jupyter nbconvert --to bert_nb_html NOTEBOOK.ipynb`` (add
``--execute`` to run it first); from Python: :func:`export_html`.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import default

from .errors import BertNbError
from .figures import FIGURE_KEY, image_session, to_image
from .render import esc

__all__ = ["export_html", "OfflineHTMLExporter"]

PLOTLY = "application/vnd.plotly.v1+json"
WIDGET = "application/vnd.jupyter.widget-view+json"
_TEMPLATES = Path(__file__).parent / "templates"


class FiguresAsSVG(Preprocessor):
    """Turn each output's Plotly figure into inline SVG; drop widget views and JavaScript."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        figures = [(o, _figure_json(o)) for cell in nb.cells for o in cell.get("outputs", ())]
        drawn = [(o, f) for o, f in figures if f is not None]
        if drawn:
            with image_session():
                for output, fig in drawn:
                    _to_svg(output, fig)
        for output, fig in figures:
            if fig is None and "data" in output:
                for key in (WIDGET, "application/javascript"):
                    output.data.pop(key, None)
        return nb, resources


def _figure_json(output):
    data = output.get("data", {})
    if PLOTLY in data:
        return data[PLOTLY]
    return output.get("metadata", {}).get(FIGURE_KEY)


def _to_svg(output, figures) -> None:
    """The figure(s) as SVG in place of the output's live views; a table view stays, folded below.

    ``figures`` is one Plotly figure, or (a dashboard) a list of ``{"title", "figure"}``.
    """
    titled = figures if isinstance(figures, list) else [{"title": "", "figure": figures}]
    html = "".join(_svg_block(item["title"], item["figure"]) for item in titled)
    table = output.data.get("text/html", "")
    if table and WIDGET in output.data:  # a panel: its summary line above the figure
        html = table + html
    elif table:
        html += f'<details><summary style="font-size:12px;opacity:.75">table</summary>{table}</details>'
    plain = output.data.get("text/plain", "")
    output.data = {"text/html": html, **({"text/plain": plain} if plain else {})}
    output.get("metadata", {}).pop(FIGURE_KEY, None)


def _svg_block(title: str, fig) -> str:
    svg = to_image(fig, "svg").decode("utf-8")
    svg = svg[svg.find("<svg"):]  # inline: no XML declaration
    head = f'<div style="font-size:12px;font-weight:600;margin-top:6px">{esc(title)}</div>' if title else ""
    return f'{head}<div class="bert-nb-figure" style="max-width:100%;overflow-x:auto">{svg}</div>'


class OfflineHTMLExporter(HTMLExporter):
    """``--to bert_nb_html``: JupyterLab's HTML with figures as inline SVG and nothing loaded from a CDN."""

    export_from_notebook = "HTML, offline (bert_nb)"

    @default("template_name")
    def _template_name_default(self):
        return "bert_nb_offline"

    @default("extra_template_basedirs")
    def _default_extra_template_basedirs(self):
        return [str(_TEMPLATES)]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_preprocessor(FiguresAsSVG, enabled=True)


def export_html(notebook, path=None, *, theme: str = "light") -> Path:
    """Write a notebook as one offline HTML page with its figures drawn (inline SVG).

    Parameters
    ----------
    notebook : str or Path
        An executed ``.ipynb`` (run it first: ``jupyter nbconvert --execute --to bert_nb_html``
        does both).
    path : str or Path, optional
        Where to write; default: the notebook's name with ``.html``.
    theme : {"light", "dark"}

    Returns
    -------
    Path of the page.
    """
    import nbformat

    from .files import write_whole

    source = Path(notebook).expanduser()
    if source.suffix != ".ipynb" or not source.is_file():
        raise BertNbError(f"No notebook at {source}; give the path of an .ipynb file.")
    if theme not in ("light", "dark"):
        raise BertNbError(f"theme is 'light' or 'dark'; got {theme!r}.")
    target = Path(path).expanduser() if path is not None else source.with_suffix(".html")
    try:
        nb = nbformat.read(source, as_version=4)
        nbformat.validate(nb)
    except (nbformat.reader.NotJSONError, nbformat.ValidationError, UnicodeDecodeError, KeyError, ValueError,
            TypeError, AttributeError) as err:  # what a file that is not a notebook fails with while read
        raise BertNbError(f"Cannot read {source} as a notebook ({str(err)[:80]}); save it from Jupyter and try "
                          "again.") from None
    body, _ = OfflineHTMLExporter(theme=theme).from_notebook_node(nb, resources={"metadata": {"name": source.stem}})
    return write_whole(target, lambda tmp: Path(tmp).write_text(body, encoding="utf-8"))

