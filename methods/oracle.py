"""``oracle``: returns the ground truth. A test-only sanity check that the pipeline gives
perfect scores (infinite PSNR, SSIM 1); never a leaderboard entry."""
from __future__ import annotations

from realbench.core.errors import RealBenchError

from .base import METHODS, Method, MethodInfo, Output


@METHODS.register("oracle")
class Oracle(Method):
    info = MethodInfo("oracle", stochastic=False, description="the ground truth itself (sanity check)")

    def generate(self, scene, seeds):
        if scene.gt is None:
            raise RealBenchError("oracle needs the ground truth image", scene=scene.id)
        return [Output(scene.gt.copy()) for _ in seeds]
