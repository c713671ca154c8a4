"""The ``%bert`` line magic and ``%%bert`` cell magic: parse, call the API, return.

Each task's subcommands live in ``magics/<task>.py`` as ``COMMANDS``: a help line,
the options and a short handler. This module finds them, builds one parser per
subcommand once, and routes. Options default to ``None`` and only the ones given
are passed on, so every default lives once, in the API signature or a ``%config``
trait. Mistakes become ``UsageError`` with one sentence: no traceback, and the
kernel lives. A new subcommand adds a module; nothing here grows.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
from importlib import import_module
from pkgutil import iter_modules

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Unicode
from traitlets.config import Configurable

from ..errors import BertNbError
from ..files import is_file

__all__ = ["BertMagics", "register", "unregister"]


def _commands() -> dict:
    """Every subcommand found in this package, in help order."""
    found = []
    for module in iter_modules(__path__):
        if not module.name.startswith("_"):
            found += getattr(import_module(f"{__name__}.{module.name}"), "COMMANDS", ())
    return {c.name: c for c in sorted(found, key=lambda c: c.order)}


_COMMANDS = _commands()
# subcommand -> one line of help; the order is the order of `%bert --help`
SUBCOMMANDS = {name: c.help for name, c in _COMMANDS.items()}
_ALIASES = {alias: c.name for c in _COMMANDS.values() for alias in c.aliases}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "--help", action="store_true", help="show this help")

    def error(self, message):
        raise UsageError(f"{message[0].upper()}{message[1:]}; run `%bert {self.prog.split()[-1]} --help` for the options.")

    def exit(self, status=0, message=None):
        raise UsageError(message or "Bad arguments; run `%bert --help`.")


def _build_parser() -> dict[str, _Parser]:
    parsers = {}
    for name, command in _COMMANDS.items():
        prog = f"%bert {name}" if command.line else f"%%bert {name}"
        command.options(parsers.setdefault(name, _Parser(prog=prog, description=command.help)))
    return parsers


_PARSERS = _build_parser()


def _top_help() -> str:
    width = max(len(k) for k in SUBCOMMANDS)
    lines = ["Usage: %bert [SUBCOMMAND] [OPTIONS]   (cell: %%bert SUBCOMMAND, text in the cell body)",
             "", f"  {'(none)':<{width}}  status: model, device, dtype, memory"]
    lines += [f"  {name:<{width}}  {text}" for name, text in SUBCOMMANDS.items()]
    lines += ["", "`%bert SUBCOMMAND --help` shows its options.",
              "Defaults: %config BertMagics.model / .device / .dtype"]
    return "\n".join(lines)


def _either(suffixes: tuple[str, ...]) -> str:
    """(".txt", ".csv", ".parquet") -> ".txt, .csv or .parquet"."""
    return " or ".join([", ".join(suffixes[:-1]), suffixes[-1]] if len(suffixes) > 1 else list(suffixes))


@magics_class
class BertMagics(Magics, Configurable):
    """``%bert`` and ``%%bert``: a notebook front for the bert_nb API."""

    model = Unicode(None, allow_none=True, config=True,
                    help="Model every command uses (None: bert_nb.load's default, 'default').")
    device = Unicode(None, allow_none=True, config=True,
                     help="Device to load on (None: bert_nb.load's default, 'auto').")
    dtype = Unicode(None, allow_none=True, config=True,
                    help="dtype to load in (None: bert_nb.load's default, 'auto').")

    def __init__(self, shell=None, **kwargs):
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)

    @line_cell_magic
    def bert(self, line: str, cell: str | None = None):
        """Workbench for BERT models; `%bert --help` lists the subcommands."""
        try:
            words = shlex.split(line)
        except ValueError as err:
            raise UsageError(f"Could not read the options ({err}); check the quotes.") from None
        if not words:
            if cell is not None and cell.strip():
                raise UsageError("Name a subcommand, for example `%%bert tokenize`; `%bert --help` lists them.")
            return self._status()
        command, rest = words[0], words[1:]
        if command in ("-h", "--help", "help"):
            print(_top_help())
            return None
        command = _ALIASES.get(command, command)
        if command not in _COMMANDS:
            close = difflib.get_close_matches(command, list(SUBCOMMANDS) + list(_ALIASES), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UsageError(f"Unknown subcommand '{command}'; {hint}`%bert --help` lists them "
                             f"({', '.join(SUBCOMMANDS)}).")
        parser = _PARSERS[command]
        args = parser.parse_args(rest)
        if args.help:
            print(parser.format_help())
            return None
        try:
            return _COMMANDS[command].run(self, args, cell)
        except BertNbError as err:
            raise UsageError(str(err)) from None

    # -- what the handlers share -------------------------------------------
    def _engine(self):
        from ..engine import load

        return load(**self._load_kwargs())

    def _load_kwargs(self) -> dict:
        given = {"model_name_or_path": self.model, "device": self.device, "dtype": self.dtype}
        return {k: v for k, v in given.items() if v is not None}

    def _store(self, args, result):
        name = getattr(args, "out", None)
        if name:
            if not name.isidentifier():
                raise UsageError(f"'{name}' is not a valid variable name for -o.")
            self.shell.user_ns[name] = result
        return result

    @staticmethod
    def _lines(cell: str | None, command: str) -> list[str]:
        if cell is None:
            raise UsageError(f"{command} reads text from the cell body: write `%%bert {command}` "
                             "on the first line and one text per line below it.")
        lines = [ln for ln in cell.splitlines() if ln.strip()]
        if not lines:
            raise UsageError(f"The cell is empty; write one text per line below `%%bert {command}`.")
        return lines

    def _variable(self, name: str, hint: str, files: tuple[str, ...] = ()):
        """The user's variable ``name``, or a usage error that says how to make it.

        With ``files`` (suffixes such as ".csv"), where no variable has that name and it ends so or is
        no Python name, ``name`` itself: the path of a file, which must exist."""
        if name not in self.shell.user_ns and files and (name.endswith(files) or not name.isidentifier()):
            if not is_file(name):
                raise UsageError(f"No file '{name}' (and no variable of that name); give a {_either(files)} "
                                 "file that exists, or a variable.")
            return name
        if name not in self.shell.user_ns:
            also = f", or give a {_either(files)} file" if files else ""
            raise UsageError(f"No variable '{name}'; {hint}{also}.")
        return self.shell.user_ns[name]

    def _model(self, name: str | None, hint: str):
        """The model in the user's variable ``name`` (None: the active model), or a usage error that says
        how to make one (``hint``)."""
        if name is None:
            return self._engine()
        model = self._variable(name, hint)
        if not hasattr(model, "tokenizer"):  # an engine, a fine-tuned model, a pre-trained one
            raise UsageError(f"'{name}' holds {_a(type(model).__name__)}, not a model; {hint}, "
                             f"or load one: `{name} = bert_nb.load('default')`.")
        return model

    def _each(self, args, cell, command, run):
        """Run ``run(engine, line)`` on every line of the cell; one result or a Batch."""
        from ._common import one_or_batch

        lines = [ln.strip() for ln in self._lines(cell, command)]
        engine = self._engine()
        return self._store(args, one_or_batch([run(engine, line) for line in lines]))

    def _status(self):
        from ..engine import cached

        engine = cached(**self._load_kwargs())
        if engine is None:
            print(f"No model loaded yet; the first command loads '{self.model or 'default'}' "
                  f"on device {self.device or 'auto'}. `%bert load NAME` loads another; "
                  "`%bert --help` lists the commands.")
        return engine


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


# -- registration ------------------------------------------------------------
# result type -> (module, HTML view, figure builder): each task's table lives beside its views in
# plots/<task>.py; these types have a text view only
_CORE_VIEWS = {"Batch": ("bert_nb.batch", None, None), "Engine": ("bert_nb.engine", None, None),
               "EngineInfo": ("bert_nb.engine", None, None)}


def _views() -> dict:
    from .. import plots

    return {**plots.views(), **_CORE_VIEWS}


def _view(obj, part: int):
    """The HTML view (part 1) or figure builder (part 2) for ``obj``; a Batch takes its items'."""
    name = type(obj).__name__
    if name == "Batch" and obj.items:
        name = type(obj.items[0]).__name__
    return _views().get(name, (None, None, None))[part]


def _complete(self, event):
    """Tab-complete subcommand names, then the options of the typed subcommand."""
    words = event.line.split()
    if len(words) == 1 or (len(words) == 2 and not event.line.endswith(" ")):
        return [*SUBCOMMANDS, "--help"]
    parser = _PARSERS.get(_ALIASES.get(words[1], words[1]))
    return [opt for action in parser._actions for opt in action.option_strings] if parser else []


def _html(obj):
    from .. import render

    view = _view(obj, 1)
    if view is None:
        return None
    return render.batch_html(obj, view) if type(obj).__name__ == "Batch" else view(obj)


def _figure(obj):
    """A Plotly bundle for results that have a figure (JupyterLab shows it, exports show the HTML)."""
    import json

    builder = _view(obj, 2)
    if builder is None or (type(obj).__name__ == "Batch" and type(obj.items[0]).__name__ != "NextSentence"):
        return None  # a batch shows one figure only where its builder takes the whole batch (next-sentence bars)
    return {"application/vnd.plotly.v1+json": json.loads(builder(obj).to_json())}


def _plain(obj, p, cycle):
    p.text(obj.to_text() if hasattr(obj, "to_text") else str(obj))


def register(shell) -> None:
    """Add the magics, rich display of results and tab completion to ``shell``."""
    magics = BertMagics(shell)
    shell.register_magics(magics)
    if magics not in shell.configurables:
        shell.configurables.append(magics)
    formatters = shell.display_formatter.formatters
    for name, (module, html_view, figure) in _views().items():
        formatters["text/plain"].for_type_by_name(module, name, _plain)
        if html_view or name == "Batch":
            formatters["text/html"].for_type_by_name(module, name, _html)
        if figure or name == "Batch":
            shell.display_formatter.mimebundle_formatter.for_type_by_name(module, name, _figure)
    for key in ("%bert", "%%bert"):
        shell.set_hook("complete_command", _complete, str_key=key)


def unregister(shell) -> None:
    """Undo :func:`register` as far as IPython allows (magics stay until restart)."""
    formatters = [shell.display_formatter.mimebundle_formatter,
                  *(shell.display_formatter.formatters[m] for m in ("text/plain", "text/html"))]
    for name, (module, _, _) in _views().items():
        for fmt in formatters:
            fmt.deferred_printers.pop((module, name), None)
            fmt.type_printers = {t: f for t, f in fmt.type_printers.items()
                                 if (t.__module__, t.__name__) != (module, name)}
    dispatch = shell.strdispatchers.get("complete_command")
    if dispatch is not None:
        for key in ("%bert", "%%bert"):
            dispatch.strs.pop(key, None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, BertMagics)]
