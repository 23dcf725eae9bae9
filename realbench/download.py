"""Fetching files and unpacking archives without ever leaving a half-finished result in place.

``fetch_url`` downloads into ``<dst>.partial`` and resumes it with an HTTP range request when
rerun after an interruption; the file appears under its real name only once it is complete.
``extract_zip`` unpacks into a temporary folder beside the destination and moves entries into
place afterwards, refusing entries that would land outside it (zip slip) and skipping macOS
metadata (``__MACOSX/``, ``._*``, ``.DS_Store``).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from .errors import RealBenchError

CHUNK = 1 << 20
MAC_JUNK = ("__MACOSX",)


def is_mac_junk(name: str) -> bool:
    """macOS metadata that zips made on a Mac carry: never data."""
    parts = PurePosixPath(name).parts
    return any(p in MAC_JUNK or p.startswith("._") or p == ".DS_Store" for p in parts)


def fetch_url(url: str, dst: Path, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dst`` (resuming ``dst.partial`` if present); returns ``dst``."""
    from tqdm.auto import tqdm

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(dst.name + ".partial")
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": "realbench"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            status = response.getcode()
            if start and status != 206:  # the server ignored the range: start over
                start = 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            with open(partial, "ab" if start else "wb") as handle, tqdm(
                    total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress,
                    desc=dst.name, leave=False) as bar:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    handle.write(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as exc:
        raise RealBenchError(f"download failed: HTTP {exc.code} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RealBenchError(f"download failed ({reason}); rerun the same command to resume: {url}") from None
    size = partial.stat().st_size
    if total is not None and size != total:
        raise RealBenchError(f"download incomplete ({size} of {total} bytes); rerun to resume: {url}")
    os.replace(partial, dst)
    return dst


def safe_members(archive: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
    """The archive's entries minus macOS metadata; an entry that would escape is an error."""
    out = []
    for info in archive.infolist():
        name = info.filename
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or "\\" in name or (len(name) > 1 and name[1] == ":"):
            raise RealBenchError(f"archive entry '{name}' would be written outside its folder", path=where)
        if not is_mac_junk(name):
            out.append(info)
    return out


def extract_zip(archive_path: Path, dest: Path) -> list[str]:
    """Unpack ``archive_path`` into ``dest`` (created); returns the top-level names placed there.
    Entries are written to a temporary folder first, so ``dest`` never holds half a file."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".unzip-"))
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = safe_members(archive, str(archive_path))
            archive.extractall(tmp, members=members)
        placed = []
        for entry in sorted(tmp.iterdir()):
            target = dest / entry.name
            if target.is_dir() and entry.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(entry, target)
            placed.append(entry.name)
        return placed
    except zipfile.BadZipFile as exc:
        raise RealBenchError(f"not a valid zip archive ({exc})", path=str(archive_path)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
