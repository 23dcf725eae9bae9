"""A whole-run time estimate for the progress display. A sample-count ETA is wrong for RealFill
(each scene's fine-tune costs far more than its samples), so the estimate counts the work: the
training steps and samples still to run (a method's ``work_estimate``), at the step and sample
times measured so far in this run."""
from __future__ import annotations

from pathlib import Path
from typing import Any


class RunEta:
    def __init__(self, plan: list, adapter: Any, work_dir: Path):
        estimate = getattr(adapter, "work_estimate", None)
        self.steps = {w.scene.id: int(estimate(w.scene, work_dir / w.scene.id).get("train_steps", 0))
                      if estimate is not None and w.todo else 0 for w in plan}
        self.samples = {w.scene.id: len(w.todo) + len(w.rescore) for w in plan}
        self.step_seconds: float | None = None
        self.sample_seconds: float | None = None

    def observe(self, scene_id: str, results: list[dict[str, Any]]) -> None:
        """Learn from a chunk of results: the fit's seconds per step, each sample's seconds."""
        for result in results:
            compute = (result.get("info") or {}).get("compute") or {}
            steps, fit = compute.get("train_steps"), compute.get("train_seconds")
            if self.steps.get(scene_id) and steps and fit:
                self.step_seconds = float(fit) / float(steps)
                self.steps[scene_id] = 0
            seconds = (result.get("seconds") or {}).get("generate")
            if seconds is not None:
                self.sample_seconds = float(seconds) if self.sample_seconds is None else (
                    0.8 * self.sample_seconds + 0.2 * float(seconds))
        self.samples[scene_id] = max(0, self.samples.get(scene_id, 0) - len(results))

    def remaining(self) -> float | None:
        steps, samples = sum(self.steps.values()), sum(self.samples.values())
        if (steps and self.step_seconds is None) or (samples and self.sample_seconds is None):
            return None
        return steps * (self.step_seconds or 0.0) + samples * (self.sample_seconds or 0.0)

    def text(self) -> str:
        seconds = self.remaining()
        if seconds is None:
            return ""
        hours, rest = divmod(int(seconds), 3600)
        return f"run ETA {hours}h{rest // 60:02d}m" if hours else f"run ETA {rest // 60}m{rest % 60:02d}s"
