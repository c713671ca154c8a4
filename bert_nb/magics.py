"""The ``%bert`` line magic and ``%%bert`` cell magic: parse, call the API, return.

One parser is built once; a dict routes each subcommand to a short method.
Options default to ``None`` and only the ones given are passed on, so every
default lives once, in the API signature or a ``%config`` trait. Mistakes
become ``UsageError`` with one sentence: no traceback, and the kernel lives.
"""

from __future__ import annotations

import argparse
import difflib
import shlex

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Unicode
from traitlets.config import Configurable

from .errors import BertNbError

__all__ = ["BertMagics", "register", "unregister"]

# subcommand -> one line of help; the order is the order of `%bert --help`
SUBCOMMANDS = {
    "load": "load a model: %bert load NAME [--device D] [--dtype T] [--quantize int8]",
    "tokenize": "%%bert tokenize: show the pieces of each line (A ||| B with --pair)",
    "fill": "%%bert fill: top-k fillers for each [MASK] in each line (alias: mask)",
    "corrupt": "%%bert corrupt: what MLM pre-training shows: 15% picked, 80/10/10, and the model's recovery",
    "nsp": "%%bert nsp: 'A ||| B' per line: is B the sentence that follows A?",
    "similarity": "%%bert similarity: cosine similarity of the lines; [word] in brackets with --pooling word (alias: embed)",
    "search": "%%bert search --corpus VAR: the corpus texts closest to each line",
    "attention": "%%bert attention: where each piece looks, per layer and head (--grid, --focus WORD)",
    "finetune": "%%bert finetune --data VAR (or text<TAB>label lines): train a classifier, live curve",
    "predict": "%%bert predict [--model VAR]: a fine-tuned classifier's label for each line",
    "use": "%bert use VAR: make a fine-tuned model (a variable) the active model",
    "panel": "show an interactive panel: %bert panel tokenize|mask|similarity|attention|finetune|all",
}
_ALIASES: dict[str, str] = {"mask": "fill", "embed": "similarity"}


class _Help(Exception):
    """Raised by the parser instead of printing help and exiting."""


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
    parsers: dict[str, _Parser] = {}

    p = parsers["load"] = _Parser(prog="%bert load", description=SUBCOMMANDS["load"])
    p.add_argument("model_name_or_path", nargs="?", help="default, default-mlm, a hub id or a local folder")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--dtype", help="auto (default), fp32, bf16 or fp16")
    p.add_argument("--quantize", choices=["int8"], help="dynamic int8 Linear layers (CPU, fp32)")
    p.add_argument("--allow-pickle", action="store_true", default=None,
                   help="also accept pickled .bin weights (only from a source you trust)")
    p.add_argument("--trust-remote-code", action="store_true", default=None,
                   help="run model code shipped with the checkpoint (only from a source you trust)")

    p = parsers["tokenize"] = _Parser(prog="%%bert tokenize", description=SUBCOMMANDS["tokenize"])
    p.add_argument("--pair", action="store_true", default=None,
                   help="each line is 'text A ||| text B'")
    p.add_argument("--max-length", type=int, help="most pieces per line, specials included")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the result in this variable")

    p = parsers["fill"] = _Parser(prog="%%bert fill", description=SUBCOMMANDS["fill"])
    p.add_argument("--top-k", type=int, help="fillers per mask (default 5)")
    p.add_argument("--targets", help="comma-separated words to score instead of the whole vocabulary")
    p.add_argument("--joint", action="store_true", default=None,
                   help="also fill all masks together, most confident first")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the result in this variable")

    p = parsers["corrupt"] = _Parser(prog="%%bert corrupt", description=SUBCOMMANDS["corrupt"])
    p.add_argument("--rate", type=float, help="share of pieces picked (default 0.15)")
    p.add_argument("--seed", type=int, help="make the picking reproducible")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the result in this variable")

    p = parsers["nsp"] = _Parser(prog="%%bert nsp", description=SUBCOMMANDS["nsp"])
    p.add_argument("-o", "--out", metavar="VAR", help="also store the result in this variable")

    p = parsers["similarity"] = _Parser(prog="%%bert similarity", description=SUBCOMMANDS["similarity"])
    p.add_argument("--pooling", choices=["mean", "cls", "max", "word"], help="how to pool pieces (default mean)")
    p.add_argument("--layer", type=int, help="hidden layer: 0 embeddings ... L last (default -1)")
    p.add_argument("--project", choices=["pca", "umap"], help="show a 2-D projection instead of the matrix")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the result in this variable")

    p = parsers["search"] = _Parser(prog="%%bert search", description=SUBCOMMANDS["search"])
    p.add_argument("--corpus", required=True, metavar="VAR",
                   help="a list of texts, a pandas Series or DataFrame, or Embeddings from bert_nb.embed")
    p.add_argument("--text", metavar="COL", help="the text column when the corpus is a DataFrame (default text)")
    p.add_argument("--top-k", type=int, help="hits per query (default 5)")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the result in this variable")

    p = parsers["attention"] = _Parser(prog="%%bert attention", description=SUBCOMMANDS["attention"])
    p.add_argument("--layer", type=int, help="layer to show, 0-based (default: the last)")
    p.add_argument("--head", type=int, help="head to show, 0-based (default: the mean of all heads)")
    p.add_argument("--grid", action="store_true", default=None, help="every layer x head as thumbnails")
    p.add_argument("--hide-special", action="store_true", default=None,
                   help="hide [CLS], [SEP], [PAD] and renormalise the rows")
    p.add_argument("--focus", metavar="WORD", help="one piece's attention across all layers and heads")
    p.add_argument("--pair", action="store_true", default=None, help="each line is 'text A ||| text B'")
    p.add_argument("--direction", choices=["all", "A->A", "B->B", "A->B", "B->A"],
                   help="with --pair: which quadrant (default all)")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the result in this variable")

    p = parsers["finetune"] = _Parser(prog="%%bert finetune", description=SUBCOMMANDS["finetune"])
    p.add_argument("--data", metavar="VAR", help="a DataFrame, CSV path or list of (text, label) in a variable")
    p.add_argument("--text", metavar="COL", help="text column (default text)")
    p.add_argument("--label", metavar="COL", help="label column (default label)")
    p.add_argument("--epochs", type=float, help="passes over the data (default 3)")
    p.add_argument("--lr", type=float, help="learning rate (default 5e-5)")
    p.add_argument("--batch-size", type=int, help="examples per step (default 16)")
    p.add_argument("--max-length", type=int, help="pieces per example (default 128)")
    p.add_argument("--eval-fraction", type=float, help="share held out for evaluation (default 0.2)")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the fine-tuned model in this variable")

    p = parsers["predict"] = _Parser(prog="%%bert predict", description=SUBCOMMANDS["predict"])
    p.add_argument("--model", metavar="VAR", help="a fine-tuned model in a variable (default: the active model)")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the result in this variable")

    p = parsers["use"] = _Parser(prog="%bert use", description=SUBCOMMANDS["use"])
    p.add_argument("var", nargs="?", help="the variable holding a fine-tuned model")

    p = parsers["panel"] = _Parser(prog="%bert panel", description=SUBCOMMANDS["panel"])
    p.add_argument("name", choices=["tokenize", "mask", "similarity", "attention", "finetune", "all"],
                   help="which panel (all: every panel in tabs)")
    p.add_argument("-o", "--out", metavar="VAR", help="also store the panel in this variable")
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
        self._routes = {"load": self._load, "tokenize": self._tokenize, "fill": self._fill,
                        "corrupt": self._corrupt, "nsp": self._nsp, "similarity": self._similarity,
                        "search": self._search, "attention": self._attention, "finetune": self._finetune,
                        "predict": self._predict, "use": self._use, "panel": self._panel}

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
        if command not in self._routes:
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
            return self._routes[command](args, cell)
        except BertNbError as err:
            raise UsageError(str(err)) from None

    # -- helpers -----------------------------------------------------------
    def _engine(self):
        from .engine import load

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

    # -- subcommands -------------------------------------------------------
    def _status(self):
        from .engine import cached

        engine = cached(**self._load_kwargs())
        if engine is None:
            print(f"No model loaded yet; the first command loads '{self.model or 'default'}' "
                  f"on device {self.device or 'auto'}. `%bert load NAME` loads another; "
                  "`%bert --help` lists the commands.")
        return engine

    def _load(self, args, cell):
        from .engine import load

        if args.model_name_or_path is None:
            raise UsageError("Name the model to load, for example `%bert load default` "
                             "(packaged: default, default-mlm; or a hub id or local folder).")
        kwargs = {k: v for k, v in vars(args).items() if v is not None and k != "help"}
        engine = load(**kwargs)
        self.model = args.model_name_or_path
        if args.device is not None:
            self.device = args.device
        if args.dtype is not None:
            self.dtype = args.dtype
        return engine

    def _tokenize(self, args, cell):
        from .tokens import tokenize

        lines = self._lines(cell, "tokenize")
        pairs = None
        if args.pair:
            lines, pairs = _split_pairs(lines, "with --pair write")
        kwargs = {"max_length": args.max_length} if args.max_length is not None else {}
        engine = self._engine()
        if len(lines) == 1:
            result = tokenize(engine, lines[0], pairs[0] if pairs else None, **kwargs)
        else:
            result = tokenize(engine, lines, pairs, **kwargs)
        return self._store(args, result)


    def _fill(self, args, cell):
        from .mask import fill_mask

        kwargs = _given(args, top_k="top_k", targets="targets", joint="joint")
        return self._each(args, cell, "fill", lambda engine, line: fill_mask(engine, line, **kwargs))

    def _corrupt(self, args, cell):
        from .mask import corrupt

        kwargs = _given(args, rate="rate", seed="seed")
        return self._each(args, cell, "corrupt", lambda engine, line: corrupt(engine, line, **kwargs))

    def _nsp(self, args, cell):
        from .mask import next_sentence

        firsts, seconds = _split_pairs(self._lines(cell, "nsp"), "write")
        engine = self._engine()
        results = [next_sentence(engine, a, b) for a, b in zip(firsts, seconds)]
        return self._store(args, _one_or_batch(results))

    def _similarity(self, args, cell):
        from .embeddings import project, similarity

        lines = [ln.strip() for ln in self._lines(cell, "similarity")]
        kwargs = _given(args, pooling="pooling", layer="layer")
        sim = similarity(self._engine(), lines, **kwargs)
        if args.project:
            return self._store(args, project(sim.embeddings[0], method=args.project))
        return self._store(args, sim)

    def _variable(self, name: str, hint: str):
        """The user's variable ``name``, or a usage error that says how to make it."""
        if name not in self.shell.user_ns:
            raise UsageError(f"No variable '{name}'; {hint}.")
        return self.shell.user_ns[name]

    def _search(self, args, cell):
        from .embeddings import search

        queries = [ln.strip() for ln in self._lines(cell, "search")]
        corpus = self._variable(args.corpus, f"define it first, e.g. `{args.corpus} = ['text one', 'text two']`")
        if hasattr(corpus, "columns"):  # a DataFrame: take its text column
            column = args.text or "text"
            if column not in corpus.columns:
                raise UsageError(f"'{args.corpus}' has no column '{column}'; name one with --text "
                                 f"({', '.join(map(str, corpus.columns))}).")
            corpus = corpus[column]
        kwargs = _given(args, top_k="top_k")
        return self._store(args, search(self._engine(), queries, corpus, **kwargs))

    def _attention(self, args, cell):
        from .attentions import attention

        lines = [ln.strip() for ln in self._lines(cell, "attention")]
        pairs = [None] * len(lines)
        if args.pair:
            lines, pairs = _split_pairs(lines, "with --pair write")
        elif any("|||" in ln for ln in lines):
            raise UsageError("A line has '|||' but --pair is not set; add --pair to compare two texts.")
        view = _given(args, layer="layer", head="head", grid="grid", hide_special="hide_special",
                      direction="direction", focus="focus")
        engine = self._engine()
        results = []
        for text, pair in zip(lines, pairs):
            att = attention(engine, text, pair)
            if view.get("focus") is not None:
                from .attentions import focus

                focus(att, view["focus"])  # checks the word now, so the mistake is reported here
            results.append(att.with_view(**view))
        return self._store(args, _one_or_batch(results))

    def _finetune(self, args, cell):
        from .training import finetune

        if args.data is not None:
            data = self._variable(args.data, "load data first, e.g. "
                                  f"`{args.data} = bert_nb.datasets.load('rotten_tomatoes', split='train').head(400)`")
        else:
            data = self._inline_examples(cell)
        kwargs = _given(args, text="text", label="label", epochs="epochs", learning_rate="lr",
                        batch_size="batch_size", max_length="max_length", eval_fraction="eval_fraction")
        callbacks, state = self._training_view()
        result = finetune(self._engine(), data, callbacks=callbacks, state=state, **kwargs)
        return self._store(args, result)

    def _inline_examples(self, cell):
        lines = self._lines(cell, "finetune")
        pairs = []
        for n, line in enumerate(lines, 1):
            text, tab, label = line.rpartition("\t")
            if not tab or not text.strip() or not label.strip():
                raise UsageError(f"Line {n} is not `text<TAB>label`; separate the label with a tab, "
                                 "or pass a DataFrame with --data VAR.")
            pairs.append((text.strip(), label.strip()))
        return pairs

    def _training_view(self):
        """A live widget view in a notebook, a text progress line elsewhere."""
        from .training import TrainingState, text_progress

        if type(self.shell).__name__ == "ZMQInteractiveShell":
            from IPython.display import display

            from .widgets import LiveTraining

            live = LiveTraining(stop_button=False)  # the kernel is busy: interrupt it to stop
            live.label.value = "interrupt the kernel (■) to stop after the current step"
            display(live)
            return [live.callback()], live.state
        return [text_progress()], TrainingState()

    def _predict(self, args, cell):
        lines = [ln.strip() for ln in self._lines(cell, "predict")]
        model = self._engine() if args.model is None else \
            self._variable(args.model, f"fine-tune first with `%%bert finetune -o {args.model}`")
        if not hasattr(model, "predict"):
            raise UsageError(f"'{getattr(model, 'name', args.model)}' is not a fine-tuned classifier; "
                             "fine-tune one with %%bert finetune, then `%bert use VAR`.")
        return self._store(args, model.predict(lines))

    def _use(self, args, cell):
        from .engine import Engine, remember

        if not args.var:
            raise UsageError("Name the variable holding the model, for example `%bert use clf`.")
        engine = self.shell.user_ns.get(args.var)
        if not isinstance(engine, Engine):
            raise UsageError(f"'{args.var}' does not hold a model; fine-tune one with `%%bert finetune -o {args.var}`.")
        remember(args.var, engine)
        self.model = args.var
        return engine

    def _panel(self, args, cell):
        from .widgets import panel

        engine = self._engine()
        if args.name == "mask" and "mlm" not in engine.heads:
            engine = None  # the panel loads the packaged masked-LM
        return self._store(args, panel(args.name, engine))

    def _each(self, args, cell, command, run):
        """Run ``run(engine, line)`` on every line of the cell; one result or a Batch."""
        lines = [ln.strip() for ln in self._lines(cell, command)]
        engine = self._engine()
        return self._store(args, _one_or_batch([run(engine, line) for line in lines]))


def _given(args, **names) -> dict:
    """The options the user gave, under the API's parameter names."""
    return {param: getattr(args, opt) for param, opt in names.items() if getattr(args, opt) is not None}


def _one_or_batch(results: list):
    from .batch import Batch

    return results[0] if len(results) == 1 else Batch(tuple(results))


def _split_pairs(lines: list[str], how: str) -> tuple[list[str], list[str]]:
    split = [ln.split("|||", 1) for ln in lines]
    for n, parts in enumerate(split, 1):
        if len(parts) != 2:
            raise UsageError(f"Line {n} has no '|||'; {how} each line as `first text ||| second text`.")
    return [a.strip() for a, _ in split], [b.strip() for _, b in split]


# -- registration ------------------------------------------------------------
# class -> (module, HTML view, Plotly figure builder or None); views live in render/plots
_VIEWS = {
    "Tokens": ("bert_nb.tokens", "token_html", None),
    "TokensBatch": ("bert_nb.tokens", "token_html", None),
    "MaskPredictions": ("bert_nb.mask", "mask_html", "mask_bar"),
    "Corruption": ("bert_nb.mask", "corruption_html", None),
    "NextSentence": ("bert_nb.mask", "nsp_html", "nsp_bar"),
    "Similarity": ("bert_nb.embeddings", "similarity_html", "similarity_heatmap"),
    "Projection": ("bert_nb.embeddings", "projection_html", "projection_scatter"),
    "Embeddings": ("bert_nb.embeddings", None, None),
    "StsScore": ("bert_nb.embeddings", None, None),
    "Attention": ("bert_nb.attentions", "attention_html", "attention_figure"),
    "Recomputed": ("bert_nb.attentions", None, None),
    "FineTuned": ("bert_nb.training", "finetune_html", "finetune_figure"),
    "Batch": ("bert_nb.batch", None, None),
    "Engine": ("bert_nb.engine", None, None),
    "EngineInfo": ("bert_nb.engine", None, None),
}


def _complete(self, event):
    """Tab-complete subcommand names, then the options of the typed subcommand."""
    words = event.line.split()
    if len(words) == 1 or (len(words) == 2 and not event.line.endswith(" ")):
        return [*SUBCOMMANDS, "--help"]
    parser = _PARSERS.get(_ALIASES.get(words[1], words[1]))
    return [opt for action in parser._actions for opt in action.option_strings] if parser else []


def _html(obj):
    from . import render

    name = type(obj).__name__
    if name == "Batch" and obj.items:
        view = _VIEWS.get(type(obj.items[0]).__name__, (None, None, None))[1]
        return render.batch_html(obj, getattr(render, view)) if view else None
    view = _VIEWS.get(name, (None, None, None))[1]
    return getattr(render, view)(obj) if view else None


def _figure(obj):
    """A Plotly bundle for results that have a figure (JupyterLab shows it, exports show the HTML)."""
    import json

    from . import plots

    name = type(obj).__name__
    if name == "Batch" and obj.items and type(obj.items[0]).__name__ == "NextSentence":
        name = "NextSentence"
    builder = _VIEWS.get(name, (None, None, None))[2]
    if builder is None:
        return None
    fig = getattr(plots, builder)(obj)
    return {"application/vnd.plotly.v1+json": json.loads(fig.to_json())}


def _plain(obj, p, cycle):
    p.text(obj.to_text() if hasattr(obj, "to_text") else str(obj))


def register(shell) -> None:
    """Add the magics, rich display of results and tab completion to ``shell``."""
    magics = BertMagics(shell)
    shell.register_magics(magics)
    if magics not in shell.configurables:
        shell.configurables.append(magics)
    formatters = shell.display_formatter.formatters
    for name, (module, html_view, figure) in _VIEWS.items():
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
    for name, (module, _, _) in _VIEWS.items():
        for fmt in formatters:
            fmt.deferred_printers.pop((module, name), None)
            fmt.type_printers = {t: f for t, f in fmt.type_printers.items()
                                 if (t.__module__, t.__name__) != (module, name)}
    dispatch = shell.strdispatchers.get("complete_command")
    if dispatch is not None:
        for key in ("%bert", "%%bert"):
            dispatch.strs.pop(key, None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, BertMagics)]
