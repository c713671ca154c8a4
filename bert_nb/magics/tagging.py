"""``%%bert ner``: a fine-tuned tagger's entities in each line, shown as the text with labelled spans."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, one_or_batch, out_option


def _ner_options(p):
    p.add_argument("--model", metavar="VAR", help="a tagger in a variable (default: the active model)")
    out_option(p, "the entities")


def ner(magics, args, cell):
    """Entities (type, offsets, score) of each line of the cell."""
    from ..tasks.tagging import Tagger, tag

    lines = [ln.strip() for ln in magics._lines(cell, "ner")]
    model = magics._model(args.model, f"fine-tune one first with `%bert finetune --task tokens --data VAR -o {args.model}`")
    if not isinstance(model, Tagger) and "tokens" not in getattr(model, "heads", ()):  # a hub tagger: tag reads it
        raise UsageError(f"'{getattr(model, 'name', args.model)}' is not a tagger; fine-tune one with "
                         "`%bert finetune --task tokens --data VAR -o ner`, then `%%bert ner --model ner`.")
    return magics._store(args, one_or_batch([tag(model, line) for line in lines]))


COMMANDS = (
    Command("ner", "%%bert ner [--model VAR]: a tagger's named entities in each line", _ner_options, ner, order=102,
            aliases=("tag",)),
)
