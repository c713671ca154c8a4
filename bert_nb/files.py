"""Where results leave for disk: files written whole or not at all (beside their target, then renamed into
place), and folders made or refused in one sentence."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import BertNbError


def is_file(path) -> bool:
    """Whether ``path`` (``~`` expanded) is a file; False for a name no file can have (too long, a NUL), as for
    one that is not there, so text given where a path may be is told apart without an OSError."""
    try:
        return Path(path).expanduser().is_file()
    except (OSError, ValueError):
        return False


def is_dir(path) -> bool:
    """Whether ``path`` (``~`` expanded) is a folder; False for a name no folder can have."""
    try:
        return Path(path).expanduser().is_dir()
    except (OSError, ValueError):
        return False


def write_whole(path: Path, write) -> Path:
    """Run ``write(temporary_path)`` beside ``path`` (``~`` expanded), then move it into place: a whole file or none."""
    path = Path(path).expanduser()
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


def made_folder(folder: Path) -> Path:
    """Make the folder something is written to (an index, a model), or say in one sentence why it cannot be;
    returns it with ``~`` expanded, as a shell would."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise BertNbError(f"{folder} is a file; give a folder to write in.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BertNbError(f"Cannot make the folder {folder} ({e.strerror or e}); give a folder you can write to.") \
            from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BertNbError(f"Cannot write in {folder}; give a folder you can write to.")
    return folder
