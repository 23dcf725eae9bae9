"""The release archive as users download it: ``--data realfill_data_release_full.zip``.

The zip is unpacked once into realbench's cache (``$REALBENCH_CACHE/archives/<key>/``) and
reused; the key is a hash of the archive's table of contents (names, sizes, CRCs), so a changed
archive is a new folder, and reading it costs no full pass over gigabytes. Unpacking goes to a
temporary folder renamed into place when complete, so a killed unpack is never mistaken for data.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from .cache import cache_dir
from .download import extract_zip, is_mac_junk
from .errors import RealBenchError
from .imageio import FOLDER_MODE

log = logging.getLogger(__name__)


def archive_key(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = sorted((i.filename, i.file_size, i.CRC) for i in archive.infolist()
                             if not is_mac_junk(i.filename))
    except (zipfile.BadZipFile, OSError) as exc:
        raise RealBenchError(f"cannot read zip archive ({exc})", path=str(path)) from None
    if not entries:
        raise RealBenchError("zip archive holds no data files", path=str(path))
    return hashlib.sha256(repr(entries).encode()).hexdigest()[:16]


def unpack_archive(path: Path) -> tuple[Path, str]:
    """(folder holding the unpacked archive, a sentence saying where it is)."""
    path = Path(path)
    key = archive_key(path)
    root = cache_dir() / "archives" / f"{path.stem}-{key}"
    if root.is_dir():
        return root, f"archive {path.name} already unpacked in {root}"
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}."))
        os.chmod(tmp, FOLDER_MODE)  # mkdtemp makes 0700; results are for sharing
    except OSError as exc:
        raise RealBenchError(f"cannot unpack the archive into the cache ({exc.strerror or exc}); set "
                             "REALBENCH_CACHE to a writable folder or unzip it yourself",
                             path=str(root.parent)) from None
    log.info("unpacking %s into %s (once)", path.name, root)
    try:
        extract_zip(path, tmp)
        try:
            os.replace(tmp, root)
        except OSError:
            if not root.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished unpacking first
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RealBenchError(f"cannot unpack the archive ({exc.strerror or exc})", path=str(path)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root, f"archive {path.name} unpacked once into {root}"
