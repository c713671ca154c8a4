"""Files written whole or not at all: written beside their target, then renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import BertNbError


def write_whole(path: Path, write) -> Path:
    """Run ``write(temporary_path)`` beside ``path``, then move it into place: a whole file or none."""
    blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise BertNbError(f"Cannot write {path}: {blocked} is a file, not a folder; choose another path.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
        os.close(handle)
    except OSError as err:
        raise BertNbError(f"Cannot write {path} ({err.strerror or err}); choose a folder you can write to.") from None
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a temporary file is private; the saved one is like any other
        os.replace(tmp, path)
    except OSError as err:
        raise BertNbError(f"Cannot write {path} ({err.strerror or err}); choose a folder you can write to.") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
