"""Top-k in the order a reader sees: values compared as displayed, ties in reading order.

Floats differ in their 6th-7th digit from one CPU to another (other MKL/oneDNN kernels), so
two weights that print as 0.412 may swap places on another machine. Ranking on the displayed
precision, with ties broken by position, gives the same list everywhere.
"""


def top_indices(values, k: int, decimals: int = 3):
    """Flat indices of the ``k`` largest entries of ``values``, compared at ``decimals`` places.

    Entries that round to the same value keep their reading (row-major) order; NaN and
    -inf come last.
    """
    import numpy as np

    flat = np.asarray(values, dtype=float).ravel()
    key = np.where(np.isfinite(flat), np.round(flat, decimals), -np.inf)
    order = np.lexsort((np.arange(flat.size), -key))  # last key is primary: largest first, then position
    return order[:k]
