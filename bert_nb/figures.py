"""Figures that leave the notebook: save any result's figure as HTML, PNG, SVG, JPEG, WebP or PDF.

HTML needs nothing more: the page carries Plotly's JavaScript once and loads
nothing from the network. The image formats go through kaleido, which draws
the figure in the system's Chromium (found on its own, or at ``BROWSER_PATH``);
nothing is downloaded. A file is written whole or not at all: it is written
beside its target and renamed into place.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

from .errors import BertNbError
from .files import write_whole

__all__ = ["save_figure", "figure_of", "to_image", "image_session", "FORMATS"]

IMAGE_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "webp")
FORMATS = ("html", *IMAGE_FORMATS)
FIGURE_KEY = "bert_nb/figure"  # output metadata: the figure a panel shows, for HTML exports (Lab and nbval ignore it)
CHROMIUM_HINT = ("install Chromium (`apt-get install chromium` on Debian or Ubuntu) or point the BROWSER_PATH "
                 "environment variable at a Chrome or Chromium binary")


def figure_of(result):
    """The Plotly figure that ``result`` shows: a figure itself, a panel's figure, or a result's built figure.

    Returns None for results whose view is HTML only (a token table, for example).
    """
    import plotly.graph_objects as go
    from plotly.basedatatypes import BaseFigure

    if isinstance(result, BaseFigure):  # a FigureWidget too: a plain copy drops the widget
        return result if type(result) is go.Figure else go.Figure(result)
    if isinstance(result, dict) and "data" in result:
        return go.Figure(result)
    if hasattr(result, "shown_figure"):  # a panel: what it shows now
        shown = result.shown_figure()
        return figure_of(shown) if shown is not None and len(shown.data) else None
    from .plots import views

    name = type(result).__name__
    items = getattr(result, "items", None)
    if name == "Batch" and items and type(items[0]).__name__ != "NextSentence":
        return None  # a batch has one figure only where its builder takes the whole batch
    key = type(items[0]).__name__ if name == "Batch" and items else name
    builder = views().get(key, (None, None, None))[2]
    return builder(result) if builder else None


def _html_of(result) -> str | None:
    """The static HTML view of a result that has no figure (escaped; no JavaScript)."""
    from .plots import views

    name = type(result).__name__
    view = views().get(name, (None, None, None))[1]
    if view:
        return view(result)
    frame = _frame_of(result)  # a table: search hits, predictions, vectors
    return None if frame is None else frame.to_html(escape=True, max_rows=5000, border=0)


def _frame_of(result):
    """A DataFrame itself, or the table of a result whose view is neither a figure nor HTML, or None."""
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, pd.Series):
        return result.to_frame()
    to_frame = getattr(result, "to_frame", None)
    if callable(to_frame) and not isinstance(result, type):
        frame = to_frame()
        return frame if isinstance(frame, pd.DataFrame) else None
    return None


def save_figure(result_or_figure, path, width: int | None = None, height: int | None = None,
                scale: float | None = None) -> Path:
    """Save what a result shows (or a Plotly figure) to a file; the format follows the suffix.

    Parameters
    ----------
    result_or_figure : a bert_nb result, a panel, or a ``go.Figure`` / ``go.FigureWidget``
    path : str or Path
        Ends in ``.html`` (self-contained: Plotly's JavaScript once, nothing loaded from the
        network), ``.png``, ``.svg``, ``.pdf``, ``.jpg`` or ``.webp`` (drawn by kaleido in the
        system's Chromium). Missing folders are made.
    width, height : int, optional
        Size in pixels; default: the figure's own, else 700 x 500.
    scale : float, optional
        Multiplies the resolution of PNG, JPEG and WebP images (2 for a sharp slide).

    Returns
    -------
    Path of the file written.

    Examples
    --------
    >>> bert_nb.save_figure(bert_nb.similarity(engine, texts), "similarity.svg")   # doctest: +SKIP
    PosixPath('similarity.svg')
    """
    path = Path(path).expanduser()
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise BertNbError(f"Cannot save as '{path.suffix or path.name}'; end the path in "
                          f"{', '.join('.' + f for f in FORMATS)}.")
    for name, value in (("width", width), ("height", height)):
        if value is not None and (not isinstance(value, int) or value < 10):
            raise BertNbError(f"{name} is a number of pixels of at least 10; got {value!r}.")
    if scale is not None and not (isinstance(scale, (int, float)) and scale > 0):
        raise BertNbError(f"scale multiplies the image's resolution and must be above 0; got {scale!r}.")
    fig = figure_of(result_or_figure)
    if fig is None:
        if hasattr(result_or_figure, "shown_figure"):  # a panel without a figure: its result's view
            if result_or_figure.result is None:
                raise BertNbError("The panel shows nothing to save yet; run it first.")
            result_or_figure = result_or_figure.result
        html = _html_of(result_or_figure)
        if html is None or fmt != "html":
            what = type(result_or_figure).__name__
            raise BertNbError(f"A {what} has no figure to save as .{fmt}" +
                              ("; save it as .html (its table view)." if html else
                               "; pass a result of bert_nb that shows a figure or a table, a panel or a Plotly "
                               "figure."))
        return write_whole(path, lambda tmp: Path(tmp).write_text(_page(html), encoding="utf-8"))
    if fmt == "html":
        return write_whole(path, lambda tmp: fig.write_html(tmp, include_plotlyjs=True, full_html=True,
                                                            default_width=width or "100%",
                                                            default_height=height or "100%",
                                                            config={"displaylogo": False}))
    return write_whole(path, lambda tmp: Path(tmp).write_bytes(to_image(fig, fmt, width, height, scale)))


def to_image(fig, fmt: str = "svg", width=None, height=None, scale=None) -> bytes:
    """The figure drawn by kaleido as image bytes, or an error that says how to get Chromium.

    The page kaleido draws on loads Plotly from the installed package and no MathJax (its
    default comes from a CDN), so nothing is fetched from the network.
    """
    import kaleido

    fig = fig if isinstance(fig, dict) else fig.to_dict()
    layout = fig.get("layout", {})
    opts = {"format": "jpg" if fmt == "jpeg" else fmt, "scale": scale or 1,
            "width": width or layout.get("width") or 700, "height": height or layout.get("height") or 500}
    for attempt in range(3):
        try:
            with warnings.catch_warnings(), _browser_logs_kept():  # within image_session its options hold
                warnings.filterwarnings("ignore", "The kopts argument is ignored")
                return kaleido.calc_fig_sync(fig, opts=opts, kopts=_KALEIDO)
        except Exception as err:  # ChromeNotFoundError, a browser that fails to start
            if _no_browser(err):
                raise BertNbError(f"Saving as .{fmt} needs a Chromium browser, which was not found; "
                                  f"{CHROMIUM_HINT} (.html needs nothing).") from None
            # on a busy machine kaleido may ask its page to draw before the page's script has loaded
            if "kaleido_scopes is not defined" not in str(err) or attempt == 2:
                raise


_KALEIDO = {"mathjax": False}


@contextmanager
def _browser_logs_kept():
    """Keep kaleido's and its browser driver's log records out of the notebook while they draw: with no
    logging set up, Python writes them to stderr, and on a busy machine the driver logs a message it could
    not decode, and ignores, with a traceback under a figure that was drawn. What fails raises instead."""
    loggers = [logging.getLogger(name) for name in ("kaleido", "choreographer", "logistro")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextmanager
def image_session():
    """Keep one Chromium open for many :func:`to_image` calls (starting it takes seconds)."""
    import kaleido

    try:
        with _browser_logs_kept():
            kaleido.start_sync_server(silence_warnings=True, **_KALEIDO)
    except Exception as err:
        if _no_browser(err):
            raise BertNbError(f"Drawing figures as images needs a Chromium browser, which was not found; "
                              f"{CHROMIUM_HINT}.") from None
        raise
    try:
        yield
    finally:
        with _browser_logs_kept():
            kaleido.stop_sync_server(silence_warnings=True)


def _no_browser(err: Exception) -> bool:
    return (type(err).__name__ in ("ChromeNotFoundError", "BrowserFailedError", "BrowserClosedError")
            or (isinstance(err, RuntimeError) and "Chrome" in str(err)))


def _page(body: str) -> str:
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>{body}</body></html>\n'
