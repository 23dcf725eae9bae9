"""The built-in sample benchmark, generated from photos that ship inside scikit-image.

Why generated and not shipped: the photos are already on every machine that has realbench
installed, so the sample costs nothing to download and works offline. Why so careful with
arithmetic: the sample must be byte-identical everywhere, so every pixel operation here is
elementwise IEEE arithmetic (no BLAS, no transcendental functions, no zlib compression), and
PNGs are written with stored deflate blocks.

Each scene's references differ from its target in a way real captures do: viewpoint (a real
stereo pair, and homographies), lighting / white balance, defocus blur and style.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from realbench.core.cache import cache_dir
from realbench.core.errors import RealBenchError
from realbench.core.files import atomic_write_bytes, staged_folder
from realbench.core.imageio import encode_png
from realbench.core.scene import infer_task

log = logging.getLogger(__name__)

SAMPLE_VERSION = "1"
SIZE = 256

Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


def sample_root() -> Path:
    return cache_dir() / f"sample-v{SAMPLE_VERSION}"


# ---------------------------------------------------------------- deterministic pixel operations

def square_to_quad(quad: Quad) -> tuple[float, ...]:
    """Projective map from the unit square to ``quad`` (Heckbert 1989), in closed form.

    Corners are (0,0) (1,0) (1,1) (0,1) -> quad[0..3]. Plain float arithmetic, so the
    coefficients are identical on every machine (a linear solver would not promise that).
    """
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    dx1, dx2, dx3 = x1 - x2, x3 - x2, x0 - x1 + x2 - x3
    dy1, dy2, dy3 = y1 - y2, y3 - y2, y0 - y1 + y2 - y3
    if dx3 == 0.0 and dy3 == 0.0:
        g = h = 0.0
    else:
        den = dx1 * dy2 - dx2 * dy1
        g = (dx3 * dy2 - dx2 * dy3) / den
        h = (dx1 * dy3 - dx3 * dy1) / den
    return (x1 - x0 + g * x1, x3 - x0 + h * x3, x0, y1 - y0 + g * y1, y3 - y0 + h * y3, y0, g, h)


def warp_quad(image: np.ndarray, quad: Quad, height: int, width: int) -> np.ndarray:
    """Resample the region ``quad`` (source pixel coordinates) into a ``height x width`` image."""
    a, b, c, d, e, f, g, h = square_to_quad(quad)
    v, u = np.meshgrid((np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width, indexing="ij")
    w = g * u + h * v + 1.0
    x = (a * u + b * v + c) / w - 0.5
    y = (d * u + e * v + f) / w - 0.5
    src_h, src_w = image.shape[:2]
    x = np.clip(x, 0.0, src_w - 1.0)
    y = np.clip(y, 0.0, src_h - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), src_w - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), src_h - 2)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    img = image.astype(np.float64)
    top = img[y0, x0] * (1.0 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1.0 - fx) + img[y0 + 1, x0 + 1] * fx
    out = top * (1.0 - fy) + bottom * fy
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def rect(x: float, y: float, w: float, h: float) -> Quad:
    return ((x, y), (x + w, y), (x + w, y + h), (x, y + h))


def binomial_blur(image: np.ndarray, passes: int) -> np.ndarray:
    """Defocus: repeated separable [1 4 6 4 1]/16 filter in integer arithmetic (edge-replicated)."""
    out = image.astype(np.int64)
    for _ in range(passes):
        for axis in (0, 1):
            p = np.pad(out, [(2, 2) if a == axis else (0, 0) for a in range(out.ndim)], mode="edge")
            n = out.shape[axis]
            take = lambda k, p=p, n=n, axis=axis: np.take(p, np.arange(k, k + n), axis=axis)  # noqa: E731
            out = (take(0) + 4 * take(1) + 6 * take(2) + 4 * take(3) + take(4) + 8) // 16
    return out.astype(np.uint8)


def relight(image: np.ndarray, gains: tuple[float, float, float], curve: float = 0.0) -> np.ndarray:
    """Lighting / white balance: per-channel gains, then a tone curve x + curve*x*(1-x)."""
    x = image.astype(np.float64) / 255.0
    x = x * np.array(gains)
    x = np.clip(x, 0.0, 1.0)
    x = x + curve * x * (1.0 - x)
    return np.clip(np.floor(x * 255.0 + 0.5), 0, 255).astype(np.uint8)


def stylise(image: np.ndarray, levels: int = 5) -> np.ndarray:
    """Style: sepia toning and posterisation, in integer arithmetic."""
    img = image.astype(np.int64)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    sepia = np.stack([(393 * r + 769 * g + 189 * b) // 1000,
                      (349 * r + 686 * g + 168 * b) // 1000,
                      (272 * r + 534 * g + 131 * b) // 1000], axis=-1)
    sepia = np.minimum(sepia, 255)
    step = 256 // levels
    return np.minimum((sepia // step) * step + step // 2, 255).astype(np.uint8)


def outpaint_mask(top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """Known = the rectangle [top:bottom, left:right]; everything around it is missing."""
    mask = np.ones((SIZE, SIZE), bool)
    mask[top:bottom, left:right] = False
    return mask


def ellipse_mask(cy: int, cx: int, ry: int, rx: int) -> np.ndarray:
    """An elliptical hole, tested in integers so the edge is the same everywhere."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    return (yy - cy) ** 2 * rx * rx + (xx - cx) ** 2 * ry * ry <= rx * rx * ry * ry


def rect_mask(top: int, bottom: int, left: int, right: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[top:bottom, left:right] = True
    return mask


# ---------------------------------------------------------------- the scenes

@dataclass(frozen=True)
class RefRecipe:
    photo: str
    quad: Quad
    size: tuple[int, int]  # (height, width)
    change: str  # human-readable: what differs from the target
    relight: tuple | None = None  # (gains, curve)
    blur: int = 0
    style: bool = False


@dataclass(frozen=True)
class SceneRecipe:
    id: str
    photo: str
    quad: Quad
    mask: np.ndarray = field(repr=False, compare=False)
    refs: tuple[RefRecipe, ...] = ()

    @property
    def task(self) -> str:
        return infer_task(self.mask)


def _photos() -> dict[str, np.ndarray]:
    from skimage import data

    left, right, _ = data.stereo_motorcycle()
    return {
        "astronaut": data.astronaut(),
        "chelsea": data.chelsea(),
        "coffee": data.coffee(),
        "rocket": data.rocket(),
        "motorcycle_left": left,
        "motorcycle_right": right,
    }


def recipes() -> list[SceneRecipe]:
    return [
        SceneRecipe(
            "motorcycle-stereo", "motorcycle_left", rect(170, 40, 420, 420), outpaint_mask(40, 216, 48, 208),
            (
                RefRecipe("motorcycle_right", rect(0, 0, 741, 500), (300, 444),
                          "real stereo view (viewpoint), full frame"),
                RefRecipe("motorcycle_right", rect(280, 80, 400, 380), (240, 252), "real stereo view, closer framing"),
            ),
        ),
        SceneRecipe(
            "astronaut-viewpoint", "astronaut", rect(0, 0, 512, 512), ellipse_mask(120, 140, 44, 56),
            (
                RefRecipe("astronaut", ((40, 20), (500, 60), (470, 480), (10, 500)), (256, 256),
                          "viewpoint (homography)"),
                RefRecipe("astronaut", ((100, 60), (430, 10), (512, 400), (60, 440)), (224, 288),
                          "viewpoint (homography), zoomed"),
                RefRecipe("astronaut", ((0, 100), (400, 80), (420, 500), (20, 512)), (288, 224),
                          "viewpoint (homography), portrait crop"),
            ),
        ),
        SceneRecipe(
            "coffee-lighting", "coffee", rect(110, 10, 380, 380), outpaint_mask(48, 208, 48, 208),
            (
                RefRecipe("coffee", rect(40, 0, 520, 400), (240, 312), "warm white balance",
                          relight=((1.18, 1.0, 0.8), 0.0)),
                RefRecipe("coffee", ((60, 20), (560, 0), (580, 400), (80, 390)), (256, 256),
                          "darker exposure, viewpoint",
                          relight=((0.8, 0.8, 0.8), -0.3)),
            ),
        ),
        SceneRecipe(
            "chelsea-defocus", "chelsea", rect(80, 0, 300, 300), rect_mask(96, 176, 100, 196),
            (
                RefRecipe("chelsea", rect(40, 0, 400, 300), (240, 320), "defocus blur", blur=3),
                RefRecipe("chelsea", rect(120, 30, 240, 240), (256, 256), "slight defocus, closer framing", blur=1),
            ),
        ),
        SceneRecipe(
            "rocket-style", "rocket", rect(190, 40, 300, 300), outpaint_mask(0, 256, 72, 184),
            (
                RefRecipe("rocket", rect(100, 0, 480, 427), (256, 288), "style (sepia, posterised)", style=True),
                RefRecipe("rocket", ((150, 30), (520, 10), (540, 400), (140, 420)), (256, 256),
                          "viewpoint and lighting",
                          relight=((1.0, 0.95, 1.1), 0.2)),
            ),
        ),
        SceneRecipe(
            "astronaut-mixed", "astronaut", rect(90, 0, 300, 300), outpaint_mask(0, 176, 0, 180),
            (
                RefRecipe("astronaut", rect(40, 0, 420, 420), (256, 256), "wider view, cooler light",
                          relight=((0.9, 1.0, 1.15), 0.0)),
                RefRecipe("astronaut", ((60, 20), (420, 0), (450, 380), (80, 360)), (240, 240), "viewpoint, defocus",
                          blur=2),
                RefRecipe("astronaut", rect(0, 0, 512, 512), (320, 320), "whole photo, brighter",
                          relight=((1.1, 1.1, 1.1), 0.25)),
                RefRecipe("astronaut", rect(150, 100, 300, 300), (200, 200), "close-up, style", style=True),
            ),
        ),
    ]


def _render_ref(photos: dict[str, np.ndarray], recipe: RefRecipe) -> np.ndarray:
    image = warp_quad(photos[recipe.photo], recipe.quad, *recipe.size)
    if recipe.relight is not None:
        image = relight(image, *recipe.relight)
    if recipe.blur:
        image = binomial_blur(image, recipe.blur)
    if recipe.style:
        image = stylise(image)
    return image


def generate_sample(root: Path) -> Path:
    """Write the sample benchmark in the release layout (plus ``manifest.json``) under ``root``."""
    photos = _photos()
    manifest: dict[str, Any] = {"name": "realbench-sample", "version": SAMPLE_VERSION, "scenes": {},
                                "photo_sha256": {}}
    for name, array in photos.items():
        manifest["photo_sha256"][name] = hashlib.sha256(array.tobytes()).hexdigest()
    for recipe in recipes():
        folder = root / recipe.id
        gt = warp_quad(photos[recipe.photo], recipe.quad, SIZE, SIZE)
        target = gt.copy()
        target[recipe.mask] = 255  # the release paints the hole white
        atomic_write_bytes(folder / "target" / "gt.png", encode_png(gt))
        atomic_write_bytes(folder / "target" / "target.png", encode_png(target))
        atomic_write_bytes(folder / "target" / "mask.png", encode_png(recipe.mask.astype(np.uint8) * 255))
        for index, ref in enumerate(recipe.refs):
            atomic_write_bytes(folder / "ref" / f"{index:02d}.png", encode_png(_render_ref(photos, ref)))
        manifest["scenes"][recipe.id] = {
            "task": recipe.task,
            "photo": recipe.photo,
            "refs": [{"photo": r.photo, "change": r.change} for r in recipe.refs],
        }
    atomic_write_bytes(root / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
    return root


def ensure_sample(root: Path | None = None) -> Path:
    """Generate the sample once into the user cache (never into site-packages) and return its root."""
    root = root or sample_root()
    if (root / "manifest.json").is_file():
        return root
    log.info("generating the built-in sample benchmark into %s (once)", root)
    try:
        with staged_folder(root) as tmp:
            generate_sample(tmp)
    except OSError as exc:
        if (root / "manifest.json").is_file():  # another process finished first
            return root
        raise RealBenchError(f"cannot write the built-in sample into the cache ({exc.strerror or exc}); set "
                             "REALBENCH_CACHE to a writable folder", path=str(root.parent)) from None
    return root


def file_checksums(root: Path) -> dict[str, str]:
    """sha256 of every file of a generated sample, keyed by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }
