"""``%%bert ner``: a fine-tuned tagger's entities in each line, shown as the text with labelled spans."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, given, one_or_batch, out_option


def _ner_options(p):
    p.add_argument("--model", metavar="VAR", help="a tagger in a variable (default: the active model)")
    p.add_argument("--stride", type=int, help="a line longer than the tagger is read in overlapping windows: the "
                                              "pieces they share (default a quarter of the window)")
    p.add_argument("--truncate", action="store_true", help="cut a line longer than the tagger instead of reading "
                                                           "it in windows")
    out_option(p, "the entities")


def ner(magics, args, cell):
    """Entities (type, offsets, score) of each line of the cell."""
    from ..tasks.tagging import Tagger, tag

    lines = [ln.strip() for ln in magics._lines(cell, "ner")]
    model = magics._model(args.model, f"fine-tune one first with `%bert finetune --task tokens --data VAR -o {args.model}`")
    if not isinstance(model, Tagger) and "tokens" not in getattr(model, "heads", ()):  # a hub tagger: tag reads it
        raise UsageError(f"'{getattr(model, 'name', args.model)}' is not a tagger; fine-tune one with "
                         "`%bert finetune --task tokens --data VAR -o ner`, then `%%bert ner --model ner`.")
    found = tag(model, lines, truncate=args.truncate, **given(args, stride="stride"))
    return magics._store(args, one_or_batch(list(found)))


COMMANDS = (
    Command("ner", "%%bert ner [--model VAR]: a tagger's named entities in each line", _ner_options, ner, order=102,
            aliases=("tag",)),
)
