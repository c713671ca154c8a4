"""``%bert panel NAME``: an interactive panel, or ``all`` for the dashboard."""

from __future__ import annotations

from ._common import Command, out_option


def _options(p):
    p.add_argument("name", nargs="?", help="a dashboard tab (tokenize, mask, similarity, attention, finetune, ...) or all")
    out_option(p, "the panel")


def panel(magics, args, cell):
    """Build the named panel over the active model."""
    from IPython.core.error import UsageError

    from ..panels import panel as build, panel_classes

    names = [*panel_classes(), "all"]
    if args.name not in names:
        said = f"Unknown panel '{args.name}'" if args.name else "Name the panel"
        raise UsageError(f"{said}; choose one of {', '.join(names)} (all: every panel in tabs).")
    return magics._store(args, build(args.name, magics._engine()))


COMMANDS = (Command("panel", "show an interactive panel: %bert panel tokenize|mask|similarity|attention|layers|explain|finetune|compare|all",
                    _options, panel, order=120, line=True),)
