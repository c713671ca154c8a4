"""What the subcommand handlers share: the Command record and small option helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from IPython.core.error import UsageError


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, its options and its handler ``run(magics, args, cell)``.

    ``order`` places it in ``%bert --help``; ``line`` marks commands used as ``%bert NAME``
    rather than with a cell body.
    """

    name: str
    help: str
    options: Callable  # options(parser): adds the subcommand's arguments
    run: Callable
    order: int
    aliases: tuple[str, ...] = field(default=())
    line: bool = False


def model_option(parser, what: str = "a model") -> None:
    """The ``--model VAR`` option: a model in a variable instead of the active one."""
    parser.add_argument("--model", metavar="VAR", help=f"{what} in a variable (default: the active model)")


def out_option(parser, what: str = "the result") -> None:
    """The ``-o VAR`` option every result-returning subcommand has."""
    parser.add_argument("-o", "--out", metavar="VAR", help=f"also store {what} in this variable")


def given(args, **names) -> dict:
    """The options the user gave, under the API's parameter names."""
    return {param: getattr(args, opt) for param, opt in names.items() if getattr(args, opt) is not None}


def one_or_batch(results: list):
    """One result as itself, several as a Batch."""
    from ..batch import Batch

    return results[0] if len(results) == 1 else Batch(tuple(results))


def split_pairs(lines: list[str], how: str) -> tuple[list[str], list[str]]:
    """Lines written 'A ||| B' as two lists, or a usage error naming the line without '|||'."""
    split = [ln.split("|||", 1) for ln in lines]
    for n, parts in enumerate(split, 1):
        if len(parts) != 2:
            raise UsageError(f"Line {n} has no '|||'; {how} each line as `first text ||| second text`.")
    return [a.strip() for a, _ in split], [b.strip() for _, b in split]
