"""A figure in words: what is drawn, without the float bits that differ from CPU to CPU."""

from __future__ import annotations

__all__ = ["describe"]


_DESCRIBE_LABELS = 8


def describe(fig) -> str:
    """A short text account of a figure: its title, axes, and per trace the kind, name, size and labels.

    It names what is drawn, never raw float values, so it reads the same on any CPU: the
    notebooks print it under a figure for nbval to compare (a figure's JSON holds float bits
    that differ from machine to machine). Numbers appear only as the figure's own formatted
    text labels, as a reader sees them.
    """
    layout = fig.layout
    lines = [f"figure: {_plain(layout.title.text) or '(untitled)'}"]
    traces = [_describe_trace(trace) for trace in fig.data]
    for line in dict.fromkeys(traces):  # a grid of alike panels reads as one line with a count
        n = traces.count(line)
        lines.append(line if n == 1 else f"{n} x {line}")
    axes = [(name, getattr(layout, name).title.text) for name in sorted(layout.to_plotly_json())
            if name.startswith(("xaxis", "yaxis"))]
    titled = [f"{name} '{_plain(text)}'" for name, text in axes if text]
    if titled:
        lines.append("axes: " + ", ".join(titled))
    notes = [_plain(a.text) for a in layout.annotations if a.text]
    if notes:
        lines.append(f"{len(notes)} annotations: " + _listing(notes))
    if layout.shapes:
        lines.append(f"{len(layout.shapes)} shapes")
    return "\n".join(lines)


def _describe_trace(trace) -> str:
    import numpy as np

    kind = trace.type + (f" ({trace.orientation})" if getattr(trace, "orientation", None) else "")
    name = f" '{_plain(trace.name)}'" if getattr(trace, "name", None) else ""
    if trace.type == "table":
        header = [_plain(str(h)) for h in trace.header.values]
        rows = len(trace.cells.values[0]) if trace.cells.values else 0
        return f"table{name}: {len(header)} columns x {rows} rows; header: {', '.join(header)}"
    parts = []
    if getattr(trace, "z", None) is not None:
        parts.append(" x ".join(str(n) for n in np.shape(trace.z)))
    elif getattr(trace, "x", None) is not None:
        parts.append(f"{len(trace.x)} {'bars' if trace.type == 'bar' else 'points'}")
    if getattr(trace, "mode", None):
        parts.append(f"mode {trace.mode}")
    for axis in ("x", "y"):
        values = getattr(trace, axis, None)
        if values is not None and len(values) and isinstance(values[0], str):
            parts.append(f"{axis}: {_listing([_plain(v) for v in values])}")
    text = getattr(trace, "text", None)
    if text is not None and not isinstance(text, str) and len(text) and isinstance(np.ravel(text)[0], str):
        parts.append(f"text: {_listing([_plain(t) for t in np.ravel(text)])}")
    return f"{kind}{name}: " + "; ".join(parts)


def _listing(values: list[str]) -> str:
    shown = ", ".join(values[:_DESCRIBE_LABELS])
    return shown if len(values) <= _DESCRIBE_LABELS else f"{shown}, ... ({len(values)} in all)"


def _plain(text) -> str:
    """Label text without Plotly's markup tags or HTML escapes."""
    import html
    import re

    text = html.unescape(re.sub(r"<[^>]+>", " ", str(text or ""))).replace("\u2003", "")
    return re.sub(r"\s+", " ", text).strip()
