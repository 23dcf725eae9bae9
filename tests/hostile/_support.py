"""What every hostile case checks, and the builders of hostile inputs.

The contract (context.md, issue 19): bad input ends with exit code 2 and exactly one ``error:``
line on stderr (plus indented detail lines for a multi-item error), no traceback, and nothing
written or deleted outside the output folder, nothing half-written. ``snapshot`` records a file
tree (paths, types, sizes, mtimes) so that a test can prove the last part.
"""
from __future__ import annotations

import io
import json
import os
import re
import resource
import shutil
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
PROGRESS = re.compile(r"\d+%\|")  # a tqdm bar ("telea:  50%|#####     | 1/2 ...")
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # \t \n \r are layout, the rest must be escaped
ALLOWED_HIDDEN = (".realbench.lock", ".realbench-report")


# ---------------------------------------------------------------------------------------- the CLI

@dataclass
class Result:
    code: int | None
    out: str
    err: str

    def __repr__(self) -> str:  # what a failing assertion shows
        return f"Result(code={self.code!r}, out={self.out[-800:]!r}, err={self.err[-1500:]!r})"


def cli(capsys, *args: object) -> Result:
    """``realbench.cli.main(args)`` in this process, its exit code and what it printed. A
    traceback is not caught here: it fails the test, which is the point."""
    from realbench.cli import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def _lines(text: str) -> list[str]:
    return [line for line in re.split(r"[\r\n]", text) if line.strip()]


def assert_refused(result: Result, *needles: str, code: int = 2, max_len: int = 1000) -> str:
    """Exit ``code``, exactly one ``error:`` line (anything before it a warning, a note or a
    progress bar; anything after it an indented detail line), no traceback, no raw control
    character; every needle (case-insensitive) in the error text. Returns the error line."""
    assert "Traceback (most recent call last)" not in result.err + result.out, result
    assert result.code == code, result
    lines = _lines(result.err)
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    assert len(errors) == 1, result
    first = errors[0]
    for line in lines[:first]:
        assert line.startswith(("warning: ", "note: ")) or PROGRESS.search(line), (line, result)
    for line in lines[first + 1:]:
        assert line.startswith("  "), (line, result)
    error = lines[first]
    assert len(error) <= max_len, (len(error), error[:300])
    assert not RAW_CONTROL.search(result.err), result
    text = "\n".join(lines[first:]).lower()
    for needle in needles:
        assert needle.lower() in text, (needle, result)
    return error


def assert_usage_error(result: Result, *needles: str) -> None:
    """argparse's refusal of a flag value: exit 2, one ``error:`` line like every other refusal
    (no usage block), no traceback."""
    assert "Traceback (most recent call last)" not in result.err, result
    assert result.code == 2, result
    lines = _lines(result.err)
    assert len(lines) == 1 and lines[0].startswith("error: realbench"), result
    last = lines[0]
    for needle in needles:
        assert needle.lower() in last.lower(), (needle, result)


def assert_ok(result: Result) -> None:
    assert "Traceback (most recent call last)" not in result.err + result.out, result
    assert result.code == 0, result
    assert not any(line.startswith("error: ") for line in _lines(result.err)), result


# ---------------------------------------------------------------------------------------- file trees

def snapshot(root: Path, exclude: Iterable[Path] = ()) -> dict[str, tuple]:
    """Every entry below ``root`` (symbolic links not followed): files by type, size and mtime,
    folders by type only (their mtime moves whenever the output folder appears beside them)."""
    root = Path(root)
    skipped = {os.path.abspath(p) for p in exclude}
    entries: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.abspath(os.path.join(folder, d)) not in skipped]
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.abspath(path) in skipped:
                continue
            info = os.lstat(path)
            kind = stat.S_IFMT(info.st_mode)
            key = os.path.relpath(path, root)
            entries[key] = (kind,) if stat.S_ISDIR(info.st_mode) else (kind, info.st_size, info.st_mtime_ns)
    return entries


def changes(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    out = [f"new {k!r}" for k in after.keys() - before.keys()]
    out += [f"gone {k!r}" for k in before.keys() - after.keys()]
    out += [f"changed {k!r}" for k in before.keys() & after.keys() if before[k] != after[k]]
    return sorted(out)


def leftovers(root: Path) -> list[str]:
    """Hidden entries that are not realbench's lock files or markers: temp files of atomic writes,
    staging folders of merges, reports, exports and unpacks."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            if name.startswith(".") and name not in ALLOWED_HIDDEN and not name.endswith(".lock"):
                found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


# ---------------------------------------------------------------------------------------- processes

def first_module(*names: str):
    """The first of ``names`` that imports (modules move between layers; the tests should not care)."""
    import importlib

    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(f"none of {names} imports")


def python_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)])}
    env.update(extra)
    return env


def limited(memory: int) -> Callable[[], None]:
    """A ``preexec_fn`` capping the child's address space: a blow-up is a MemoryError there, not
    a machine out of memory."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    return apply


def run_commands(commands: Sequence[dict], memory: int = 4 * 2**30, timeout: float = 60) -> list[dict]:
    """Run CLI commands (``{"argv": [...], "env": {...}, "cwd": ...}``) one after another in one
    child process under a memory cap; each result: code, out, err (a traceback caught there)."""
    payload = json.dumps(commands)
    proc = subprocess.run([sys.executable, "-m", "hostile._driver"], input=payload, capture_output=True, text=True,
                          env=python_env(), cwd=str(TESTS), timeout=timeout, preexec_fn=limited(memory))
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def as_result(item: dict) -> Result:
    return Result(item["code"], item["out"], item["err"])


# ---------------------------------------------------------------------------------------- archives

def zip_folder(path: Path, root: Path, prefix: str = "RealBench/", method: int = zipfile.ZIP_DEFLATED,
               before: Sequence[tuple[str, bytes]] = (), after: Sequence[tuple[str, bytes]] = ()) -> Path:
    """A release-layout zip of ``root`` (its scene folders under ``prefix``), with extra entries
    written before or after the data (``writestr`` as given: duplicates included)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": written on purpose
        with zipfile.ZipFile(path, "w", method) as archive:
            for name, data in before:
                archive.writestr(name, data)
            for file in sorted(Path(root).rglob("*")):
                if file.is_file():
                    archive.write(file, prefix + file.relative_to(root).as_posix())
            for name, data in after:
                archive.writestr(name, data)
    return path


def _central_offsets(raw: bytes) -> list[int]:
    """Offsets of the central directory's file headers, read from the end record."""
    end = raw.rfind(b"PK\x05\x06")
    count, _, start = struct.unpack_from("<HII", raw, end + 10)
    offsets, position = [], start
    for _ in range(count):
        offsets.append(position)
        name, extra, comment = struct.unpack_from("<HHH", raw, position + 28)
        position += 46 + name + extra + comment
    return offsets


def patch_zip(path: Path, entry: Callable[[str], bool], *, flags: int = 0, method: int | None = None,
              size: int | None = None, local: bool = True, central: bool = True) -> Path:
    """Rewrite header fields of the entries ``entry(name)`` selects: set ``flags`` bits, the
    compression ``method``, the uncompressed ``size``; in local and/or central headers."""
    raw = bytearray(Path(path).read_bytes())
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    chosen = [i for i, info in enumerate(infos) if entry(info.filename)]
    spots = []
    if local:
        spots += [(infos[i].header_offset, 6) for i in chosen]  # flags at +6, method +8, size +22
    if central:
        centrals = _central_offsets(bytes(raw))
        spots += [(centrals[i], 8) for i in chosen]  # flags at +8, method +10, size +24
    for offset, flag_at in spots:
        struct.pack_into("<H", raw, offset + flag_at, struct.unpack_from("<H", raw, offset + flag_at)[0] | flags)
        if method is not None:
            struct.pack_into("<H", raw, offset + flag_at + 2, method)
        if size is not None:
            struct.pack_into("<I", raw, offset + flag_at + 16, size)
    Path(path).write_bytes(bytes(raw))
    return path


def corrupt_entry_data(path: Path, entry: Callable[[str], bool]) -> Path:
    """Flip bytes inside the data of the first entry ``entry`` selects."""
    raw = bytearray(Path(path).read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if entry(i.filename))
    name, extra = struct.unpack_from("<HH", raw, info.header_offset + 26)
    start = info.header_offset + 30 + name + extra
    for k in range(start + 2, start + min(40, info.compress_size - 2)):
        raw[k] ^= 0xA5
    Path(path).write_bytes(bytes(raw))
    return path


# ---------------------------------------------------------------------------------------- images

def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` (400 megapixels by default) in ~100 bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + png_chunk(b"IEND", b""))


def png_bytes(array, mode: str | None = None) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that costs no disk: ``head`` then a hole (``truncate``)."""
    path = Path(path)
    path.write_bytes(head)
    os.truncate(path, size)
    return path
