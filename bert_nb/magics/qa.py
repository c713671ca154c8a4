"""``%%bert answer``: a reader's answers to each ``question ||| context`` line, marked in the context."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, one_or_batch, out_option


def _answer_options(p):
    p.add_argument("--model", metavar="VAR", help="a reader in a variable (default: the active model)")
    p.add_argument("--top-k", type=int, metavar="N", help="answers per question (default 3)")
    out_option(p, "the answers")


def answer(magics, args, cell):
    """The best answers to each line's question, found in that line's context."""
    from ..tasks.qa import answer as run

    lines = [ln.strip() for ln in magics._lines(cell, "answer")]
    for n, line in enumerate(lines, 1):
        question, bar, context = line.partition("|||")
        if not bar or not question.strip() or not context.strip():
            raise UsageError(f"Line {n} is not `question ||| context`; put the question, three bars, then the text "
                             "to answer from.")
    model = magics._model(args.model, f"fine-tune one first with `%bert finetune --task qa --data VAR -o {args.model}`")
    kwargs = {} if args.top_k is None else {"top_k": args.top_k}
    found = [run(model, *[p.strip() for p in line.split("|||", 1)], **kwargs) for line in lines]
    return magics._store(args, one_or_batch(found))


COMMANDS = (
    Command("answer", "%%bert answer [--model VAR] [--top-k N]: a reader's answers to `question ||| context` lines",
            _answer_options, answer, order=103, aliases=("qa",)),
)
