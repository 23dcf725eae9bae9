"""The images of an HTML report, at the size of their content.

Photos are stored as JPEG (quality ``JPEG_QUALITY``, stated in the page), thumbnails for the grids
and full size behind a click; the same picture shown twice (a sample that is both the best and
the top-ranked) is stored once. Full-size images are embedded as data URIs in a self-contained
page, or written to ``<report>_files/`` beside it. That folder is realbench's: it carries a marker
file, is rebuilt whole on every build (no stale images) and an existing folder of that name without
the marker is never touched (a user's folder is not deleted).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes, staged_folder

JPEG_QUALITY = 90
THUMB = 192
THUMB_QUALITY = 80
MARKER = ".realbench-report"  # inside <report>_files/: this folder was made by realbench


def jpeg(array: np.ndarray, quality: int = JPEG_QUALITY, size: int | None = None) -> bytes:
    image = Image.fromarray(array)
    if size is not None:
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def data_uri(data: bytes, kind: str = "jpeg") -> str:
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def thumb_uri(array: np.ndarray) -> str:
    return data_uri(jpeg(array, THUMB_QUALITY, THUMB))


class Assets:
    """Full-size images: data URIs, or files in the report's folder (links relative to the page)."""

    def __init__(self, embed: bool, files_dir: Path, staging: Path | None):
        self.embed, self.files_dir, self.staging = embed, files_dir, staging
        self._stored: dict[str, str] = {}  # content hash -> href

    def image(self, name: str, array: np.ndarray) -> str:
        data = jpeg(array)
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._stored:
            self._stored[digest] = data_uri(data) if self.embed else self._write(name, data)
        return self._stored[digest]

    def _write(self, name: str, data: bytes) -> str:
        assert self.staging is not None
        path = self.staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"{self.files_dir.name}/{name}"


class AssetFolder:
    """``<report>_files/``: built beside the page and swapped in whole (``files.staged_folder``);
    an existing folder of that name must carry realbench's marker."""

    def __init__(self, out: Path):
        self.out = out
        self.files_dir = out.with_name(out.stem + "_files")

    def check(self) -> None:
        """Refuse before any work a folder of that name that realbench did not make (a link is
        never made by realbench: writing through it would write into whatever it points at)."""
        if self.files_dir.is_symlink():
            raise RealBenchError(f"{self.files_dir.name} beside the report is a symbolic link; realbench only replaces "
                                 "a folder it made. Remove the link, or give the report another --out name",
                                 path=str(self.files_dir))
        if self.files_dir.exists() and not (self.files_dir / MARKER).is_file():
            raise RealBenchError(f"a folder named {self.files_dir.name} is beside the report and was not made by "
                                 "realbench (it has no marker); move it, or give the report another --out name",
                                 path=str(self.files_dir))

    @contextlib.contextmanager
    def building(self, embed: bool) -> Iterator[Assets]:
        """The assets of one build: embedded (an old, marked folder is removed at the end) or in a
        folder that replaces the old one when the block ends well."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.out.parent.glob(f".{self.out.name}.*.tmp"):  # a killed build's half-written page
            stale.unlink(missing_ok=True)
        if embed:
            yield Assets(True, self.files_dir, None)
            if self.files_dir.is_dir():  # marked (checked): a self-contained page needs it no more
                shutil.rmtree(self.files_dir)
            return
        with staged_folder(self.files_dir, replace=True) as staging:
            atomic_write_bytes(staging / MARKER, b"made by realbench report; rebuilt whole on every build\n")
            yield Assets(False, self.files_dir, staging)
