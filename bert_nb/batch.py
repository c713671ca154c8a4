"""A result per input line: what a magic cell with several lines returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

__all__ = ["Batch"]


@dataclass(frozen=True)
class Batch:
    """Several results of one kind, one per example, in order."""

    items: tuple[Any, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __getitem__(self, index: int):
        return self.items[index]

    def to_frame(self):
        """Every item's rows (or one row per item), with an ``example`` column first."""
        import pandas as pd

        frames = []
        for i, item in enumerate(self.items):
            frame = item.to_frame() if hasattr(item, "to_frame") else pd.DataFrame([vars(item)])
            frames.append(frame.assign(example=i))
        frame = pd.concat(frames, ignore_index=True)
        return frame[["example", *[c for c in frame.columns if c != "example"]]]

    def to_text(self) -> str:
        """Each item's text view, blank-line separated."""
        return "\n\n".join(item.to_text() for item in self.items)

    def __repr__(self) -> str:
        kind = type(self.items[0]).__name__ if self.items else "results"
        return f"Batch({len(self)} x {kind})"
