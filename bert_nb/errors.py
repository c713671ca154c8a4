"""Errors bert_nb raises for mistakes a user can fix.

Each carries one sentence that says what to do. The magics turn them into
IPython ``UsageError`` so no traceback reaches the notebook.
"""

__all__ = ["BertNbError", "MissingHeadError", "ModelLoadError"]


class BertNbError(ValueError):
    """A mistake in what was asked for; the message says how to fix it."""


class MissingHeadError(BertNbError):
    """The loaded model lacks the head (masked-LM, NSP, classifier) a task needs."""


class ModelLoadError(BertNbError):
    """A model name or folder could not be resolved or loaded."""


def check_batch_size(batch_size) -> int:
    """``batch_size`` if it is a whole number of at least 1, else one sentence."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise BertNbError(f"batch_size must be a whole number of at least 1; got {batch_size!r}.")
    return batch_size


def listed(value, say: str, single: tuple = (str,)) -> list:
    """``value`` as a list (a ``single`` type, a string by default, is one item); ``say`` where it is no
    collection (None, a number)."""
    if isinstance(value, single):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise BertNbError(f"{say}; got {type(value).__name__}.") from None
