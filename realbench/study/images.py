"""The pictures of a study, encoded so they give nothing away.

Every image is re-encoded (JPEG at quality >= 90, or PNG) without metadata, and all the options of
one scene (every method's samples, the ground truth and the broken fills) are padded to the same
byte length: a participant, or anyone watching the network, cannot tell which image came from which
method by its name, its URL, its size or its metadata. Padding is inert: JPEG comment segments of
zero bytes, or a private PNG chunk of zero bytes, which every decoder skips.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

GRAY = 128  # the paper's "gray region"
PAD_QUANTUM = 1024
JPEG_SEGMENT = 65533  # the most payload one JPEG segment holds
PNG_PAD_CHUNK = b"rbPd"  # ancillary, private, safe to copy: decoders skip it


def gray_target(target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The target as participants see it: the missing region in flat gray."""
    out = np.array(target, dtype=np.uint8, copy=True)
    out[mask] = GRAY
    return out


def resized(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` with its longer side at most ``max_side`` (0: unchanged), Lanczos."""
    height, width = image.shape[:2]
    if max_side <= 0 or max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def encode(image: np.ndarray, fmt: str, quality: int) -> bytes:
    """JPEG (4:4:4, baseline, no EXIF or ICC) or PNG bytes of an RGB uint8 image."""
    buffer = io.BytesIO()
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    if fmt == "jpeg":
        picture.save(buffer, format="JPEG", quality=quality, subsampling=0, optimize=True)
    else:
        picture.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def padded_size(sizes: list[int]) -> int:
    """One length every image of a group can be padded to (at least 16 bytes more than the largest,
    so that every image gets a padding segment of at least its header's size)."""
    largest = max(sizes) + 16
    return -(-largest // PAD_QUANTUM) * PAD_QUANTUM


def pad(data: bytes, size: int) -> bytes:
    """``data`` grown to exactly ``size`` bytes with inert zero padding."""
    extra = size - len(data)
    if extra < 16:
        raise ValueError(f"cannot pad {len(data)} bytes to {size}")
    if data[:2] == b"\xff\xd8":
        return data[:2] + _jpeg_comments(extra) + data[2:]
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_with_pad(data, extra)
    raise ValueError("not a JPEG or PNG")


def _jpeg_comments(extra: int) -> bytes:
    """COM segments (FF FE, 2-byte length, payload) adding up to exactly ``extra`` bytes."""
    segments = []
    while extra > 0:
        payload = min(JPEG_SEGMENT, extra - 4)
        rest = extra - 4 - payload
        if 0 < rest < 4:  # leave enough for one more header
            payload -= 4 - rest
        segments.append(b"\xff\xfe" + struct.pack(">H", payload + 2) + bytes(payload))
        extra -= payload + 4
    return b"".join(segments)


def _png_with_pad(data: bytes, extra: int) -> bytes:
    """A private chunk of ``extra - 12`` zero bytes right after IHDR (8 signature + 25 IHDR)."""
    body = bytes(extra - 12)
    chunk = struct.pack(">I", len(body)) + PNG_PAD_CHUNK + body + struct.pack(">I", zlib.crc32(PNG_PAD_CHUNK + body))
    return data[:33] + chunk + data[33:]


BROKEN_KINDS = ("flat", "noise", "checker", "stripes")


def broken_fill(base: np.ndarray, mask: np.ndarray, kind_index: int, seed: int) -> np.ndarray:
    """``base`` with its missing region filled in a way no one would call a completion: a flat
    saturated colour, coloured noise, a checkerboard or stripes (an attention check's wrong answers)."""
    rng = np.random.default_rng([seed, kind_index])
    height, width = mask.shape
    kind = BROKEN_KINDS[kind_index % len(BROKEN_KINDS)]
    colours = np.array([[255, 0, 255], [0, 255, 0], [255, 128, 0], [0, 64, 255], [255, 255, 0]], np.uint8)
    first, second = colours[rng.permutation(len(colours))[:2]]
    cell = max(4, min(height, width) // 16)
    yy, xx = np.mgrid[0:height, 0:width]
    if kind == "flat":
        fill = np.broadcast_to(first, (height, width, 3))
    elif kind == "noise":
        small = rng.integers(0, 256, (height // cell + 1, width // cell + 1, 3), dtype=np.uint8)
        fill = np.repeat(np.repeat(small, cell, axis=0), cell, axis=1)[:height, :width]
    elif kind == "checker":
        fill = np.where((((yy // cell) + (xx // cell)) % 2 == 0)[..., None], first, second)
    else:
        fill = np.where((((xx + yy) // cell) % 2 == 0)[..., None], first, second)
    out = np.array(base, dtype=np.uint8, copy=True)
    out[mask] = np.asarray(fill, np.uint8)[mask]
    return out
