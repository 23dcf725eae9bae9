"""Writing files so that nobody ever sees half of one: every file realbench writes goes through a
temp file and a rename (``atomic_write_bytes``), every folder it builds is built beside its final
place and renamed in whole (``staged_folder``), and both get the modes a plain ``open``/``mkdir``
would give under the user's umask (0644/0755 under 022, not a temp file's 0600), so teammates on
shared storage can read results."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()  # read once: os.umask can only be read by setting it
FILE_MODE = 0o666 & ~UMASK
FOLDER_MODE = 0o777 & ~UMASK


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file.
    The file gets the mode a plain ``open`` would give (0644 under umask 022), not the temp
    file's 0600, so teammates on shared storage can read results."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise




def staged_leftovers(final: Path) -> list[Path]:
    """Folders a killed ``staged_folder`` for ``final`` left (named as ``mkdtemp`` names them)."""
    final = Path(final)
    pattern = re.compile(rf"^\.{re.escape(final.name)}\.[a-z0-9_]{{8}}$")
    if not final.parent.is_dir():
        return []
    return [p for p in final.parent.iterdir() if pattern.match(p.name) and p.is_dir() and not p.is_symlink()]


@contextlib.contextmanager
def staged_folder(final: Path, replace: bool = False) -> Iterator[Path]:
    """A folder built beside ``final`` and renamed into place whole when the block ends well
    (removed when it does not). ``final`` may be missing or empty; with ``replace``, an existing
    ``final`` is swapped out and removed once the new one is in place."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
    try:
        os.chmod(tmp, FOLDER_MODE)  # mkdtemp makes 0700
        yield tmp
        if replace and final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if final.is_dir() and not any(final.iterdir()):
                final.rmdir()
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
