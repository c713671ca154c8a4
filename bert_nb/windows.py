"""Texts longer than the model: overlapping windows, what truncation cuts, and the notes that say so.

A tokenizer call with ``return_overflowing_tokens=True`` and ``stride`` gives each long
text several windows (``overflow_to_sample_mapping`` names their text). The task modules
pool over them (``embed`` averages window vectors, a classifier's ``predict`` window
logits); these helpers hold the rules they share.
"""

from __future__ import annotations

from .errors import BertNbError

__all__ = ["stride_for", "cut_pieces", "windows_note", "cut_note"]


def stride_for(stride, limit: int, tokenizer) -> int:
    """The pieces consecutive windows share: a quarter of the window unless given, always below it."""
    room = limit - tokenizer.num_special_tokens_to_add(pair=False)  # text pieces per window
    if stride is None:
        return max(room // 4, 0)
    if not isinstance(stride, int) or isinstance(stride, bool) or stride < 0 or stride >= room:
        raise BertNbError(f"stride is the number of pieces consecutive windows share, from 0 to {room - 1} for "
                          f"windows of {limit} pieces; got {stride!r}.")
    return stride


def first_windows(owner, truncate: bool) -> list[int]:
    """Every window, or with ``truncate`` each text's first one (a text's windows are consecutive)."""
    return [w for w in range(len(owner)) if not truncate or w == 0 or owner[w] != owner[w - 1]]


def cut_pieces(ids, owner, n: int, stride: int, tokenizer) -> tuple[int, ...]:
    """Per text, its pieces beyond the first window: what truncation drops."""
    specials = tokenizer.num_special_tokens_to_add(pair=False)
    cut = [0] * n
    for w in range(1, len(owner)):
        if owner[w] == owner[w - 1]:  # a text's later window: its pieces past the shared ones are new
            cut[owner[w]] += len(ids[w]) - specials - stride
    return tuple(cut)


def windows_note(windows, limit: int, stride: int, pooled: str) -> str:
    """'2 texts longer than 256 pieces read in 3-5 overlapping windows ...', or '' when all fitted."""
    split = [w for w in windows if w > 1]
    if not split:
        return ""
    spread = f"{min(split)}-{max(split)}" if min(split) != max(split) else f"{split[0]}"
    return (f"{_count(len(split), 'text')} longer than {limit} pieces read in {spread} overlapping windows "
            f"each ({stride} pieces shared), {pooled} averaged")


def cut_note(cut, limit: int) -> str:
    """'1 text longer than 256 pieces cut there (706 pieces dropped ...)', or '' when nothing was cut."""
    long = [c for c in cut if c]
    if not long:
        return ""
    return (f"{_count(len(long), 'text')} longer than {limit} pieces cut there ({_count(sum(long), 'piece')} "
            "dropped; truncate=False reads whole texts in windows)")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def one_window(tokenizer, text: str, limit: int, window: int | None, stride: int | None, **kwargs):
    """One window of a text as a batch of one: (encoding with tensors, its number, how many, a note).

    ``window`` None is the first; the note names the window and its characters when the text
    takes more than one, else it is ''. ``kwargs`` go to the tokenizer (special-token masks).
    """
    import torch
    from transformers import BatchEncoding

    stride = stride_for(stride, limit, tokenizer)
    enc = tokenizer(text, truncation=True, max_length=limit, stride=stride, return_overflowing_tokens=True,
                    return_offsets_mapping=True, **kwargs)
    n = len(enc["input_ids"])
    index = 0 if window is None else window
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
        raise BertNbError(f"window is a number from 0 to {n - 1}: the text takes {_count(n, 'window')} of {limit} "
                          f"pieces; got {window!r}.")
    keys = [k for k in enc.keys() if k != "overflow_to_sample_mapping"]
    # the window's own Encoding comes along: word_ids() and sequence_ids() work on the result
    one = BatchEncoding({k: torch.tensor([enc[k][index]]) for k in keys},
                        encoding=[enc.encodings[index]] if enc.encodings else None)
    spans = [(s, e) for s, e in enc["offset_mapping"][index] if e > s]
    note = "" if n == 1 else (f"the text takes {n} windows of {limit} pieces ({stride} shared); window {index} is "
                              f"shown (characters {spans[0][0]}-{spans[-1][1]}); window= picks another (0-{n - 1})")
    return one, index, n, note
