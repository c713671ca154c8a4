"""``%%bert pretrain``: a small BERT learns from unlabelled text, live."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, given, out_option


def _options(p):
    p.add_argument("--data", metavar="VAR|FILE", help="the texts: a variable (a list, a Series, a DataFrame with a "
                   "text column) or a .txt (a document per line), .csv or .parquet file (default: the cell's lines)")
    p.add_argument("--config", help="tiny (default: 2 layers, hidden 128) or mini (4 layers, hidden 256)")
    p.add_argument("--tokenizer", help="chinese (default), another packaged name or a tokenizer folder")
    p.add_argument("--objectives", help="mlm,nsp (default) or mlm")
    p.add_argument("--steps", type=int, help="training steps (default 1000)")
    p.add_argument("--batch-size", type=int, help="texts per step (default 64)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 5e-4)")
    p.add_argument("--max-length", type=int, help="pieces per example (default 64)")
    p.add_argument("--eval-every", type=int, help="steps between evaluations (default: ten in all)")
    p.add_argument("--probe", action="append", metavar="TEXT",
                   help="a sentence with [MASK] refilled at each evaluation (repeat for more)")
    out_option(p, "the pre-trained model")


def pretrain(magics, args, cell):
    """Pre-train a BERT from random weights on the texts; the live view shows loss, accuracy and the probes."""
    from ..pretraining import pretrain as run
    from .training import _training_view

    if args.data:
        texts = magics._variable(args.data, f"put the texts in it first, e.g. `{args.data} = "
                                 "bert_nb.datasets.load('peoples_daily_text').text`", files=(".txt", ".csv", ".parquet"))
        if cell and cell.strip():
            raise UsageError("Give the texts either with --data or in the cell, not both.")
    else:
        texts = [ln.strip() for ln in magics._lines(cell, "pretrain")]
    kwargs = given(args, config="config", tokenizer="tokenizer", steps="steps", batch_size="batch_size",
                   learning_rate="lr", max_length="max_length", eval_every="eval_every")
    if args.objectives:
        kwargs["objectives"] = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
    if args.probe:
        kwargs["probes"] = args.probe
    callbacks, state = _training_view(magics.shell, "LivePretraining")
    return magics._store(args, run(texts, callbacks=callbacks, state=state, **kwargs))


COMMANDS = (Command("pretrain", "%%bert pretrain [--steps N] [--probe TEXT]: a BERT from random weights learns "
                                "from the lines (masked-LM + next sentence), live",
                    _options, pretrain, order=92),)
