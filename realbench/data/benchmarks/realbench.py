"""RealBench (Tang et al., RealFill, SIGGRAPH 2024): 33 scenes, 23 outpainting and 10 inpainting,
1-5 references each, with ground truth; RealFill draws 64 samples per scene; Table 1 reports six
metrics, Table 2 seed selection. The built-in ``sample`` follows the same protocol."""
from realbench.data.benchmarks import BENCHMARKS, BenchmarkDefinition

TABLE1 = ("psnr", "ssim", "lpips", "dreamsim", "dino", "clip")

REALBENCH = BENCHMARKS.register("realbench")(BenchmarkDefinition(
    name="realbench",
    description="RealFill's RealBench: reference-driven outpainting and inpainting with ground truth",
    folder="RealBench",
    has_ground_truth=True,
    max_refs=5,
    scene_count=33,
    samples_per_scene=64,
    splits=("all", "outpaint", "inpaint"),
    default_metrics=("psnr", "ssim"),  # weight-free: a run never needs a download it was not asked for
    metric_sets={"table1": TABLE1},
    reported={"table1": ("realfill_table1.csv", "geocomplete.csv"), "table2": ("realfill_table2.csv",)},
))
