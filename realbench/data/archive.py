"""The release archive as users download it: ``--data realfill_data_release_full.zip``.

The zip is unpacked once into realbench's cache (``$REALBENCH_CACHE/archives/<name>-<key>/``) and
reused; the key is a hash of the archive's table of contents (names, sizes, CRCs), so a changed
archive is a new folder, and reading it costs no full pass over gigabytes. Unpacking is bounded
(``realbench.core.unzip``), goes to a temporary folder renamed into place when complete, and holds a
lock per archive: parallel runs on one zip unpack it once, and a temporary folder left by a killed
unpack is removed by the next one (only under that lock, so a live unpack is never touched). Every
opening of any archive also removes the staging folders of killed unpacks of other archives (those
whose process, named in them, is gone), so a kill costs no disk for longer than the next open.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import zipfile
from pathlib import Path

from realbench.core.cache import cache_dir
from realbench.core.errors import RealBenchError
from realbench.core.files import STAGING, staged_folder, staged_leftovers
from realbench.core.unzip import ArchiveLimits, extract_members, is_mac_junk

log = logging.getLogger(__name__)


def archive_key(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = sorted((i.filename, i.file_size, i.CRC) for i in archive.infolist()
                             if not is_mac_junk(i.filename))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RealBenchError(f"cannot read zip archive ({exc})", path=str(path)) from None
    if not entries:
        raise RealBenchError("zip archive holds no data files", path=str(path))
    return hashlib.sha256(repr(entries).encode()).hexdigest()[:16]


def _lock(folder: Path, name: str) -> int:
    fd = os.open(folder / f".{name}.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process unpacking the same archive: wait for it
    return fd


def unpack_archive(path: Path, limits: ArchiveLimits | None = None) -> tuple[Path, str]:
    """(folder holding the unpacked archive, a sentence saying where it is)."""
    path = Path(path)
    key = archive_key(path)
    root = cache_dir() / "archives" / f"{path.stem}-{key}"
    remove_stale_staging(root.parent)
    if root.is_dir():
        return root, f"archive {path.name} already unpacked in {root}"
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        fd = _lock(root.parent, root.name)
    except OSError as exc:
        raise RealBenchError(f"cannot unpack the archive into the cache ({exc.strerror or exc}); set "
                             "REALBENCH_CACHE to a writable folder or unzip it yourself",
                             path=str(root.parent)) from None
    try:
        if root.is_dir():  # unpacked by the process we waited for
            return root, f"archive {path.name} already unpacked in {root}"
        for stale in root.parent.glob(f".{root.name}.*"):  # a killed unpack's folder (we hold the lock)
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        _unpack(path, root, limits)
    finally:
        os.close(fd)
    return root, f"archive {path.name} unpacked once into {root}"


def remove_stale_staging(archives: Path) -> None:
    """Remove the staging folders that killed unpacks (of any archive) left in ``archives``: only
    those ``staged_folder`` marks as built on this host by a process that is gone."""
    try:
        names = [p.name for p in archives.iterdir() if p.name.startswith(".") and STAGING in p.name]
    except OSError:  # no cache yet, or an unreadable one: the unpack itself will say so
        return
    for final in sorted({name[1:].split(STAGING, 1)[0] for name in names}):
        for stale in staged_leftovers(archives / final):
            log.info("removing %s, left by a killed unpack", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _unpack(path: Path, root: Path, limits: ArchiveLimits | None) -> None:
    log.info("unpacking %s into %s (once)", path.name, root)
    with staged_folder(root) as tmp:
        extract_members(path, tmp, limits)
