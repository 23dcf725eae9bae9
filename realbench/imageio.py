"""Reading images and masks into the canonical form: RGB uint8 and bool masks.

RealBench files come from many tools: phones (EXIF rotation), editors (RGBA with a transparent
hole, palette PNGs, 16-bit PNGs) and scripts (anti-aliased masks). Everything is normalised here
so that methods and metrics only ever see ``HxWx3 uint8`` images and ``HxW bool`` masks.
"""
from __future__ import annotations

import io
import os
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import RealBenchError, RealBenchWarning

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# A mask is "binary" if at most this fraction of pixels is clearly between black and white.
MAX_GREY_FRACTION = 0.25
# Images above this many pixels are refused from their header, before any decoding (a
# decompression bomb claims 30000x30000 in a few bytes). 120 MP holds any phone or DSLR photo;
# `--max-pixels` or REALBENCH_MAX_PIXELS raises it.
MAX_PIXELS = int(os.environ.get("REALBENCH_MAX_PIXELS", 120_000_000))
Image.MAX_IMAGE_PIXELS = None  # realbench checks the header itself, and names the scene and file


def set_max_pixels(limit: int) -> None:
    global MAX_PIXELS
    if limit < 1:
        raise RealBenchError(f"--max-pixels must be positive, got {limit}")
    MAX_PIXELS = int(limit)


def open_image(source, scene: str | None, path: str, decode: bool = True) -> Image.Image:
    """Open an image file or bytes, refusing one larger than ``MAX_PIXELS`` from its header and
    turning every decoder complaint into one error (and every decoder warning into one naming the
    scene and file)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            image = Image.open(source)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise RealBenchError(
                    f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels), above the limit of "
                    f"{MAX_PIXELS / 1e6:.0f} (a decompression bomb, or pass --max-pixels to allow it)",
                    scene=scene, path=path)
            if decode:
                image.load()
        except RealBenchError:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, MemoryError,
                Image.DecompressionBombError) as exc:
            raise RealBenchError(f"cannot read image ({exc})", scene=scene, path=path) from None
        if decode:
            try:
                ImageOps.exif_transpose(image, in_place=True)  # no copy when there is nothing to turn
            except Exception:  # broken EXIF block: keep the pixels as stored
                pass
    where = ", ".join(p for p in (f"scene '{scene}'" if scene else "", f"file '{path}'") if p)
    for message in dict.fromkeys(str(w.message) for w in caught):
        warnings.warn(f"{where}: {message}", RealBenchWarning, stacklevel=3)
    return image


def _open(path: Path, scene: str | None) -> Image.Image:
    if not path.exists():
        raise RealBenchError("file is missing", scene=scene, path=str(path))
    return open_image(path, scene, str(path))


def image_size(path: Path, scene: str | None = None, data: bytes | None = None) -> tuple[int, int]:
    """(width, height) from the header alone, after the same checks as reading; PNGs are also
    verified (chunk checksums), which finds truncated and corrupt files without decoding. One
    read of the file (or ``data``, its bytes); a PNG is decoded only if it carries an EXIF block
    (which may rotate it), as a JPEG's EXIF sits in its header."""
    if data is None:
        if not Path(path).exists():
            raise RealBenchError("file is missing", scene=scene, path=str(path))
        data = _read_bytes(Path(path), scene)
    with open_image(io.BytesIO(data), scene, str(path), decode=False) as image:
        size, fmt = image.size, image.format
        orientation = 1
        if fmt != "PNG" or b"eXIf" in data:
            try:
                orientation = image.getexif().get(0x0112, 1)
            except Exception:  # a broken EXIF block: the pixels are read as stored
                orientation = 1
    try:
        with Image.open(io.BytesIO(data)) as fresh:
            fresh.verify()  # PNG: chunk checksums (finds truncation and corruption without decoding)
    except Exception as exc:
        raise RealBenchError(f"cannot read image ({exc})", scene=scene, path=str(path)) from None
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def _read_bytes(path: Path, scene: str | None) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RealBenchError(f"cannot read image ({exc.strerror or exc})", scene=scene, path=str(path)) from None


def read_image_file(path: Path, scene: str | None = None) -> tuple[np.ndarray, bytes, bool]:
    """(RGB uint8 pixels, the file's bytes, whether those bytes are already a PNG of exactly these
    pixels): the file is read once, so its hash and a copy of it cost no second read, and an
    8-bit RGB PNG can be stored as it is instead of being encoded again."""
    path = Path(path)
    if not path.exists():
        raise RealBenchError("file is missing", scene=scene, path=str(path))
    data = _read_bytes(path, scene)
    image = open_image(io.BytesIO(data), scene, str(path))
    stored_as_is = image.format == "PNG" and image.mode == "RGB" and b"eXIf" not in data
    return _pil_to_rgb(image, 255), data, stored_as_is


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
    path = Path(path)
    image = _open(path, scene)
    grey = _pil_to_rgb(image, background=0).astype(np.uint16).sum(axis=2) // 3
    grey_fraction = float(((grey > 16) & (grey < 239)).mean())
    if grey_fraction > MAX_GREY_FRACTION:
        raise RealBenchError(
            f"mask is not binary: {grey_fraction:.0%} of its pixels are neither black nor white "
            "(expected 0 = known, 255 = missing)",
            scene=scene,
            path=str(path),
        )
    return grey >= 128


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
        chunk = raw[start:start + 65535]
        final = 1 if start + 65535 >= len(raw) else 0
        blocks.append(struct.pack("<BHH", final, len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    stream = b"\x78\x01" + b"".join(blocks) + struct.pack(">I", zlib.adler32(raw))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()  # read once: os.umask can only be read by setting it
FILE_MODE = 0o666 & ~UMASK
FOLDER_MODE = 0o777 & ~UMASK


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file.
    The file gets the mode a plain ``open`` would give (0644 under umask 022), not the temp
    file's 0600, so teammates on shared storage can read results."""
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


def write_png(path: Path, array: np.ndarray, compress: bool = True) -> None:
    """Atomically write an RGB/grey uint8 PNG (compressed with PIL, or byte-stable when not)."""
    if compress:
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG", compress_level=6)
        data = buffer.getvalue()
    else:
        data = encode_png(array)
    atomic_write_bytes(path, data)
