"""Reading images and masks into the canonical form: RGB uint8 and bool masks.

RealBench files come from many tools: phones (EXIF rotation), editors (RGBA with a transparent
hole, palette PNGs, 16-bit PNGs) and scripts (anti-aliased masks). Everything is normalised here
so that methods and metrics only ever see ``HxWx3 uint8`` images and ``HxW bool`` masks.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import stat
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import RealBenchError, RealBenchWarning
from .files import FILE_MODE, FOLDER_MODE, atomic_write_bytes  # noqa: F401  (imported from here before 0.2)
from .imageops import dilate

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# A mask is "binary" if at most this fraction of pixels is clearly between black and white, and
# at most this fraction of its hole (the pixels not black) is: an anti-aliased edge is a thin ring
# round a white hole, a hole painted grey (0/100/200) is no mask of what is missing.
MAX_GREY_FRACTION = 0.25
MAX_GREY_HOLE_FRACTION = 0.5
# ... and every grey pixel is an edge's: within EDGE pixels of both a black and a white one (the
# ring an anti-aliased or resampled mask has); a few stray ones (JPEG noise) are let through.
EDGE = 3
MAX_STRAY_GREY = 16
# Images above this many pixels are refused from their header, before any decoding (a
# decompression bomb claims 30000x30000 in a few bytes). 120 MP holds any phone or DSLR photo;
# `--max-pixels` (RunConfig.max_pixels) or REALBENCH_MAX_PIXELS raises it. Pillow's own guard is
# left as it is for everyone else in the process.
DEFAULT_MAX_PIXELS = 120_000_000
_limit: int | None = None  # set for the length of a command or run by ``pixel_limit``
_PILLOW_LOCK = threading.Lock()


_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-f]+>")  # PIL names the stream it read


def regular_file(path: Path, scene: str | None = None, what: str = "file") -> Path:
    """``path`` if it is a regular file: a missing file, a folder, a named pipe or a device is one
    error (opening a pipe would wait forever for a writer)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise RealBenchError(f"{what} is missing", scene=scene, path=str(path)) from None
    except OSError as exc:
        raise RealBenchError(f"cannot read {what} ({exc.strerror or exc})", scene=scene, path=str(path)) from None
    if not stat.S_ISREG(mode):
        raise RealBenchError(f"{what} is not a regular file (a folder, a pipe or a device)", scene=scene,
                             path=str(path))
    return Path(path)


def check_max_pixels(value: object, what: str = "--max-pixels") -> int:
    """A pixel limit: a whole number above 0 (``0`` is no limit to mean "none", it is refused)."""
    if isinstance(value, str):
        text = value
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise RealBenchError(f"{what} must be a whole number of pixels above 0, got {text[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RealBenchError(f"{what} must be a whole number of pixels above 0, got {value!r}")
    return value


def max_pixels() -> int:
    """The limit in force: the command's or run's, else ``$REALBENCH_MAX_PIXELS``, else 120 MP."""
    if _limit is not None:
        return _limit
    value = os.environ.get("REALBENCH_MAX_PIXELS")
    return check_max_pixels(value, "REALBENCH_MAX_PIXELS") if value else DEFAULT_MAX_PIXELS


@contextlib.contextmanager
def pixel_limit(limit: int | None) -> Iterator[None]:
    """Use ``limit`` (None: keep the current one) until the block ends."""
    global _limit
    previous = _limit
    if limit is not None:
        _limit = check_max_pixels(limit)
    try:
        yield
    finally:
        _limit = previous


@contextlib.contextmanager
def _own_pixel_check() -> Iterator[None]:
    """Pillow refuses images above twice its limit while parsing the header, before realbench can
    name the scene, the file and its own limit; for the header parse of realbench's own opens,
    Pillow's check steps aside (under a lock, restored at once) and realbench's applies."""
    with _PILLOW_LOCK:
        ceiling = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = ceiling


def open_image(source, scene: str | None, path: str, decode: bool = True) -> Image.Image:
    """Open an image file or bytes, refusing one larger than ``MAX_PIXELS`` from its header and
    turning every decoder complaint into one error (and every decoder warning into one naming the
    scene and file)."""
    limit = max_pixels()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is realbench's, below
        try:
            with _own_pixel_check():
                image = Image.open(source)
            width, height = image.size
            if width * height > limit:
                raise RealBenchError(
                    f"image is {width}x{height} ({width * height:,} pixels), above the limit of {limit:,} pixels (a "
                    "decompression bomb, or pass --max-pixels to allow it)", scene=scene, path=path)
            if decode:
                image.load()
        except RealBenchError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, MemoryError,
                Image.DecompressionBombError) as exc:
            text = _OBJECT_REPR.sub("", str(exc)).strip() or type(exc).__name__
            raise RealBenchError(f"cannot read image ({text})", scene=scene, path=path) from None
        if decode:
            try:
                ImageOps.exif_transpose(image, in_place=True)  # no copy when there is nothing to turn
            except Exception:  # broken EXIF block: keep the pixels as stored
                pass
    where = ", ".join(p for p in (f"scene '{scene}'" if scene else "", f"file '{path}'") if p)
    for message in dict.fromkeys(str(w.message) for w in caught):
        warnings.warn(f"{where}: {message}", RealBenchWarning, stacklevel=3)
    return image


MIN_FILE_BUDGET = 64 * 2**20  # bytes any image file may take, whatever its size in pixels
BYTES_PER_PIXEL_BUDGET = 8  # 16-bit RGBA, uncompressed: no real encoding is larger


def check_file_budget(path: Path, width: int, height: int, scene: str | None) -> None:
    """A file far larger than its pixels can need (a JPEG followed by gigabytes of zeros, a sparse
    file) is refused before it is read into memory."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise RealBenchError(f"cannot read image ({exc.strerror or exc})", scene=scene, path=str(path)) from None
    budget = max(MIN_FILE_BUDGET, BYTES_PER_PIXEL_BUDGET * width * height + 2**20)
    if size > budget:
        raise RealBenchError(f"file is {size / 2**20:,.0f} MiB for a {width}x{height} image (at most "
                             f"{budget / 2**20:,.0f} MiB make sense): trailing data or not an image", scene=scene,
                             path=str(path))


def _open(path: Path, scene: str | None) -> Image.Image:
    regular_file(path, scene)
    with open_image(path, scene, str(path), decode=False) as header:  # the header only
        check_file_budget(path, *header.size, scene)
    return open_image(path, scene, str(path))


def _png_has_exif(path: Path) -> bool:
    """Whether a PNG carries an eXIf chunk (which may rotate it), walking chunk headers only."""
    with open(path, "rb") as handle:
        handle.seek(8)
        while True:
            header = handle.read(8)
            if len(header) < 8:
                return False
            length, kind = struct.unpack(">I4s", header)
            if kind == b"eXIf":
                return True
            if kind == b"IEND":
                return False
            handle.seek(length + 4, os.SEEK_CUR)


def image_size(path: Path, scene: str | None = None) -> tuple[int, int]:
    """(width, height) from the header alone, after the same checks as reading (pixel limit, file
    size); PNGs are also verified (chunk checksums), which finds truncated and corrupt files
    without decoding. A PNG is decoded only if it carries an EXIF block (which may rotate it)."""
    path = regular_file(Path(path), scene)
    with open_image(path, scene, str(path), decode=False) as image:
        size, fmt = image.size, image.format
        check_file_budget(path, *size, scene)
        orientation = 1
        try:
            if fmt != "PNG" or _png_has_exif(path):
                orientation = image.getexif().get(0x0112, 1)
        except Exception:  # a broken EXIF block: the pixels are read as stored
            orientation = 1
    try:
        with Image.open(path) as fresh:
            fresh.verify()  # PNG: chunk checksums (finds truncation and corruption without decoding)
    except Exception as exc:
        raise RealBenchError(f"cannot read image ({exc})", scene=scene, path=str(path)) from None
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _read_bytes(path: Path, scene: str | None) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RealBenchError(f"cannot read image ({exc.strerror or exc})", scene=scene, path=str(path)) from None


def open_image_bytes(data: bytes, scene: str | None, where: str) -> Image.Image:
    """Image bytes held in a dataset cell, with the checks of a file: pixel limit from the header
    before decoding, and bytes no larger than such an image can need."""
    with open_image(io.BytesIO(data), scene, where, decode=False) as header:
        width, height = header.size
    budget = max(MIN_FILE_BUDGET, BYTES_PER_PIXEL_BUDGET * width * height + 2**20)
    if len(data) > budget:
        raise RealBenchError(f"the image bytes are {len(data) / 2**20:,.0f} MiB for a {width}x{height} image: "
                             "trailing data or not an image", scene=scene, path=where)
    return open_image(io.BytesIO(data), scene, where)


def read_image_file(path: Path, scene: str | None = None) -> tuple[np.ndarray, bytes, bool]:
    """(RGB uint8 pixels, the file's bytes, whether those bytes are already a PNG of exactly these
    pixels): the file's header is checked, then it is read once, so its hash and a copy of it cost
    no second read, and an 8-bit RGB PNG can be stored as it is instead of being encoded again."""
    path = regular_file(Path(path), scene)
    with open_image(path, scene, str(path), decode=False) as header:
        check_file_budget(path, *header.size, scene)
    data = _read_bytes(path, scene)
    image = open_image(io.BytesIO(data), scene, str(path))
    stored_as_is = image.format == "PNG" and image.mode == "RGB" and b"eXIf" not in data
    return _pil_to_rgb(image, 255), data, stored_as_is


def sha256_file(path: Path, scene: str | None = None) -> str:
    """A file's sha256, streamed (bounded memory whatever its size)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise RealBenchError(f"cannot read file ({exc.strerror or exc})", scene=scene, path=str(path)) from None
    return digest.hexdigest()


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype in (np.uint16, np.int32, np.uint32) or array.dtype.kind in "iu":
        # 16-bit data (PIL keeps it in I;16 or I modes); round-to-nearest 65535 -> 255.
        return np.clip((array.astype(np.float64) / 257.0).round(), 0, 255).astype(np.uint8)
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    # float images: assume 0..1 when the values say so, else 0..255
    scale = 255.0 if float(np.nanmax(array)) <= 1.0 else 1.0
    return np.clip(np.nan_to_num(array) * scale, 0, 255).round().astype(np.uint8)


def image_to_rgb(image: Image.Image, background: int = 255) -> np.ndarray:
    """The one conversion of a decoded image to RGB uint8, for files and dataset cells alike:
    16-bit data scaled (not clipped), palettes expanded, grey made RGB, alpha over ``background``."""
    return _pil_to_rgb(image, background)


def image_to_mask(image: Image.Image, scene: str | None, path: str) -> np.ndarray:
    """The one reading of a mask (True = missing): white (>= 128) is missing, alpha composites over
    black, and a mask with many pixels neither black nor white is refused, not thresholded."""
    grey = _pil_to_rgb(image, background=0).astype(np.uint16).sum(axis=2) // 3
    between = (grey > 16) & (grey < 239)
    grey_fraction = float(between.mean())
    hole = int((grey > 16).sum())
    hole_fraction = float(between.sum()) / hole if hole else 0.0
    if grey_fraction > MAX_GREY_FRACTION or hole_fraction > MAX_GREY_HOLE_FRACTION:
        share = (f"{grey_fraction:.0%} of its pixels are" if grey_fraction > MAX_GREY_FRACTION else
                 f"{hole_fraction:.0%} of its non-black (missing) pixels are")
        raise RealBenchError(f"mask is not binary: {share} neither black nor white (expected 0 = known, 255 = "
                             "missing)", scene=scene, path=path)
    if between.any():
        edge = dilate(grey <= 16, EDGE) & dilate(grey >= 239, EDGE)
        stray = int((between & ~edge).sum())
        if stray > max(MAX_STRAY_GREY, hole // 100):
            raise RealBenchError(f"mask is not binary: {stray} pixels neither black nor white lie away from any "
                                 f"edge between black and white (a grey region, not an anti-aliased edge; expected "
                                 "0 = known, 255 = missing)", scene=scene, path=path)
    return grey >= 128


def _pil_to_rgb(image: Image.Image, background: int) -> np.ndarray:
    """RGB uint8, alpha composited over a flat ``background`` grey level."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = _to_uint8(np.asarray(image))
        return np.repeat(grey[..., None], 3, axis=2)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA")).astype(np.float64)
        alpha = rgba[..., 3:4] / 255.0
        rgb = rgba[..., :3] * alpha + background * (1.0 - alpha)
        return np.clip(rgb.round(), 0, 255).astype(np.uint8)
    return np.asarray(image.convert("RGB"))


def read_rgb(path: str | os.PathLike, scene: str | None = None, background: int = 255) -> np.ndarray:
    """Read any supported image as RGB uint8.

    Transparent pixels become white (``background``), so a target whose hole is transparent loads
    exactly like one whose hole is painted white, as in the RealBench release.
    """
    return _pil_to_rgb(_open(Path(path), scene), background)


def read_mask(path: str | os.PathLike, scene: str | None = None) -> np.ndarray:
    """Read a mask as bool (True = missing). White (>= 128) is missing; alpha composites over black."""
    return image_to_mask(_open(Path(path), scene), scene, str(path))


def list_images(folder: Path) -> list[Path]:
    """Image files in ``folder``, sorted, ignoring hidden and non-image files."""
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def encode_png(array: np.ndarray) -> bytes:
    """Encode a uint8 grey or RGB image as PNG with *stored* (uncompressed) deflate blocks.

    Unlike zlib/zlib-ng compression, stored blocks are byte-identical on every machine, which is
    what the built-in sample benchmark promises.
    """
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError("encode_png takes HxW or HxWx3 uint8 arrays")
    height, width = array.shape[:2]
    colour_type, channels = (0, 1) if array.ndim == 2 else (2, 3)
    rows = np.ascontiguousarray(array).reshape(height, width * channels)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    blocks = []
    for start in range(0, len(raw), 65535):
        piece = raw[start:start + 65535]
        final = 1 if start + 65535 >= len(raw) else 0
        blocks.append(struct.pack("<BHH", final, len(piece), len(piece) ^ 0xFFFF) + piece)
    stream = b"\x78\x01" + b"".join(blocks) + struct.pack(">I", zlib.adler32(raw))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


def write_png(path: Path, array: np.ndarray, compress: bool = True) -> None:
    """Atomically write an RGB/grey uint8 PNG (compressed with PIL, or byte-stable when not)."""
    if compress:
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG", compress_level=6)
        data = buffer.getvalue()
    else:
        data = encode_png(array)
    atomic_write_bytes(path, data)
