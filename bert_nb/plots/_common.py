"""Helpers the figure builders share."""


def tidy(fig):
    """Let every axis grow its margin to fit its labels (the layouts use small fixed margins)."""
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unique(labels: list[str]) -> list[str]:
    """Make axis labels distinct (Plotly merges equal category labels)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        n = seen.get(label, 0)
        seen[label] = n + 1
        out.append(label if n == 0 else f"{label} ({n + 1})")
    return out

