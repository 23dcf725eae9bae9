"""A deliberately slow, seed-dependent method for kill-and-resume tests (imported as module:Class)."""
import time

import numpy as np

from realbench.methods.base import Method, MethodInfo, Output
from realbench.methods.telea import Telea


class SlowNoisyTelea(Method):
    info = MethodInfo("slow_method:SlowNoisyTelea", stochastic=True, description="telea + seeded noise, slowly")
    default_config = {"delay": 0.15, "feather": 0}
    generation_batch = 1
    calls: list = []

    def generate(self, scene, seeds):
        SlowNoisyTelea.calls.append((scene.id, tuple(seeds)))
        time.sleep(float(self.config["delay"]))
        base = Telea().generate(scene, [0])[0].image.astype(np.int16)
        outputs = []
        for seed in seeds:
            noise = np.random.default_rng(seed).integers(-20, 21, base.shape)
            outputs.append(Output(np.clip(base + noise, 0, 255).astype(np.uint8), {"noise_seed": seed}))
        return outputs
