"""Unpacking zip archives without trusting them.

An archive's table of contents is checked before a byte is written, and what is written is
counted while it is written (a header may lie): at most ``max_bytes`` unpacked in all, at most
``max_entries`` entries, no entry that inflates more than ``max_ratio`` times, no two entries
with the same name (the later would silently replace the earlier), no entry that would land
outside the destination (zip slip), nothing encrypted or compressed with a method the standard
library cannot read. Every problem is one ``RealBenchError`` naming the archive and the entry.
macOS metadata (``__MACOSX/``, ``._*``, ``.DS_Store``) is skipped.
"""
from __future__ import annotations

import os
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import RealBenchError, describe
from .paths import name_key, printable

MAC_JUNK = ("__MACOSX",)
READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
CHUNK = 1 << 20
MAX_DEPTH = 64  # folders one entry may be nested in: the release needs 4; thousands exhaust recursion


@dataclass(frozen=True)
class ArchiveLimits:
    """What an archive may unpack to. RealFill's release (58 scenes of photos) is about 1 GB, its
    entries a few hundred, its photos barely compressible (ratio ~1); a 2.5 MB zip of 2 GiB of
    zeros (ratio ~800) is a bomb. ``--archive-limit bytes=...,entries=...,ratio=...`` raises them."""

    max_bytes: int = 32 * 2**30
    max_entries: int = 100_000
    # the whole archive's unpacked / packed size, checked once it unpacks to more than 256 MiB: photos
    # barely compress (about 1); an entry may inflate ten times more (a mostly black, uncompressed
    # PNG mask reaches a few hundred), deflate's ceiling is about 1030
    max_ratio: float = 100.0

    @classmethod
    def parse(cls, text: str | None) -> ArchiveLimits:
        """``bytes=40G,entries=200000,ratio=500`` (any subset)."""
        if not text:
            return cls()
        values: dict[str, float] = {}
        for part in text.split(","):
            key, _, value = part.partition("=")
            key, value = key.strip(), value.strip().upper()
            scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(value[-1:], 1)
            try:
                number = float(value[:-1] if scale > 1 else value) * scale
            except ValueError:
                number = float("nan")
            if key not in ("bytes", "entries", "ratio") or not number > 0 or number == float("inf"):
                raise RealBenchError(f"--archive-limit {printable(part)}: expected bytes=N[KMGT], entries=N or "
                                     "ratio=N, each above 0")
            if key in values:
                raise RealBenchError(f"--archive-limit names {key} twice; give it once")
            if key == "entries" and not number.is_integer():
                raise RealBenchError(f"--archive-limit {printable(part)}: entries must be a whole number")
            if key == "ratio" and number < 1:
                raise RealBenchError(f"--archive-limit {printable(part)}: ratio must be at least 1 (an archive "
                                     "always unpacks to at least its own size, roughly)")
            values[key] = number
        return cls(int(values.get("bytes", cls.max_bytes)), int(values.get("entries", cls.max_entries)),
                   float(values.get("ratio", cls.max_ratio)))


def is_mac_junk(name: str) -> bool:
    """macOS metadata that zips made on a Mac carry: never data."""
    parts = PurePosixPath(name).parts
    return any(p in MAC_JUNK or p.startswith("._") or p == ".DS_Store" for p in parts)


def entry_key(name: str) -> str:
    """The file an entry unpacks to, as a file system (or a reader) sees it: ``a//b``, ``./a/b``
    and ``a/b`` are one file, so are ``A.png`` and ``a.png`` on a case-insensitive disk, and so are
    ``café`` composed (NFC) and decomposed (NFD), which print alike (macOS makes one of the other)."""
    return name_key("/".join(part for part in PurePosixPath(name).parts if part not in ("", ".")))


def shown(name: str, limit: int = 200) -> str:
    """An entry's name for an error line: escaped, and cut in the middle past ``limit`` characters
    (an entry thousands of folders deep would make a line of kilobytes)."""
    text = printable(name)
    return text if len(text) <= limit else f"{text[:limit - 60]}...{text[-50:]}"


def size_text(size: float) -> str:
    """A size in the unit that shows it (``512 B``, ``20.0 MiB``, ``31.5 GiB``)."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size:,.0f} B"


def _entry_problem(info: zipfile.ZipInfo, limits: ArchiveLimits) -> str | None:
    name = info.filename
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "would be written outside its folder"
    if name.count("/") > MAX_DEPTH:
        return f"is nested {name.count('/')} folders deep (limit {MAX_DEPTH})"
    if info.flag_bits & 0x1:
        return "is encrypted (realbench reads no password-protected archives)"
    if info.compress_type not in READABLE:
        return f"uses compression method {info.compress_type}, which Python's zipfile cannot read"
    entry_ratio = 10 * limits.max_ratio
    if info.file_size > 2**16 and info.file_size > entry_ratio * max(info.compress_size, 1):
        return (f"inflates {info.file_size / max(info.compress_size, 1):,.0f} times (limit {entry_ratio:g} for one "
                "entry: a decompression bomb; --archive-limit ratio=N raises it)")
    return None


def check_members(archive: zipfile.ZipFile, where: str, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The entries to unpack, after every check the table of contents allows."""
    members, seen, total, packed = [], set(), 0, 0
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise RealBenchError(f"archive has {len(infos):,} entries (limit {limits.max_entries:,}; --archive-limit "
                             "entries=N raises it)", path=where)
    for info in infos:
        if is_mac_junk(info.filename):
            continue
        problem = _entry_problem(info, limits)
        if problem:
            raise RealBenchError(f"archive entry '{shown(info.filename)}' {problem}", path=where)
        key = entry_key(info.filename)
        if key in seen:
            raise RealBenchError(f"archive holds two entries that unpack to '{shown(info.filename.strip('/'))}'; "
                                 "which one is the data is unclear, so nothing is unpacked", path=where)
        seen.add(key)
        total += info.file_size
        packed += info.compress_size
        members.append(info)
    if total > 2**28 and total > limits.max_ratio * max(packed, 1):  # a bomb, or one split into many entries
        raise RealBenchError(f"archive inflates {total / max(packed, 1):,.0f} times in all (limit "
                             f"{limits.max_ratio:g}: a decompression bomb; --archive-limit ratio=N raises it)",
                             path=where)
    if total > limits.max_bytes:
        raise RealBenchError(f"archive unpacks to {size_text(total)} (limit {size_text(limits.max_bytes)}; "
                             "--archive-limit bytes=N raises it)", path=where)
    return members


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, where: str) -> int:
    """Write one entry, counting: an entry larger than its header said, or past the budget, stops."""
    written = 0
    with archive.open(info) as source, open(target, "wb") as sink:
        while block := source.read(CHUNK):
            written += len(block)
            if written > info.file_size or written > budget:
                raise RealBenchError(f"archive entry '{shown(info.filename)}' unpacks to more than its header "
                                     "says (or past the limit): a forged archive", path=where)
            sink.write(block)
    return written


def _copy_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, where: str) -> int:
    """``_copy``, with a damaged entry (a broken deflate stream, a bad CRC) named in the error."""
    try:
        return _copy(archive, info, target, budget, where)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise RealBenchError(f"archive entry '{shown(info.filename)}' is damaged ({describe(exc)})",
                             path=where) from None


def extract_members(archive_path: Path, dest: Path, limits: ArchiveLimits | None = None) -> None:
    """Unpack into ``dest`` (which the caller removes when this fails)."""
    limits = limits or ArchiveLimits()
    where = str(archive_path)
    try:
        with zipfile.ZipFile(archive_path) as archive:
            budget = limits.max_bytes
            for info in check_members(archive, where, limits):
                target = dest / Path(*PurePosixPath(info.filename).parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                budget -= _copy_entry(archive, info, target, budget, where)
    except RealBenchError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise RealBenchError(f"not a valid zip archive, or a damaged one ({describe(exc)})", path=where) from None
    except OSError as exc:
        raise RealBenchError(f"cannot unpack the archive ({exc.strerror or exc})", path=where) from None


def extract_zip(archive_path: Path, dest: Path, limits: ArchiveLimits | None = None) -> list[str]:
    """Unpack ``archive_path`` into ``dest`` (created) through a temporary folder inside it, so
    ``dest`` never holds half a file; returns the top-level names placed there."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / f".unzip-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        extract_members(Path(archive_path), tmp, limits)
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
