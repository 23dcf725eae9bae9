"""``folder:PATH``: score images made anywhere else (Photoshop Generative Fill, the public
RealFill ``infer.py``, your own method). Layout: ``PATH/<scene_id>/*.png|jpg``, one file per
sample, in sorted order. Sizes must match the target unless ``resize`` is set (recorded), and
the known pixels are pasted back only with ``composite`` (so a tool that alters known pixels is
scored as it is, unless you ask otherwise).
"""
from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from realbench.core.errors import RealBenchError
from realbench.core.imageio import image_size, list_images, read_image_file
from realbench.core.paths import expand_user
from realbench.core.settings import setting

from .base import METHODS, Method, MethodInfo, Output


@dataclass
class FolderSettings:
    path: str = setting("", help="folder holding <scene_id>/*.png|jpg")
    resize: bool = setting(False, help="resample images whose size differs from the target (recorded)")
    composite: bool = setting(False, help="paste the target's known pixels back over each image")
    feather: int = setting(0, min=0, max=1024,
                           help="pixels over which a composited image is blended into the known region")


READ_THREADS = 4


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@METHODS.register("folder")
class FolderMethod(Method):
    info = MethodInfo("folder", stochastic=True,
                      description="images made elsewhere: --method folder:PATH reads PATH/<scene_id>/*.png|jpg")
    Settings = FolderSettings

    def __init__(self, config=None):
        super().__init__(config)
        if not str(self.settings.path).strip():
            raise RealBenchError("folder: needs a path: --method folder:PATH, with PATH/<scene_id>/*.png")
        self.root = expand_user(str(self.settings.path))
        if not self.root.is_dir():
            raise RealBenchError("outputs folder does not exist", path=str(self.root))
        self._pool: ThreadPoolExecutor | None = None
        self._reading: dict[tuple[str, int], Future] = {}
        self._listed: dict[str, list[Path]] = {}

    @property
    def composites(self) -> bool:
        return bool(self.settings.composite)

    def files(self, scene_id: str) -> list[Path]:
        """The scene's images in sorted order, listed once per run (a sample's index means the same
        file from the first check to the last read)."""
        listed = self._listed.get(scene_id)
        if listed is None:
            folder = self.root / scene_id
            listed = self._listed.setdefault(scene_id, list_images(folder) if folder.is_dir() else [])
        return listed

    def check_scenes(self, scene_ids: list[str]) -> None:
        """Every scene must have outputs: report all missing ones at once, before any work."""
        missing = [s for s in scene_ids if not self.files(s)]
        if missing:
            raise RealBenchError(
                f"no images for {len(missing)} of {len(scene_ids)} scenes: {', '.join(missing)} "
                f"(expected {self.root}/<scene_id>/*.png; use --scenes to score a subset)", path=str(self.root))

    def check_inputs(self, scenes, counts) -> None:
        """Every image the run will score opens, is whole and has the target's size (or may be
        resized): a bad file in the last scene stops the run before the first is written."""
        jobs = [(scene, path) for scene in scenes for path in self.files(scene.id)[:counts[scene.id]]]
        with ThreadPoolExecutor(READ_THREADS) as pool:
            sizes = list(pool.map(lambda job: image_size(job[1], job[0].id), jobs))
        for (scene, path), (width, height) in zip(jobs, sizes):
            h, w = scene.size
            if (height, width) != (h, w) and not self.settings.resize:
                raise RealBenchError(f"image is {width}x{height}, target is {w}x{h} (pass --resize to resample)",
                                     scene=scene.id, path=str(path))

    def changed_input(self, scene, index: int, recorded_info: dict) -> str | None:
        files = self.files(scene.id)
        recorded = recorded_info.get("file_sha256")
        if recorded is None or index >= len(files):
            return None
        path = files[index]
        if str(path) != recorded_info.get("file") or _sha(path.read_bytes()) != recorded:
            return f"the image {path}"
        return None

    def sample_count(self, scene, requested: int | None, default: int = 1) -> int:
        available = len(self.files(scene.id))
        if requested is None:
            return available
        if requested > available:
            raise RealBenchError(f"{requested} samples asked for, {available} images found", scene=scene.id,
                                 path=str(self.root / scene.id))
        return requested

    def seed_for(self, base_seed: int, index: int) -> int:
        return index  # the "seed" of a file is its position in the sorted folder

    generation_batch = 64  # images read per chunk: all samples of a scene at RealBench's count

    def _read(self, scene, index: int) -> Output:
        path = self.files(scene.id)[int(index)]
        image, data, stored_as_is = read_image_file(path, scene.id)
        info = {"file": str(path), "file_sha256": _sha(data), "composited": self.composites}
        if image.shape != scene.target.shape:
            if not self.settings.resize:
                h, w = scene.size
                raise RealBenchError(
                    f"image is {image.shape[1]}x{image.shape[0]}, target is {w}x{h} (pass --resize to resample)",
                    scene=scene.id, path=str(path))
            info["resized_from"] = [image.shape[1], image.shape[0]]
            image = np.asarray(Image.fromarray(image).resize((scene.size[1], scene.size[0]), Image.Resampling.LANCZOS))
            stored_as_is = False
        return Output(image, info, encoded=data if stored_as_is else None)

    def _reader(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="realbench-read")
        return self._pool

    def prefetch(self, scene, seeds) -> None:
        for index in seeds:
            key = (scene.id, int(index))
            if key not in self._reading:
                self._reading[key] = self._reader().submit(self._read, scene, index)

    def generate(self, scene, seeds):
        """Each file read once (its hash and a copy come from the same bytes), decoded in a small
        thread pool (the decoders release the GIL), ahead of time when the runner says what comes."""
        self.prefetch(scene, seeds)
        return [self._reading.pop((scene.id, int(index))).result() for index in seeds]

