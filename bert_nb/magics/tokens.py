"""``%%bert tokenize``: the pieces of each line."""

from __future__ import annotations

from ._common import Command, out_option, split_pairs


def _options(p):
    p.add_argument("--pair", action="store_true", default=None, help="each line is 'text A ||| text B'")
    p.add_argument("--max-length", type=int, help="most pieces per line, specials included")
    p.add_argument("--tokenizer", metavar="NAME", help="another tokenizer or model than the active one, e.g. chinese "
                                                       "(bert-base-chinese's)")
    out_option(p)


def tokenize(magics, args, cell):
    """Tokenize each line (or each 'A ||| B' pair)."""
    from ..tokens import tokenize as run

    lines = magics._lines(cell, "tokenize")
    pairs = None
    if args.pair:
        lines, pairs = split_pairs(lines, "with --pair write")
    kwargs = {"max_length": args.max_length} if args.max_length is not None else {}
    if args.tokenizer is not None:
        from ..engine import load

        engine = load(args.tokenizer)
    else:
        engine = magics._engine()
    if len(lines) == 1:
        result = run(engine, lines[0], pairs[0] if pairs else None, **kwargs)
    else:
        result = run(engine, lines, pairs, **kwargs)
    return magics._store(args, result)


COMMANDS = (Command("tokenize", "%%bert tokenize [--tokenizer chinese]: show the pieces of each line (A ||| B with --pair)",
                    _options, tokenize, order=20),)
