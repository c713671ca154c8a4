"""``%bert save PATH``: the last figure (or a variable's) to a file."""

from __future__ import annotations

from IPython.core.error import UsageError

from ._common import Command, given


def _options(p):
    p.add_argument("path", nargs="?", help="a file ending in .html, .png, .svg, .pdf, .jpg or .webp")
    p.add_argument("--var", help="save this variable's figure (a result, a panel or a Plotly figure) "
                   "instead of the last one shown")
    p.add_argument("--width", type=int, help="pixels (default: the figure's own)")
    p.add_argument("--height", type=int, help="pixels (default: the figure's own)")
    p.add_argument("--scale", type=float, help="resolution multiplier for .png/.jpg/.webp (2: sharp on slides)")


def save(magics, args, cell):
    """Save the newest output that has a figure (or ``--var``'s) and say where it went."""
    from ..figures import save_figure

    if not args.path:
        raise UsageError("Name the file, for example `%bert save attention.svg` "
                         "(.html, .png, .svg, .pdf, .jpg or .webp).")
    what = magics._variable(args.var, "give the name of a variable that holds a result or a figure") \
        if args.var else _last_shown(magics.shell)
    written = save_figure(what, args.path, **given(args, width="width", height="height", scale="scale"))
    print(f"saved {written}")
    return None


def _last_shown(shell):
    """The newest cell output that has a view to save (Out[n], counting down)."""
    from ..figures import figure_of
    from ..plots import views

    known = views()
    outputs = shell.user_ns.get("Out", {})
    for n in sorted(outputs, reverse=True):
        obj = outputs[n]
        name = type(obj).__name__
        if name == "Batch" and getattr(obj, "items", None):
            name = type(obj.items[0]).__name__
        if name in known or hasattr(obj, "shown_figure") or hasattr(obj, "to_plotly_json"):
            if figure_of(obj) is not None or known.get(name, (None, None))[1] is not None:
                return obj
    raise UsageError("No figure has been shown yet; run a command first (for example `%%bert similarity`), "
                     "or name one with `--var VAR`.")


COMMANDS = (Command("save", "%bert save PATH [--var VAR]: save the last figure as .html, .png, .svg or .pdf",
                    _options, save, order=125, line=True),)
