"""``%bert load`` and ``%bert use``: which model every other command runs on."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command


def _load_options(p):
    p.add_argument("model_name_or_path", nargs="?", help="default, default-mlm, a hub id or a local folder")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--dtype", help="auto (default), fp32, bf16 or fp16")
    p.add_argument("--quantize", choices=["int8"], help="dynamic int8 Linear layers (CPU, fp32)")
    p.add_argument("--allow-pickle", action="store_true", default=None,
                   help="also accept pickled .bin weights (only from a source you trust)")
    p.add_argument("--trust-remote-code", action="store_true", default=None,
                   help="run model code shipped with the checkpoint (only from a source you trust)")


def load(magics, args, cell):
    """Load a model and make it the active one."""
    from ..engine import load as load_engine

    if args.model_name_or_path is None:
        raise UsageError("Name the model to load, for example `%bert load default` "
                         "(packaged: default, default-mlm; or a hub id or local folder).")
    kwargs = {k: v for k, v in vars(args).items() if v is not None and k != "help"}
    engine = load_engine(**kwargs)
    magics.model = args.model_name_or_path
    if args.device is not None:
        magics.device = args.device
    if args.dtype is not None:
        magics.dtype = args.dtype
    return engine


def _use_options(p):
    p.add_argument("var", nargs="?", help="the variable holding a fine-tuned model")


def use(magics, args, cell):
    """Make a fine-tuned model held in a variable the active one."""
    from ..engine import Engine, remember

    if not args.var:
        raise UsageError("Name the variable holding the model, for example `%bert use clf`.")
    engine = magics.shell.user_ns.get(args.var)
    if not isinstance(engine, Engine):
        name = args.var if args.var.isidentifier() else "clf"  # a name a variable can have
        raise UsageError(f"'{args.var}' does not hold a model; fine-tune one with `%%bert finetune -o {name}`, then "
                         f"`%bert use {name}`.")
    remember(args.var, engine)
    magics.model = args.var
    return engine


COMMANDS = (
    Command("load", "load a model: %bert load NAME [--device D] [--dtype T] [--quantize int8]",
            _load_options, load, order=10, line=True),
    Command("use", "%bert use VAR: make a fine-tuned model (a variable) the active model",
            _use_options, use, order=110, line=True),
)
