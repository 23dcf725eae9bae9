"""Names that come from data (scene ids, record image paths) made safe to use as paths and to
print: one path component, no separators or ``..``, no control characters; a path inside an
output folder is proven to stay inside it (resolved), and no symbolic link inside the folder is
followed when writing.
"""
from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path, PurePosixPath

from .errors import RealBenchError

MAX_NAME = 200
# control and bidi characters, and lone surrogates (undecodable bytes of a file name)
# control, line-separator, bidi and invisible format characters (zero-width space and joiners, word
# joiner, soft hyphen, BOM, Arabic letter mark, Mongolian vowel separator, ...), and lone surrogates:
# shown escaped, so "te\u200blea" never looks like "telea"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
                      "\ufff9-\ufffb\ud800-\udfff]")


def printable(text: object) -> str:
    """``text`` with control and bidi characters escaped (``\\n``, ``\\x1b``), safe for a terminal."""
    value = str(text)
    if not _CONTROL.search(value):
        return value
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape", "backslashreplace").decode("ascii"), value)


def is_utf8(text: str) -> bool:
    """False for text holding undecodable bytes (``os.fsdecode`` turns them into lone surrogates,
    which no UTF-8 file can hold): such a name cannot be recorded."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_utf8_path(path: str | os.PathLike, what: str) -> None:
    """One error for a path that cannot be written into run files (not valid UTF-8)."""
    if not is_utf8(str(path)):
        raise RealBenchError(f"{what} is not valid UTF-8 text, so it cannot be recorded; rename it",
                             path=printable(str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")))


def name_key(name: str) -> str:
    """The identity of a name as people and file systems see it: ``café`` composed (NFC) and
    decomposed (NFD) print alike, and ``A`` and ``a`` are one file on a case-insensitive disk."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def expand_user(path: str | os.PathLike) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; one error for a user (or a home) that
    does not exist, where ``Path.expanduser`` raises a bare ``RuntimeError``."""
    text = os.fspath(path)
    if not isinstance(text, str) or not text.startswith("~"):
        return Path(text)
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):  # left as it was: no such user, or no home directory
        user = text[1:].split("/", 1)[0]
        raise RealBenchError(f"cannot expand ~{printable(user)} ({'no such user' if user else 'no home directory'})",
                             path=printable(text))
    return Path(expanded)


def check_name(name: object, what: str, path: str | None = None) -> str:
    """``name`` if it can be one folder or file name, else one clear error."""
    if not isinstance(name, str) or not name:
        raise RealBenchError(f"{what} must be a non-empty text, got {printable(repr(name))}", path=path)
    problem = None
    if not is_utf8(name):
        problem = "it is not valid UTF-8 text (rename it)"
    elif len(name) > MAX_NAME:
        problem = f"longer than {MAX_NAME} characters"
    elif name in (".", ".."):
        problem = "'.' and '..' are not names"
    elif "/" in name or "\\" in name:
        problem = "it contains a path separator"
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        problem = "it contains control characters"
    elif name != name.strip():
        problem = "it starts or ends with white space"
    if problem:
        raise RealBenchError(f"{what} '{printable(name)}' cannot be used as a file name: {problem}", path=path)
    return name


def inside(root: Path, rel: str | os.PathLike, what: str = "path") -> Path:
    """``root / rel`` for writing: ``rel`` is relative and plain, the result stays inside ``root``
    once resolved, and no existing component below ``root`` is a symbolic link."""
    rel_path = PurePosixPath(str(rel).replace(os.sep, "/"))
    if rel_path.is_absolute() or any(part in ("", ".", "..") for part in rel_path.parts):
        raise RealBenchError(f"{what} '{printable(rel)}' is not a plain relative path", path=str(root))
    root = Path(root)
    current = root
    for part in rel_path.parts:
        current = current / part
        if current.is_symlink():
            raise RealBenchError(f"{what} '{printable(rel)}' goes through a symbolic link inside the folder; realbench "
                                 "follows none (a link could lead anywhere)", path=str(current))
    resolved_root = root.resolve()
    target = (resolved_root / Path(*rel_path.parts)).resolve()
    if target != resolved_root and resolved_root not in target.parents:
        raise RealBenchError(f"{what} '{printable(rel)}' leads outside its folder", path=str(root))
    return root / Path(*rel_path.parts)


def check_out(out: Path, what: str = "--out") -> None:
    """``out`` can become a folder written by this process: not a file, not under a file, in a
    writable place. Checked before anything is written."""
    out = Path(out)
    parts = out.parts
    for i in range(1, len(parts)):
        if parts[i] == ".." and not Path(*parts[:i]).exists():  # making the path would leave that folder behind
            raise RealBenchError(f"{what} passes through {printable(str(Path(*parts[:i])))}, which does not exist, "
                                 "and back out with '..'; give the path without that detour", path=printable(str(out)))
    if out.exists() and not out.is_dir():
        raise RealBenchError(f"{what} is a file, not a folder", path=str(out))
    ancestor = out
    while not ancestor.exists():
        if ancestor.is_symlink():
            raise RealBenchError(f"{what} goes through a broken symbolic link", path=str(ancestor))
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise RealBenchError(f"{what} lies under a file ({ancestor})", path=str(out))
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise RealBenchError(f"cannot write here ({'folder' if ancestor == out else 'parent'} {ancestor} is not "
                             "writable)", path=str(out))
