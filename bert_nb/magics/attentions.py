"""``%%bert attention``: where each piece looks, per layer and head."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, given, model_option, one_or_batch, out_option, split_pairs


def _options(p):
    p.add_argument("--layer", type=int, help="layer to show, 0-based (default: the last)")
    p.add_argument("--head", type=int, help="head to show, 0-based (default: the mean of all heads)")
    p.add_argument("--grid", action="store_true", default=None, help="every layer x head as thumbnails")
    p.add_argument("--hide-special", action="store_true", default=None,
                   help="hide [CLS], [SEP], [PAD] and renormalise the rows")
    p.add_argument("--focus", metavar="WORD", help="one piece's attention across all layers and heads")
    p.add_argument("--pair", action="store_true", default=None, help="each line is 'text A ||| text B'")
    p.add_argument("--direction", choices=["all", "A->A", "B->B", "A->B", "B->A"],
                   help="with --pair: which quadrant (default all)")
    p.add_argument("--window", type=int, help="a text longer than the model: which window to show (default 0)")
    p.add_argument("--stride", type=int, help="pieces consecutive windows share (default a quarter)")
    model_option(p, "a model (one fine-tuned here, say)")
    out_option(p)


def attention(magics, args, cell):
    """The attention of each line, shown in the view the options ask for."""
    from ..attentions import attention as run, focus

    lines = [ln.strip() for ln in magics._lines(cell, "attention")]
    pairs = [None] * len(lines)
    if args.pair:
        lines, pairs = split_pairs(lines, "with --pair write")
    elif any("|||" in ln for ln in lines):
        raise UsageError("A line has '|||' but --pair is not set; add --pair to compare two texts.")
    view = given(args, layer="layer", head="head", grid="grid", hide_special="hide_special",
                 direction="direction", focus="focus")
    engine = magics._model(args.model, f"fine-tune one first with `%%bert finetune -o {args.model}`")
    results = []
    for text, pair in zip(lines, pairs):
        att = run(engine, text, pair, **given(args, window="window", stride="stride"))
        if view.get("focus") is not None:
            focus(att, view["focus"])  # checks the word now, so the mistake is reported here
        results.append(att.with_view(**view))
    return magics._store(args, one_or_batch(results))


COMMANDS = (Command("attention", "%%bert attention: where each piece looks, per layer and head (--grid, --focus WORD)",
                    _options, attention, order=80),)
