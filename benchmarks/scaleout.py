"""Scale-out: wall time of one CPU-bound run (6 scenes x 4 samples of ``cpu_burn:Burn``) on the
local executor, on Ray with 1 and 2 workers, and as 2 shards run in parallel then merged.
Target on 2 cores: at least 1.6x speed-up with 2 workers. Prints seconds and speed-ups, and
checks that every variant produced the same records.
Run: python benchmarks/scaleout.py [--iterations 6000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def stable(run_dir: Path) -> list:
    from realbench.run.records import read_records

    return sorted(({k: v for k, v in r.items() if k not in ("time", "seconds")}
                   for r in read_records(run_dir / "records.jsonl")), key=lambda r: (r["scene"], r["sample"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=6000)
    args = parser.parse_args()
    import ray

    from realbench import evaluate, load_benchmark

    bench = load_benchmark("sample")
    common = dict(samples=4, method_config={"iterations": args.iterations}, progress=False)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        evaluate("cpu_burn:Burn", bench, out=tmp / "local", **common)
        times["local executor"] = time.perf_counter() - start
        for workers in (1, 2):
            env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            start = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
            evaluate("cpu_burn:Burn", bench, out=tmp / f"ray{workers}", executor="ray", **common)
            ray.shutdown()
            times[f"ray, {workers} worker(s) (incl. start-up)"] = time.perf_counter() - start
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "realbench.cli", "evaluate", "--method", "cpu_burn:Burn",
                                   "--samples", "4", "--set", f"iterations={args.iterations}", "--shard", f"{i}/2",
                                   "--out", str(tmp / f"shard{i}"), "--no-progress"], env=env,
                                  stdout=subprocess.DEVNULL) for i in (1, 2)]
        assert all(p.wait() == 0 for p in procs)
        subprocess.run([sys.executable, "-m", "realbench.cli", "merge", str(tmp / "shard1"), str(tmp / "shard2"),
                        "--out", str(tmp / "merged")], env=env, check=True, stdout=subprocess.DEVNULL)
        times["2 shards in parallel + merge (incl. process start-up)"] = time.perf_counter() - start
        same = all(stable(tmp / d) == stable(tmp / "local") for d in ("ray1", "ray2", "merged"))
    print(f"cores: {os.cpu_count()}; 6 scenes x 4 samples, {args.iterations} iterations per sample")
    ray1, local = times["ray, 1 worker(s) (incl. start-up)"], times["local executor"]
    for name, seconds in times.items():
        print(f"{name:54s} {seconds:7.1f} s   vs 1 Ray worker {ray1 / seconds:4.2f}x   "
              f"vs local {local / seconds:4.2f}x")
    print(f"records identical across executors: {same}")


if __name__ == "__main__":
    main()
