"""``telea``: OpenCV's fast-marching inpainting (Telea 2004) of the target alone.

It never looks at the references, so it is the reference-free lower bound any
reference-driven method must beat.
"""
from __future__ import annotations

from dataclasses import dataclass

from realbench.core.imageops import telea
from realbench.core.settings import Number, setting

from .base import METHODS, Method, MethodInfo, Output


@dataclass
class TeleaSettings:
    radius: Number = setting(5, above=0, max=256, help="neighbourhood radius of the fast-marching inpainting (pixels)")
    feather: int = setting(0, min=0, max=1024, help="pixels over which the output is blended into the known region")


@METHODS.register("telea")
class Telea(Method):
    info = MethodInfo("telea", stochastic=False, description="OpenCV Telea inpainting, reference-free lower bound")
    Settings = TeleaSettings

    def generate(self, scene, seeds):
        image = telea(scene.target, scene.mask, self.settings.radius)
        # deterministic: every seed gives the same image, computed once
        return [Output(image) for _ in seeds]
