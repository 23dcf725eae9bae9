"""RealFill's ``Qualitative`` set, the release's second folder: scenes for figures, without ground
truth. A generation-only benchmark: methods run, nothing is scored by default, and asking for a
metric is one clear error."""
from realbench.data.benchmarks import BENCHMARKS, BenchmarkDefinition

QUALITATIVE = BENCHMARKS.register("realfill-qualitative")(BenchmarkDefinition(
    name="realfill-qualitative",
    description="RealFill's Qualitative set: generation only (no ground truth)",
    folder="Qualitative",
    has_ground_truth=False,
    max_refs=5,
    scene_count=25,
    samples_per_scene=64,
    splits=("all", "outpaint", "inpaint"),
))
