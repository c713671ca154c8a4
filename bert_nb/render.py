"""Static views of results: escaped HTML and plain text.

They need no JavaScript, so they show in saved notebooks, nbviewer, HTML
exports and offline. Every piece of user text goes through :func:`esc`:
text that looks like HTML is shown as text, never run as markup.
"""

from __future__ import annotations

import html

__all__ = ["esc", "token_html", "mask_html", "corruption_html", "nsp_html", "batch_html", "similarity_html",
           "projection_html", "attention_html", "finetune_html",
           "SEGMENT_COLORS", "SPECIAL_COLOR", "FATE_COLORS"]

SEGMENT_COLORS = ("#e3effc", "#fdebd8")  # segment A (blue), segment B (orange)
SPECIAL_COLOR = "#ececec"
# Text on those light fills is always dark; other secondary text inherits the theme's colour, faded,
# so the views read in light and dark themes alike.
INK = "#1a1a1a"
MUTED = "color:inherit;opacity:.75"
_SPECIAL_TEXT = {"[UNK]": "#c62828", "<unk>": "#c62828", "[MASK]": "#6a1b9a", "<mask>": "#6a1b9a",
                 "[PAD]": "#9e9e9e", "<pad>": "#9e9e9e"}

_BOX = ("display:inline-flex;align-items:stretch;border:1px solid #b8c4d0;border-radius:5px;"
        "overflow:hidden;margin:0 6px 6px 0")
_PIECE = "display:inline-block;padding:2px 5px;font-family:monospace;font-size:13px;line-height:1.25"


def esc(value) -> str:
    """HTML-escape any value, quotes included, so it is safe in text and attributes."""
    return html.escape(str(value), quote=True)


def token_html(tokens, *, title: str | None = None) -> str:
    """Pieces grouped by word, specials marked, segments shaded, details on hover.

    ``tokens`` is a :class:`~bert_nb.tokens.Tokens` or a ``TokensBatch``.
    """
    items = getattr(tokens, "items", None) or (tokens,)
    blocks = [_one_html(t) for t in items]
    head = f'<div style="font-weight:600;margin-bottom:4px">{esc(title)}</div>' if title else ""
    legend = (
        f'<div style="font-size:11px;{MUTED};margin-top:2px">'
        f'<span style="background:{SEGMENT_COLORS[0]};color:{INK};padding:0 4px">segment A</span> '
        f'<span style="background:{SEGMENT_COLORS[1]};color:{INK};padding:0 4px">segment B</span> '
        f'<span style="background:{SPECIAL_COLOR};color:{INK};padding:0 4px;font-weight:600">special</span> '
        '<span style="opacity:.6">##continuation</span> · one box per word · hover a piece '
        "for its id and character offsets</div>"
    )
    return f'<div class="bert-nb-tokens">{head}{"".join(blocks)}{legend}</div>'


def _one_html(t) -> str:
    header = (f'<div style="font-size:12px;{MUTED};margin:6px 0 3px">{esc(t.model)} · '
              f"{len(t)} pieces · A: {esc(_quote(t.text))}")
    if t.pair is not None:
        header += f" · B: {esc(_quote(t.pair))}"
    header += "</div>"
    boxes = "".join(_word_box(t, group) for group in t.words)
    note = ""
    if t.note:
        note = f'<div style="color:#b71c1c;font-size:12px">{esc(t.note)}</div>'
    return f'{header}<div style="display:flex;flex-wrap:wrap">{boxes}</div>{note}'


def _word_box(t, group) -> str:
    special = t.word[group[0]] is None  # added by the tokenizer: [CLS], [SEP], [PAD]
    bg = SPECIAL_COLOR if special else SEGMENT_COLORS[t.segment[group[0]] % 2]
    border = "border-style:dashed;" if special else ""
    pieces = "".join(_piece(t, pos) for pos in group)
    return f'<span style="{_BOX};{border}background:{bg};color:{INK}">{pieces}</span>'


def _piece(t, pos: int) -> str:
    token = t.tokens[pos]
    prefix = t.continuation_prefix or ""
    if prefix and t.is_continuation(pos) and token.startswith(prefix):
        label = f'<span style="color:#888">{esc(prefix)}</span>{esc(token[len(prefix):])}'
    else:
        label = esc(token)
    style = _PIECE
    if t.special[pos]:
        style += ";font-weight:600"
    if token in _SPECIAL_TEXT:
        style += f";color:{_SPECIAL_TEXT[token]};font-weight:600"
    sub = f'<sub style="color:#777;font-size:10px;margin-left:2px">{t.ids[pos]}</sub>'
    return f'<span title="{esc(_hover(t, pos))}" style="{style}">{label}{sub}</span>'


def _hover(t, pos: int) -> str:
    parts = [f"position {pos}", f"id {t.ids[pos]}", f"segment {'AB'[t.segment[pos] % 2]}"]
    if t.special[pos]:
        parts.append("special token")
    if t.tokens[pos] in ("[UNK]", "<unk>") and not t.special[pos]:
        parts.append("unknown: text the vocabulary does not cover")
    if t.start[pos] is not None:
        parts.append(f"word {t.word[pos]}")
        parts.append(f"chars {t.start[pos]}-{t.end[pos]} {_quote(t.source_text(pos) or '')}")
    return " · ".join(parts)


def _quote(text: str, limit: int = 80) -> str:
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return "\u201c" + text + "\u201d"


FATE_COLORS = {"masked": "#e1bee7", "random": "#ffe0b2", "kept": "#c8e6c9", "untouched": "transparent"}


def _note_html(note) -> str:
    return f'<div style="color:#8d6e00;font-size:12px;margin-top:3px">note: {esc(note)}</div>' if note else ""


def mask_html(predictions) -> str:
    """The text, then per mask its fillers and scores as a small table; notes below."""
    rows = []
    for m, cands in enumerate(predictions.masks):
        cells = "".join(
            f'<td title="{esc(c.sequence)}" style="padding:1px 8px">{esc(c.token_str)} '
            f'<span style="opacity:.6">{c.score:.3g}</span></td>' for c in cands)
        rows.append(f'<tr><th style="padding:1px 8px;text-align:left">[MASK] {m}</th>{cells}</tr>')
    joint = ""
    if predictions.joint:
        j = predictions.joint
        joint = (f'<div style="font-size:12px">joint filling ({j.score:.3g}, decided in order '
                 f'{esc(list(j.order))}): <b>{esc(j.sequence)}</b></div>')
    return (f'<div class="bert-nb-mask"><div style="font-size:12px;{MUTED}">{esc(predictions.model)} · '
            f"{esc(predictions.text)}</div><table>{''.join(rows)}</table>{joint}"
            f"{_note_html(predictions.note)}</div>")


def corruption_html(corruption) -> str:
    """Pieces as the model was shown them, coloured by fate; original and prediction on hover."""
    spans = []
    for pos, (orig, shown, fate, pred) in enumerate(
            zip(corruption.original, corruption.shown, corruption.fate, corruption.prediction)):
        hover = f"position {pos} · {fate} · original {orig}"
        if pred is not None:
            hover += f" · predicted {pred} ({'right' if pred == orig else 'wrong'})"
        border = "" if fate == "untouched" else (";outline:2px solid #2e7d32" if pred == orig else ";outline:2px solid #c62828")
        ink = "" if fate == "untouched" else f"color:{INK};"
        spans.append(f'<span title="{esc(hover)}" style="{_PIECE};background:{FATE_COLORS[fate]};{ink}'
                     f'margin:0 3px 5px 0;border-radius:3px{border}">{esc(shown)}</span>')
    c = corruption.counts()
    acc = "n/a" if corruption.accuracy is None else f"{corruption.accuracy:.0%}"
    legend = " ".join(f'<span style="background:{FATE_COLORS[f]};color:{INK};padding:0 4px">{f} {c[f]}</span>'
                      for f in ("masked", "random", "kept"))
    summary = (f'<div style="font-size:12px;{MUTED}">picked {len(corruption.picked)} of '
               f"{corruption.candidates} pieces (rate {corruption.rate:g}): {legend} · recovered {acc} "
               "(green outline: predicted back, red: missed) · hover a piece for its original</div>")
    return (f'<div class="bert-nb-corrupt"><div style="display:flex;flex-wrap:wrap">{"".join(spans)}</div>'
            f"{summary}{_note_html(corruption.note)}</div>")


def nsp_html(result) -> str:
    """The pair and P(B follows A)."""
    color = "#2e7d32" if result.is_next else "#c62828"
    return (f'<div class="bert-nb-nsp" style="font-size:13px"><span style="color:{color};font-weight:600">'
            f"P(next) = {result.probability:.3f}</span> · A: {esc(result.a)} · B: {esc(result.b)}</div>")


def batch_html(batch, item_html) -> str:
    """Each item's view, one below the other."""
    return "".join(f'<div style="margin-bottom:8px">{item_html(item)}</div>' for item in batch)


def similarity_html(sim) -> str:
    """The similarity matrix as an escaped HTML table, cells shaded by value."""
    head = "".join(f'<th title="{esc(c)}" style="padding:2px 6px">[{j}]</th>' for j, c in enumerate(sim.columns))
    rows = []
    for i, r in enumerate(sim.rows):
        cells = "".join(
            f'<td style="padding:2px 6px;text-align:right;background:rgba(33,113,181,{max(0.0, float(v)) * 0.6:.2f})">'
            f"{float(v):.3f}</td>" for v in sim.matrix[i])
        rows.append(f'<tr><th style="text-align:left;padding:2px 6px">[{i}] {esc(r)}</th>{cells}</tr>')
    return (f'<div class="bert-nb-similarity"><div style="font-size:12px;{MUTED}">cosine similarity, '
            f"{esc(sim.pooling)} pooling, {esc(sim.model)}</div>"
            f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>{_note_html(getattr(sim, 'note', ''))}</div>")


def projection_html(proj) -> str:
    """A summary line and the coordinates table."""
    return (f'<div class="bert-nb-projection"><div style="font-size:12px;{MUTED}">{esc(proj.to_text())}</div>'
            f"{proj.to_frame().round(3).to_html(index=False, escape=True)}</div>")


def attention_html(att) -> str:
    """The current view's strongest links as a table, and any fill-mask predictions."""
    from .attentions import select

    v = att.view
    s = select(att, layer=v.layer, head=v.head, hide_special=v.hide_special, direction=v.direction)
    rows = "".join(f"<tr><td>{esc(i)}</td><td>→</td><td>{esc(j)}</td><td>{w:.3f}</td></tr>"
                   for i, j, w in s.strongest(8))
    preds = mask_html(att.predictions) if att.predictions is not None else ""
    return (f'<div class="bert-nb-attention"><div style="font-size:12px;{MUTED}">attention of {esc(att.model)}: '
            f"{esc(att.summary())}; {esc(s.title)}; "
            f"strongest links:</div><table>{rows}</table>{preds}{_note_html(getattr(att, 'note', ''))}</div>")


def finetune_html(finetuned) -> str:
    """Status, the per-epoch metrics table and the confusion matrix, as escaped HTML."""
    import pandas as pd

    info = finetuned.info()
    metrics = finetuned.metrics
    cols = [c for c in ("epoch", "loss", "accuracy", "precision", "recall", "f1") if c in metrics.columns]
    table = metrics[cols].round(3).to_html(index=False, escape=True) if len(metrics) else "<p>no evaluation ran</p>"
    confusion = ""
    if finetuned.confusion is not None:
        names = [str(n) for n in finetuned.label_names]
        frame = pd.DataFrame(finetuned.confusion, index=[f"true {n}" for n in names],
                             columns=[f"predicted {n}" for n in names])
        confusion = frame.to_html(escape=True)
    return (f'<div class="bert-nb-finetune"><div style="font-size:12px;{MUTED}">{esc(info.summary())} · '
            f"{esc(info.note or '')}</div>{table}{confusion}</div>")
