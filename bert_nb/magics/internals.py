"""``%%bert layers`` and ``%%bert probe``: inside the layers, on the cell's text or a dataset."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, given, model_option, one_or_batch, out_option, split_pairs


def _layers_options(p):
    view = p.add_mutually_exclusive_group()
    view.add_argument("--parts", action="store_true", default=None,
                      help="the token, position and segment embeddings, their sum and LayerNorm")
    view.add_argument("--positions", action="store_true", default=None,
                      help="learned position embeddings next to the sinusoidal formula (no text needed)")
    view.add_argument("--lens", action="store_true", default=None,
                      help="logit lens: what each layer predicts, through the masked-LM head")
    p.add_argument("--layer", type=int, help="show one layer (1..L) piece by piece")
    p.add_argument("--pair", action="store_true", default=None, help="each line is 'text A ||| text B'")
    model_option(p, "a model (one fine-tuned here, say)")
    out_option(p)


def layers(magics, args, cell):
    """Per line: the layer-by-layer measures, or with --parts/--lens that view; --positions needs no text."""
    from .. import internals

    engine = magics._model(args.model, f"fine-tune one first with `%%bert finetune -o {args.model}`")
    if args.positions:
        return magics._store(args, internals.positions(engine))
    lines = [ln.strip() for ln in magics._lines(cell, "layers")]
    pairs = [None] * len(lines)
    if args.pair:
        lines, pairs = split_pairs(lines, "with --pair write")
    elif any("|||" in ln for ln in lines):
        raise UsageError("A line has '|||' but --pair is not set; add --pair to look at two texts together.")
    if args.layer is not None and (args.parts or args.lens):
        raise UsageError("--layer goes with the layer-by-layer view; leave out --parts and --lens to use it.")
    results = []
    for text, pair in zip(lines, pairs):
        if args.parts:
            results.append(internals.embedding_parts(engine, text, pair))
        elif args.lens:
            if pair is not None:
                raise UsageError("The logit lens reads one text per line; leave out --pair.")
            results.append(internals.logit_lens(engine, text))
        else:
            results.append(internals.layers(engine, text, pair).at(args.layer))
    return magics._store(args, one_or_batch(results))


def _probe_options(p):
    p.add_argument("--data", metavar="VAR", required=True, help="a DataFrame with a text and a label column")
    p.add_argument("--text", metavar="COL", help="text column (default text)")
    p.add_argument("--label", metavar="COL", help="label column (default label)")
    p.add_argument("--pooling", choices=["mean", "cls", "max"], help="how to pool each layer (default mean)")
    p.add_argument("--cv", type=int, help="cross-validation folds (default 5)")
    p.add_argument("--C", type=float, dest="C",
                   help="fix the regularisation C (default: chosen per layer by an inner cross-validation)")
    out_option(p)


def probe(magics, args, cell):
    """A probe of --data's label on every layer of the active model."""
    from ..internals import probe as run

    data = magics._variable(args.data, "load data first, e.g. "
                            f"`{args.data} = bert_nb.datasets.load('rotten_tomatoes', split='train').head(500)`")
    kwargs = given(args, text="text", label="label", pooling="pooling", cv="cv")
    if args.C is not None:
        kwargs["Cs"] = [args.C]
    return magics._store(args, run(magics._engine(), data, **kwargs))


COMMANDS = (
    Command("layers", "%%bert layers: layer by layer, per piece (--parts, --positions, --lens, --layer L)",
            _layers_options, layers, order=85),
    Command("probe", "%bert probe --data VAR: how well each layer's vectors predict a label", _probe_options, probe,
            order=87, line=True),
)
