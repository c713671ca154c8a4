"""``%%bert fill``, ``corrupt`` and ``nsp``: the masked-LM and next-sentence views."""

from __future__ import annotations

from ._common import Command, given, one_or_batch, out_option, split_pairs


def _fill_options(p):
    p.add_argument("--top-k", type=int, help="fillers per mask (default 5)")
    p.add_argument("--targets", help="comma-separated words to score instead of the whole vocabulary")
    p.add_argument("--joint", action="store_true", default=None,
                   help="also fill all masks together, most confident first")
    out_option(p)


def fill(magics, args, cell):
    """The top fillers for each [MASK] of each line."""
    from ..mask import fill_mask

    kwargs = given(args, top_k="top_k", targets="targets", joint="joint")
    return magics._each(args, cell, "fill", lambda engine, line: fill_mask(engine, line, **kwargs))


def _corrupt_options(p):
    p.add_argument("--rate", type=float, help="share of pieces picked (default 0.15)")
    p.add_argument("--seed", type=int, help="make the picking reproducible")
    out_option(p)


def corrupt(magics, args, cell):
    """What masked-LM pre-training shows the model, for each line."""
    from ..mask import corrupt as run

    kwargs = given(args, rate="rate", seed="seed")
    return magics._each(args, cell, "corrupt", lambda engine, line: run(engine, line, **kwargs))


def nsp(magics, args, cell):
    """Next-sentence prediction for each 'A ||| B' line."""
    from ..mask import next_sentence

    firsts, seconds = split_pairs(magics._lines(cell, "nsp"), "write")
    engine = magics._engine()
    return magics._store(args, one_or_batch([next_sentence(engine, a, b) for a, b in zip(firsts, seconds)]))


COMMANDS = (
    Command("fill", "%%bert fill: top-k fillers for each [MASK] in each line (alias: mask)",
            _fill_options, fill, order=30, aliases=("mask",)),
    Command("corrupt", "%%bert corrupt: what MLM pre-training shows: 15% picked, 80/10/10, and the model's recovery",
            _corrupt_options, corrupt, order=40),
    Command("nsp", "%%bert nsp: 'A ||| B' per line: is B the sentence that follows A?", out_option, nsp, order=50),
)
