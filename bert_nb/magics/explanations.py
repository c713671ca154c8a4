"""``%%bert explain``: why the model decided, one text per line (``A ||| B`` explains a similarity, a
cross-encoder's score; ``question ||| context`` a reader's answer)."""

from __future__ import annotations

from ._common import Command, given, one_or_batch, out_option


def _options(p):
    p.add_argument("--model", metavar="VAR", help="a fine-tuned model in a variable (default: the active model)")
    p.add_argument("--target", help="label name or index, the word at the [MASK], a tagger's word or a reader's answer "
                                    "(default: the model's prediction, first entity, best answer)")
    p.add_argument("--method", help="ig, gxi, occlusion, attention, rollout, a comma-separated list, or all "
                                    "(default ig: integrated gradients)")
    p.add_argument("--steps", type=int, help="integrated-gradients steps (default 50)")
    p.add_argument("--window", type=int, help="a text longer than the classifier: which window to explain (default 0)")
    out_option(p)


def explain(magics, args, cell):
    """Explain each line's label, [MASK] word, tag of a word, answer or similarity."""
    from ..explanations import explain as run

    model = magics._model(args.model, f"fine-tune first with `%%bert finetune -o {args.model}`")
    kwargs = given(args, steps="steps", window="window")
    if args.method is not None:
        methods = [m.strip() for m in args.method.split(",") if m.strip()]
        kwargs["method"] = methods[0] if len(methods) == 1 else methods
    target = args.target
    if target is not None and target.lstrip("-").isdigit() and "classification" in getattr(model, "heads", ()):
        target = int(target)  # a label index
    results = []
    for line in (ln.strip() for ln in magics._lines(cell, "explain")):
        text, bar, pair = line.partition("|||")
        results.append(run(model, text.strip(), target, pair=pair.strip() if bar else None, **kwargs))
    return magics._store(args, one_or_batch(results))


COMMANDS = (Command("explain", "%%bert explain: which words made the label, [MASK] word, tag, answer or (A ||| B) similarity",
                    _options, explain, order=95),)
