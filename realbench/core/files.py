"""Writing files so that nobody ever sees half of one: every file realbench writes goes through a
temp file and a rename (``atomic_write_bytes``), every folder it builds is built beside its final
place and renamed in whole (``staged_folder``), and both get the modes a plain ``open``/``mkdir``
would give under the user's umask (0644/0755 under 022, not a temp file's 0600), so teammates on
shared storage can read results."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
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




STAGING = ".staging-"  # in the name of a folder being built: .<final>.staging-<host>-<pid>-<random>
STAGING_MARKER = ".realbench-staging"  # inside it: {"host": ..., "pid": ...}


def _owner_gone(marker: Path) -> bool:
    """Whether the process that built a staging folder is gone (on this host; a folder another
    host is building is never touched)."""
    try:
        owner = json.loads(marker.read_text())
        host, pid = str(owner["host"]), int(owner["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def staged_leftovers(final: Path) -> list[Path]:
    """Folders that a killed ``staged_folder`` for ``final`` left: named and marked as realbench
    names and marks them, built by a process of this host that is gone."""
    final = Path(final)
    if not final.parent.is_dir():
        return []
    prefix = f".{final.name}{STAGING}"
    return [p for p in final.parent.iterdir() if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()
            and _owner_gone(p / STAGING_MARKER)]


def _mark(folder: Path) -> None:
    (folder / STAGING_MARKER).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))


@contextlib.contextmanager
def staged_folder(final: Path, replace: bool = False) -> Iterator[Path]:
    """A folder built beside ``final`` and renamed into place whole when the block ends well
    (removed when it does not; and if this process is killed, removed by the next build of
    ``final``). ``final`` may be missing or empty; with ``replace``, an existing ``final`` (one
    realbench made) is swapped out and removed once the new one is in place."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in staged_leftovers(final):
        shutil.rmtree(stale, ignore_errors=True)
    tag = f"{socket.gethostname()}-{os.getpid()}-"
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}{STAGING}{tag}"))
    try:
        os.chmod(tmp, FOLDER_MODE)  # mkdtemp makes 0700
        _mark(tmp)
        yield tmp
        (tmp / STAGING_MARKER).unlink()
        _place(tmp, final, replace)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _place(tmp: Path, final: Path, replace: bool) -> None:
    if final.is_symlink():  # never swap out (and so never write through) a link someone put there
        raise FileExistsError(errno.EEXIST, "is a symbolic link, not a folder realbench made", str(final))
    if replace and final.exists():
        _mark(final)  # if killed between the renames, the old one is a leftover like any other
        old = final.with_name(f"{tmp.name}-old")
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
        return
    if final.is_dir() and not any(final.iterdir()):
        final.rmdir()
    os.replace(tmp, final)
