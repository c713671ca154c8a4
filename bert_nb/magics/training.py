"""``%%bert finetune`` and ``%%bert predict``: train a classifier with a live curve, then use it."""

from __future__ import annotations

import functools
import inspect

from IPython.core.error import UsageError

from ._common import Command, given, out_option


def _finetune_options(p):
    p.add_argument("--data", metavar="VAR|FILE", help="a variable (a DataFrame, a list of (text, label)) or a .csv file")
    p.add_argument("--text", metavar="COL", help="text column (default text); two for pairs: --text sentence1,sentence2")
    p.add_argument("--label", metavar="COL", help="label column (default label)")
    p.add_argument("--epochs", type=float, help="passes over the data (default 3)")
    p.add_argument("--lr", type=float, help="learning rate (default 5e-5)")
    p.add_argument("--batch-size", type=int, help="examples per step (default 16)")
    p.add_argument("--max-length", type=int, help="pieces per example (default 128, or the model's maximum if less)")
    p.add_argument("--eval-fraction", type=float, help="share held out for evaluation (default 0.2)")
    p.add_argument("--task", choices=["classify", "pairs", "tokens", "qa"],
                   help="classify: a label per text; pairs: a cross-encoder on two text columns (a score or a label); "
                        "tokens: a BIO tag per word (--data with tokens and tags columns); "
                        "qa: extractive answers (--data with SQuAD records: context, question, answers)")
    p.add_argument("--stride", type=int, help="qa: pieces shared by neighbouring windows of a long context")
    out_option(p, "the fine-tuned model")


def finetune(magics, args, cell):
    """Fine-tune the active model on --data or the cell's text<TAB>label lines."""
    from ..training import finetune as run

    if args.data is not None:
        data = magics._variable(args.data, "load data first, e.g. "
                                f"`{args.data} = bert_nb.datasets.load('rotten_tomatoes', split='train').head(400)`",
                                files=(".csv",))
    elif args.task in ("tokens", "pairs", "qa"):
        example = {"tokens": "bert_nb.datasets.load('conll2003', split='train').head(1000)",
                   "qa": "bert_nb.datasets.load('conll_qa', split='train').head(500)",
                   "pairs": "bert_nb.datasets.load('sts_b', split='train')` and "
                            "`--text sentence1,sentence2 --label score"}[args.task]
        raise UsageError(f"The {args.task} task learns from a DataFrame: pass it with --data VAR, e.g. "
                         f"`train = {example}`.")
    else:
        data = _inline_examples(magics, cell)
    kwargs = given(args, text="text", label="label", epochs="epochs", learning_rate="lr",
                   batch_size="batch_size", max_length="max_length", eval_fraction="eval_fraction", task="task",
                   stride="stride")
    if "," in kwargs.get("text", ""):  # two columns: a pair of texts
        kwargs["text"] = tuple(c.strip() for c in kwargs["text"].split(","))
    callbacks, state = _training_view(magics.shell)
    return magics._store(args, run(magics._engine(), data, callbacks=callbacks, state=state, **kwargs))


def _inline_examples(magics, cell):
    pairs = []
    for n, line in enumerate(magics._lines(cell, "finetune"), 1):
        text, tab, label = line.rpartition("\t")
        if not tab or not text.strip() or not label.strip():
            raise UsageError(f"Line {n} is not `text<TAB>label`; separate the label with a tab, "
                             "or pass a DataFrame with --data VAR.")
        pairs.append((text.strip(), label.strip()))
    return pairs


def _training_view(shell, view: str = "LiveTraining"):
    """A live widget view in a notebook (``view``: a panels class), a text progress line elsewhere."""
    from ..training import TrainingState, text_progress

    if type(shell).__name__ == "ZMQInteractiveShell":
        from IPython.display import display

        from .. import panels

        live = getattr(panels, view)(stop_button=False)  # the kernel is busy: interrupt it to stop
        live.label.value = "interrupt the kernel (■) to stop after the current step"
        display(live)
        return [live.callback()], live.state
    return [text_progress()], TrainingState()


def _predict_options(p):
    p.add_argument("--model", metavar="VAR", help="a classifier in a variable, fine-tuned here or loaded from the hub "
                   "(default: the active model)")
    p.add_argument("--stride", type=int, help="pieces the windows of a long line share (default a quarter)")
    p.add_argument("--truncate", action="store_true", default=None,
                   help="cut long lines at the model's length instead of reading them in windows")
    out_option(p)


def predict(magics, args, cell):
    """A classifier's label and probabilities (a one-output head's score) for each line, or each `A ||| B` pair."""
    lines = [ln.strip() for ln in magics._lines(cell, "predict")]
    model = magics._model(args.model, f"fine-tune first with `%%bert finetune -o {args.model}`")
    run = getattr(model, "predict", None)
    if run is None and "classification" in getattr(model, "heads", ()):  # a hub or folder classifier: its labels
        from ..training import classify

        run = functools.partial(classify, model)
    if run is None:
        raise UsageError(f"'{getattr(model, 'name', args.model)}' is not a fine-tuned classifier; "
                         "fine-tune one with %%bert finetune, then `%bert use VAR`.")
    long = given(args, stride="stride", truncate="truncate")
    if long and "truncate" not in inspect.signature(run).parameters:
        raise UsageError(f"--stride and --truncate are for a classifier of single texts; "
                         f"'{getattr(model, 'name', args.model)}' reads each line in one piece.")
    return magics._store(args, run(lines, **long))


COMMANDS = (
    Command("finetune", "%%bert finetune --data VAR (or text<TAB>label lines): train a classifier, a cross-encoder "
                        "or a tagger, live curve",
            _finetune_options, finetune, order=90),
    Command("predict", "%%bert predict [--model VAR]: a classifier's label or score for each line ('A ||| B' for pairs)",
            _predict_options, predict, order=100),
)
