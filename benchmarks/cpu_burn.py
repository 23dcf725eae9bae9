"""A CPU-bound stand-in method for the scale-out benchmark: single-threaded arithmetic per sample,
deterministic in the seed (imported by Ray workers as ``cpu_burn:Burn``)."""
import numpy as np

from realbench.methods.base import Method, MethodInfo, Output


class Burn(Method):
    info = MethodInfo("cpu_burn:Burn", stochastic=True, description="burns CPU, returns the target plus seeded noise")
    default_config = {"iterations": 400, "feather": 0}
    generation_batch = 1

    def generate(self, scene, seeds):
        outputs = []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            x = rng.random((256, 256))
            for _ in range(int(self.config["iterations"])):
                x = np.sqrt(x * x + 0.5) - 0.4 * x
            noise = (x - x.mean()) * 40
            noise = np.resize(noise, scene.target.shape[:2])[..., None]
            outputs.append(Output(np.clip(scene.target + noise, 0, 255).astype(np.uint8)))
        return outputs
