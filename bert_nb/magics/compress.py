"""``%bert quantize``, ``prune``, ``heads``, ``distill`` and ``compare``: smaller and faster models, side by side."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, given, out_option

_TRAIN_HINT = "fine-tune one first with `%bert finetune --data VAR -o {name}`"


def _model(magics, name):
    """The classifier in the user's variable ``name`` (default: the active model)."""
    return magics._model(name, _TRAIN_HINT.format(name=name))


def _data(magics, name):
    return magics._variable(name, "load data first, e.g. "
                            f"`{name} = bert_nb.datasets.load('rotten_tomatoes', split='train').head(300)`")


def _quantize_options(p):
    p.add_argument("model", metavar="VAR", help="the model to quantize (a variable)")
    p.add_argument("kind", nargs="?", choices=["int8", "bf16", "fp16"], help="int8 (default), bf16 or fp16")
    out_option(p, "the quantized model")


def quantize(magics, args, cell):
    """A quantized copy of the model in VAR."""
    from ..compress import quantize as run

    return magics._store(args, run(_model(magics, args.model), **given(args, kind="kind")))


def _model_data_options(p, what, pairs: bool = True):
    kinds = "a classifier or a cross-encoder fine-tuned here" if pairs else "a classifier of single texts"
    p.add_argument("--model", metavar="VAR", help=f"{kinds} in a variable (default: the active model)")
    p.add_argument("--data", metavar="VAR", help=f"labelled data (text, label) {what}")
    p.add_argument("--text", metavar="COL", help="text column (default text" + (
        "; a cross-encoder's two, A,B: default those it was trained on)" if pairs else ")"))
    p.add_argument("--label", metavar="COL", help="label column (default label" + (
        "; a cross-encoder's: the one it was trained on)" if pairs else ")"))


def _prune_options(p):
    _model_data_options(p, "to rank the heads on")
    p.add_argument("--fraction", type=float, help="share of heads to remove, least important first")
    p.add_argument("--importance", metavar="VAR", help="rank the heads by this `%%bert heads` result instead of --data")
    out_option(p, "the pruned model")


def _heads_in(cell) -> dict | None:
    """``layer: head, head`` lines of a cell body, as {layer: [heads]}."""
    lines = [ln.strip() for ln in (cell or "").splitlines() if ln.strip()]
    if not lines:
        return None
    heads = {}
    for n, line in enumerate(lines, 1):
        layer, colon, rest = line.partition(":")
        try:
            layer, ids = int(layer), [int(h) for h in rest.replace(",", " ").split()]
        except ValueError:
            ids = []
        if not colon or not ids:
            raise UsageError(f"Line {n} is not `layer: head, head`; write e.g. `0: 1, 5` (0-based) per line.")
        heads[layer] = ids
    return heads


def prune(magics, args, cell):
    """The model with --fraction of its heads removed (ranked on --data), or the heads named in the cell."""
    from ..compress import prune as run

    heads = _heads_in(cell)
    if heads is not None and args.fraction is not None:
        raise UsageError("Give either --fraction or heads in the cell (`layer: head, head`), not both.")
    if heads is None and args.fraction is None:
        raise UsageError("Say what to prune: --fraction 0.4 --data VAR, or `layer: head, head` lines in the cell.")
    data = _data(magics, args.data) if args.data is not None else None
    importance = None if args.importance is None else magics._variable(
        args.importance, f"measure it first with `%bert heads --data VAR -o {args.importance}`")
    if heads is None and data is None and importance is None:
        raise UsageError("--fraction ranks the heads on labelled data; add --data VAR (or --importance VAR).")
    kwargs = given(args, fraction="fraction", text="text", label="label")
    return magics._store(args, run(_model(magics, args.model), heads=heads, data=data, importance=importance,
                                   **kwargs))


def _heads_options(p):
    _model_data_options(p, "to measure on")
    out_option(p)


def heads(magics, args, cell):
    """Every head's importance (Michel et al.) on --data."""
    from ..compress import head_importance

    if args.data is None:
        raise UsageError("Head importance is measured on labelled data; add --data VAR.")
    kwargs = given(args, text="text", label="label")
    return magics._store(args, head_importance(_model(magics, args.model), _data(magics, args.data), **kwargs))


def _distill_options(p):
    _model_data_options(p, "to train the student on", pairs=False)
    p.add_argument("--layers", type=int, help="the student's layers (default: half the teacher's)")
    p.add_argument("--temperature", type=float, help="softmax temperature of the soft targets (default 2)")
    p.add_argument("--alpha", type=float, help="weight of the soft targets against the labels (default 0.5)")
    p.add_argument("--epochs", type=float, help="passes over the data (default 3)")
    p.add_argument("--lr", type=float, help="learning rate (default 1e-4)")
    p.add_argument("--batch-size", type=int, help="examples per step (default 16)")
    out_option(p, "the student")


def distill(magics, args, cell):
    """A student with fewer layers trained on the teacher's soft targets, with the live curve."""
    from ..compress import distill as run
    from .training import _training_view

    if args.data is None:
        raise UsageError("The student learns from labelled data; add --data VAR.")
    teacher, data = _model(magics, args.model), _data(magics, args.data)
    kwargs = given(args, text="text", label="label", student_layers="layers", temperature="temperature",
                   alpha="alpha", epochs="epochs", learning_rate="lr", batch_size="batch_size")
    callbacks, state = _training_view(magics.shell)
    return magics._store(args, run(teacher, data, callbacks=callbacks, state=state, **kwargs))


def _compare_options(p):
    p.add_argument("--models", metavar="A,B,C", required=True, help="variables holding classifiers (or taggers, "
                                                                       "readers, cross-encoders), comma-separated")
    p.add_argument("--data", metavar="VAR", required=True, help="labelled data to measure on (text, label; taggers: "
                                                                "tokens, tags; readers: SQuAD records; cross-encoders: "
                                                                "two text columns and a label)")
    p.add_argument("--text", metavar="COL", help="text column (default text; taggers tokens; cross-encoders A,B, "
                                                 "default the columns they were trained on)")
    p.add_argument("--label", metavar="COL", help="label column (default label; taggers tags; cross-encoders the "
                                                  "one they were trained on)")
    out_option(p, "the comparison")


def compare(magics, args, cell):
    """The models of --models measured side by side on --data."""
    from ..compress import compare as run

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if len(names) < 2:
        raise UsageError("Name at least two models to compare, e.g. --models clf,small.")
    models = {n: _model(magics, n) for n in names}
    kwargs = given(args, text="text", label="label")
    return magics._store(args, run(models, _data(magics, args.data), **kwargs))


COMMANDS = (
    Command("quantize", "%bert quantize VAR [int8|bf16|fp16] -o VAR2: a quantized copy of a model",
            _quantize_options, quantize, order=102, line=True),
    Command("heads", "%bert heads --model VAR --data VAR: every attention head's importance",
            _heads_options, heads, order=103, line=True),
    Command("prune", "%bert prune --model VAR --fraction 0.4 --data VAR: remove the least important heads",
            _prune_options, prune, order=104, line=True),
    Command("distill", "%bert distill --model VAR --data VAR --layers 3: a smaller student, live curve",
            _distill_options, distill, order=106, line=True),
    Command("compare", "%bert compare --models a,b,c --data VAR: size, accuracy and speed side by side",
            _compare_options, compare, order=108, line=True),
)
