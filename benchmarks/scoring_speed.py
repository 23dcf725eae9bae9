"""Scoring speed of images made elsewhere (``folder:PATH``), side by side in one run.

For N seeded variants per scene (N = 4, 16, 64 by default) of a benchmark (the dev scenes in
../shared/realbench-dev when present, else the built-in sample), each in its own process (so each
reports its own peak RSS and loads its own models, as a user's run would):

- ``bare``: a plain loop that decodes the PNGs and computes the masked PSNR with numpy;
- ``realbench psnr``: ``evaluate(folder:PATH, metrics=psnr, select=False)``, everything it records;
- ``realbench suite``: the six Table 1 metrics in one run;
- ``realbench <metric>`` and ``naive <metric>``: each metric alone in one realbench process, and
  the public scripts' pattern: one process per metric per scene (Python, torch and the model
  loaded again each time), every image decoded and scored alone (batch 1, the ground-truth side
  recomputed for every image), with the reference packages called directly (numpy,
  scikit-image, lpips, transformers, open_clip, dreamsim). These compare whole-process wall times;
- ``floor <metric>``: the reference network's forward pass alone, once per image (batches of 16,
  random input of the size it sees): what no float32 implementation on this machine can beat.

Weights: the real architectures with RANDOM values (AlexNet, DINO ViT-S/16, OpenCLIP ViT-B/32 and
DreamSim's three ViT-B/16), built once into a temporary folder: speed does not depend on the
values, and no download is needed. The weight-free and suite figures time the work inside one
process (imports and loading the data excluded, reported once); none includes writing the test
images. Peak memory is each process's own high-water mark (VmHWM).

Run: python benchmarks/scoring_speed.py [--data DIR|sample] [--sizes 4,16,64] [--naive-size 16]
     [--skip-suite] [--skip-naive] [--bf16]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
SUITE = ["psnr", "ssim", "lpips", "dreamsim", "dino", "clip"]
LEARNED = ("lpips", "dreamsim", "dino", "clip")
DEV = ROOT.parent / "shared" / "realbench-dev"


# ---------------------------------------------------------------------- set-up (parent process)

def make_variants(bench, n: int, folder: Path) -> None:
    """``folder/<scene>/<k>.png``: the ground truth with seeded noise of growing strength in the
    hole and the known pixels exact (no compositing needed), as a method's outputs would be."""
    from realbench.core.imageio import write_png

    for scene in bench:
        out = folder / scene.id
        out.mkdir(parents=True, exist_ok=True)
        for k in range(n):
            rng = np.random.default_rng(1000 * k + 7)
            noisy = np.clip(scene.gt.astype(np.float32) + rng.normal(0, 8 + k % 24, scene.gt.shape), 0, 255)
            image = scene.gt.copy()
            image[scene.mask] = noisy.astype(np.uint8)[scene.mask]
            write_png(out / f"{k:03d}.png", image)


# ---------------------------------------------------------------------- phases (child processes)

def _files(folder: Path, scene_id: str, n: int) -> list[Path]:
    return sorted((folder / scene_id).glob("*.png"))[:n]


def _decode(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def phase_bare(bench, folder: Path, n: int) -> int:
    count = 0
    for scene in bench:
        gt = scene.gt[scene.mask].astype(np.float64)
        for path in _files(folder, scene.id, n):
            image = _decode(path)
            mse = np.mean((image[scene.mask].astype(np.float64) - gt) ** 2)
            _ = 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))
            count += 1
    return count


def phase_realbench(bench, folder: Path, n: int, metrics: list[str], out: Path, precision: str = "fp32") -> int:
    import realbench

    options = {m: {"precision": precision} for m in metrics if m in LEARNED} if precision != "fp32" else {}
    run = realbench.evaluate(realbench.RunConfig(f"folder:{folder}", data=bench, metrics=metrics, select=False,
                                                 samples=n, out=out, progress=False, metric_options=options))
    return len(run.records())


def _naive_model(metric: str, weights: Path):
    """Load the metric's model as a standalone script does (reference package, from the files)."""
    import torch

    if metric == "lpips":
        import warnings

        import lpips
        import torchvision

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lpips.LPIPS(net="alex", spatial=True, pnet_rand=True, verbose=False).eval()
        trunk = torchvision.models.alexnet(weights=None).features
        state = torch.load(weights / "alexnet-owt-7be5be79.pth", weights_only=True)
        trunk.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})
        for block in (model.net.slice1, model.net.slice2, model.net.slice3, model.net.slice4, model.net.slice5):
            for index, module in block.named_children():
                module.load_state_dict(trunk[int(index)].state_dict())
        return model
    if metric == "dino":
        from transformers import ViTModel

        return ViTModel.from_pretrained(str(weights / "dino-vits16"), add_pooling_layer=False).eval()
    if metric == "clip":
        import open_clip

        model, _, preprocess = open_clip.create_model_and_transforms(
            "ViT-B-32", pretrained=str(weights / "clip-vit-b-32-openai" / "open_clip_pytorch_model.bin"))
        return model.eval(), preprocess
    if metric == "dreamsim":
        from dreamsim import dreamsim

        hub = torch.hub.get_dir()
        try:
            return dreamsim(pretrained=True, device="cpu", cache_dir=str(weights / "dreamsim-ensemble"))
        finally:
            torch.hub.set_dir(hub)
    return None


def _naive_score(metric: str, model, image: np.ndarray, scene) -> float:
    import torch

    gt, mask = scene.gt, scene.mask
    if metric == "psnr":
        mse = np.mean((image[mask].astype(np.float64) - gt[mask].astype(np.float64)) ** 2)
        return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))
    if metric == "ssim":
        from skimage.metrics import structural_similarity

        _, full = structural_similarity(gt, image, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, data_range=255, full=True)
        return float(full.mean(axis=2)[mask].mean())
    with torch.no_grad():
        if metric == "lpips":
            def t(a):
                return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float() / 127.5 - 1

            return float(model(t(image), t(gt))[0, 0][torch.from_numpy(mask)].mean())
        from PIL import Image

        if metric == "dino":
            from torchvision import transforms

            tf = transforms.Compose([transforms.Resize((224, 224), interpolation=transforms.InterpolationMode.BICUBIC),
                                     transforms.ToTensor(),
                                     transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
            a, b = (model(tf(Image.fromarray(x))[None]).last_hidden_state[:, 0] for x in (image, gt))
            return float(torch.nn.functional.cosine_similarity(a, b).item())
        if metric == "clip":
            net, preprocess = model
            a, b = (net.encode_image(preprocess(Image.fromarray(x))[None]) for x in (image, gt))
            return float(torch.nn.functional.cosine_similarity(a, b).item())
        if metric == "dreamsim":
            net, preprocess = model
            return float(net(preprocess(Image.fromarray(image)), preprocess(Image.fromarray(gt))).item())
    raise ValueError(metric)


def phase_naive(bench, folder: Path, n: int, metric: str, weights: Path) -> int:
    """One scene (the benchmark holds just the one this process was started for)."""
    count = 0
    for scene in bench:
        model = _naive_model(metric, weights)
        for path in _files(folder, scene.id, n):
            _naive_score(metric, model, _decode(path), scene)
            count += 1
    return count


def phase_floor(bench, metric: str, n: int, weights: Path) -> tuple[int, float]:
    """The compute floor: the reference network's forward alone (one per image, batches of 16, no
    decoding, resizing, ground-truth side or records), on random input of the size it sees; timed
    without loading the model. Returns (images, seconds)."""
    import torch

    model = _naive_model(metric, weights)
    h, w = bench.scenes[0].size if metric == "lpips" else (224, 224)
    forward = {"lpips": lambda x: model.net(x * 2 - 1), "dino": lambda x: model(pixel_values=x),
               "clip": lambda x: model[0].encode_image(x), "dreamsim": lambda x: model[0].embed(x)}[metric]
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        forward(torch.rand(1, 3, h, w, generator=generator))  # warm-up, outside the time
        start = time.perf_counter()
        for done in range(0, n, 16):
            forward(torch.rand(min(16, n - done), 3, h, w, generator=generator))
        return n, time.perf_counter() - start


def _peak_gib() -> float:
    """This process's own peak resident memory (VmHWM; ru_maxrss would include the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def child(args) -> None:
    import torch

    from realbench import load_benchmark

    started = time.perf_counter()
    bench = load_benchmark(args.data, args.scene)
    import realbench.api  # noqa: F401  (imports are not what is timed)
    import realbench.metrics.clip_similarity  # noqa: F401
    imports = time.perf_counter() - started
    folder, n = Path(args.folder), args.n
    start = time.perf_counter()
    if args.phase == "bare":
        count = phase_bare(bench, folder, n)
    elif args.phase.startswith("floor:"):
        count, floor = phase_floor(bench, args.phase.split(":", 1)[1], n, Path(os.environ["REALBENCH_WEIGHTS_DIR"]))
    elif args.phase.startswith(("realbench:", "realbench-bf16:")):
        kind, names = args.phase.split(":", 1)
        count = phase_realbench(bench, folder, n, names.split(","), Path(args.out),
                                "bf16" if kind.endswith("bf16") else "fp32")
    else:
        count = phase_naive(bench, folder, n, args.phase.split(":", 1)[1], Path(os.environ["REALBENCH_WEIGHTS_DIR"]))
    seconds = time.perf_counter() - start if not args.phase.startswith("floor:") else floor
    print(json.dumps({"seconds": seconds, "images": count, "imports": imports, "threads": torch.get_num_threads(),
                      "peak_rss_gib": _peak_gib()}))


# ---------------------------------------------------------------------- driver

RUNS = iter(range(10 ** 6))


def run_phase(phase: str, data: str, folder: Path, n: int, tmp: Path, scene: str | None = None) -> dict:
    out = tmp / "runs" / f"{next(RUNS):03d}"  # a fresh run folder every time: nothing is resumed
    command = [sys.executable, __file__, "--child", "--phase", phase, "--data", data, "--folder", str(folder),
               "--n", str(n), "--out", str(out)] + (["--scene", scene] if scene else [])
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEV) if DEV.is_dir() else "sample")
    parser.add_argument("--sizes", default="4,16,64", help="images per scene")
    parser.add_argument("--naive-size", type=int, default=16, help="images per scene for the per-metric comparison")
    parser.add_argument("--skip-suite", action="store_true")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--bf16", action="store_true",
                        help="also time the suite with NAME.precision=bf16 (opt-in; not the reference numbers)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from realbench import load_benchmark

    sizes = [int(s) for s in args.sizes.split(",")]
    bench = load_benchmark(args.data)
    h, w = bench.scenes[0].size
    print(f"data {args.data}: {len(bench)} scenes ({w}x{h} first); {os.cpu_count()} CPU cores; images per scene "
          f"{sizes}; learned metrics on RANDOM weights of the real architectures")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "outputs"
        make_variants(bench, max([*sizes, args.naive_size]), folder)
        weights = tmp / "weights"
        weights.mkdir()
        if not (args.skip_suite and args.skip_naive):
            from replicas import full_size_metric_weights

            full_size_metric_weights(weights, dreamsim=True)
        os.environ["REALBENCH_WEIGHTS_DIR"] = str(weights)
        os.environ["REALBENCH_CACHE"] = str(tmp / "cache")  # a cold feature cache for every run
        rows = []

        def record(label: str, phase: str, n: int) -> dict:
            result = run_phase(phase, args.data, folder, n, tmp)
            result.update(label=label, n=n, per_image=result["seconds"] / max(result["images"], 1))
            rows.append(result)
            print(f"  {label:24s} N={n:3d}  {result['seconds']:8.2f} s  {1000 * result['per_image']:8.1f} ms/image  "
                  f"(process {result['wall']:6.1f} s)  peak {result['peak_rss_gib']:.2f} GiB", flush=True)
            return result

        print("weight-free scoring, work inside the process (seconds per image must stay flat in N):")
        for n in sizes:
            bare = record("bare decode+PSNR loop", "bare", n)
            ours = record("realbench psnr", "realbench:psnr", n)
            print(f"  -> realbench psnr / bare loop: {ours['seconds'] / bare['seconds']:.2f}x (target <= 1.5x)")
        suites = {}
        if not args.skip_suite:
            print("full suite (psnr, ssim, lpips, dreamsim, dino, clip) in one realbench run:")
            for n in sizes:
                suites[n] = record("realbench suite", "realbench:" + ",".join(SUITE), n)
            if args.bf16:
                n = args.naive_size
                bf16 = record("realbench suite bf16", "realbench-bf16:" + ",".join(SUITE), n)
                if n in suites:
                    print(f"  -> bf16 autocast (opt-in, recorded in the protocol; not the reference numbers): "
                          f"{suites[n]['seconds'] / bf16['seconds']:.2f}x the float32 suite")
            if len(sizes) > 1:
                lo, hi = sizes[0], sizes[-1]
                marginal = (suites[hi]["seconds"] - suites[lo]["seconds"]) / ((hi - lo) * len(bench))
                print(f"  -> marginal cost per image between N={lo} and N={hi}: {1000 * marginal:.0f} ms "
                      "(the rest is loading models and the ground-truth side, once)")
        if not args.skip_naive:
            n = args.naive_size
            print(f"per metric, N={n}, whole processes: one realbench run per metric vs the public scripts' "
                  f"pattern (one process per metric per scene, {len(bench)} scenes):")
            naive_total = ours_total = floor_total = 0.0
            for metric in SUITE:
                ours = record(f"realbench {metric}", f"realbench:{metric}", n)
                if metric in LEARNED:
                    floor = record(f"floor {metric} (all images)", f"floor:{metric}", n * len(bench))
                    floor_total += floor["seconds"]
                naive_wall = naive_images = 0.0
                for scene in bench:
                    result = run_phase(f"naive:{metric}", args.data, folder, n, tmp, scene.id)
                    naive_wall += result["wall"]
                    naive_images += result["images"]
                print(f"  {'naive ' + metric:24s} N={n:3d}  {naive_wall:8.2f} s  "
                      f"{1000 * naive_wall / max(naive_images, 1):8.1f} ms/image  ({len(bench)} processes)")
                naive_total += naive_wall
                ours_total += ours["wall"]
                print(f"  -> {metric}: naive / realbench = {naive_wall / ours['wall']:.2f}x (target >= 1x)")
            suite = suites.get(n) or (None if args.skip_suite else
                                      record("realbench suite", "realbench:" + ",".join(SUITE), n))
            if suite is not None:
                print(f"  -> all six: naive {naive_total:.1f} s vs one realbench suite run {suite['wall']:.1f} s "
                      f"(whole process): {naive_total / suite['wall']:.1f}x (target >= 10x)")
                print(f"  -> the four networks' forward passes alone (floor rows) take {floor_total:.1f} s, so no "
                      f"float32 implementation can beat the naive loop by more than {naive_total / floor_total:.1f}x "
                      "here")
        print(f"imports and loading the data, once per process: {rows[0]['imports']:.2f} s; "
              f"torch threads {rows[0]['threads']}")


if __name__ == "__main__":
    main()
