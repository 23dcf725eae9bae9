"""``realbench study analyze``: Table 3 from the votes.

Per criterion (question), each method's share of the votes on scene items, with a 95 % interval
from a two-way (crossed) percentile bootstrap: participants and scenes are resampled with
replacement, independently, and the share recomputed over the votes of every resampled
(participant, scene) pair, so the interval accounts for both sources of variation. Attention-check
items never count as votes; a participant who failed more attention questions than the study's
``max_attention_failures`` is excluded entirely. Agreement between participants is Krippendorff's
alpha (nominal; participants as coders, scenes as units; missing votes allowed) from the
``krippendorff`` package. A study against the ground truth adds a two-sided exact binomial test of
the method's share against 1/2 (``scipy.stats.binomtest``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from realbench.core.errors import RealBenchError

from .config import CONFIG_FILE, StudyConfig, load_config
from .manifest import GROUND_TRUTH, Manifest, read_manifest
from .plan import BROKEN, METHOD, SCENE
from .store import DB_FILE, Store

RESAMPLES = 2000
LEVEL = 0.95
PAPER_FILE = Path(__file__).with_name("paper_table3.csv")
VOTES_QUERY = """
SELECT p.slot, p.completed, v.position, v.question, s.kind, s.scene, s.source, s.method
FROM votes v
JOIN shown s ON s.participant = v.participant AND s.position = v.position AND s.image = v.image
JOIN participants p ON p.id = v.participant
ORDER BY p.slot, v.position, v.question
"""


@dataclass
class Analysis:
    identity: dict[str, Any]
    rules: dict[str, str]
    table: pd.DataFrame  # Table 3: a row per criterion and method (and reported rows)
    per_scene: pd.DataFrame
    participants: pd.DataFrame
    agreement: pd.DataFrame
    pairwise: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def analyze_study(study_dir: str | os.PathLike, *, with_paper: bool = False, complete_only: bool = False,
                  resamples: int = RESAMPLES, seed: int | None = None) -> Analysis:
    """Table 3 of a study folder's votes (``seed``: the bootstrap's, default the study's)."""
    folder = Path(study_dir)
    manifest = read_manifest(folder)
    config = load_config(folder / CONFIG_FILE)
    if not (folder / DB_FILE).is_file():
        raise RealBenchError("the study has no votes yet (serve it with `realbench study serve`)", path=str(folder))
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise RealBenchError(f"--resamples must be a whole number of at least 100, got {resamples!r}")
    votes = _votes(Store(folder / DB_FILE), manifest)
    people = _participants(votes, config, complete_only)
    used = votes[(votes["kind"] == SCENE) & votes["slot"].isin(people.loc[~people["excluded"], "slot"])]
    choices = [m.key for m in manifest.methods] + ([GROUND_TRUTH] if manifest.design.kind != "methods" else [])
    questions = _questions(config, votes)
    seed = manifest.design.seed if seed is None else int(seed)
    stamp = _stamp(manifest, seed)
    table = _table(used, manifest, questions, choices, resamples, seed, stamp)
    analysis = Analysis(
        identity=_identity(manifest, config, folder), rules=_rules(config, resamples, seed, complete_only),
        table=table, per_scene=_per_scene(used, manifest, questions, choices, stamp), participants=people,
        agreement=_agreement(used, questions, choices),
        pairwise=_pairwise(used, manifest, questions) if manifest.design.kind != "methods" else None)
    if used.empty:
        analysis.notes.append("no votes on scene items yet (after exclusions)")
    if with_paper:
        analysis.table = pd.concat([analysis.table, paper_rows(manifest.design.kind)], ignore_index=True)
    return analysis


def _votes(store: Store, manifest: Manifest) -> pd.DataFrame:
    columns = ["slot", "completed", "position", "question", "kind", "scene", "source", "method"]
    votes = pd.DataFrame(store.rows(VOTES_QUERY), columns=columns)
    votes["choice"] = [m if s == METHOD else (GROUND_TRUTH if s != BROKEN else BROKEN)
                       for s, m in zip(votes["source"], votes["method"])]
    return votes


def _questions(config: StudyConfig, votes: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(id, criterion, text) per question: the config's, then any that votes hold but the config
    no longer lists."""
    out = [(q.id, q.criterion, f"{q.prompt} {q.hint}".strip()) for q in config.questions]
    known = {q[0] for q in out}
    out += [(q, q, "") for q in sorted(set(votes["question"]) - known)]
    return out


def _participants(votes: pd.DataFrame, config: StudyConfig, complete_only: bool) -> pd.DataFrame:
    """One row per participant who voted: their attention record and whether they are excluded."""
    rows = []
    for slot, mine in votes.groupby("slot", sort=True):
        attention = mine[mine["kind"] != SCENE]
        failures = int((attention["source"] == BROKEN).sum())
        complete = mine["completed"].notna().any()
        reason = ""
        if failures > config.max_attention_failures:
            reason = f"failed {failures} of {len(attention)} attention questions"
        elif complete_only and not complete:
            reason = "did not complete the study"
        rows.append({"slot": int(slot), "votes": int((mine["kind"] == SCENE).sum()),
                     "attention_questions": len(attention), "attention_failures": failures, "completed": bool(complete),
                     "excluded": bool(reason), "reason": reason})
    return pd.DataFrame(rows, columns=["slot", "votes", "attention_questions", "attention_failures", "completed",
                                       "excluded", "reason"])


def _stamp(manifest: Manifest, bootstrap_seed: int) -> dict[str, Any]:
    """The identity every row of every table carries: study, its seed, the bootstrap's, the data."""
    data = "; ".join(f"{d['name']}@{d['checksum']}" for d in manifest.data)
    return {"study": manifest.study_id, "seed": manifest.design.seed, "bootstrap_seed": bootstrap_seed, "data": data}


def _table(used: pd.DataFrame, manifest: Manifest, questions: list, choices: list[str],
           resamples: int, seed: int, stamp: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for index, (qid, criterion, text) in enumerate(questions):
        votes = used[used["question"] == qid]
        low, high = two_way_bootstrap(votes, choices, resamples, np.random.default_rng([seed, index]))
        total = len(votes)
        for c, choice in enumerate(choices):
            count = int((votes["choice"] == choice).sum())
            rows.append({**stamp, "criterion": criterion, "question": qid,
                         "method": choice, "display": _display(manifest, choice), "votes": count, "total": total,
                         "share": count / total if total else float("nan"), "ci_low": low[c], "ci_high": high[c],
                         "participants": int(votes["slot"].nunique()), "scenes": int(votes["scene"].nunique()),
                         "runs": _runs(manifest, choice), "question_text": text, "source": "measured"})
    return pd.DataFrame(rows)


def _display(manifest: Manifest, choice: str) -> str:
    return next((m.display for m in manifest.methods if m.key == choice), choice)


def _runs(manifest: Manifest, choice: str) -> str:
    method = next((m for m in manifest.methods if m.key == choice), None)
    if method is None:
        return ""
    return "; ".join(f"{r['label']} (config {r['config_hash']}, data {r['data']}@{r['data_checksum']})"
                     for r in method.runs)


def two_way_bootstrap(votes: pd.DataFrame, choices: list[str], resamples: int,
                      rng: np.random.Generator, level: float = LEVEL) -> tuple[list[float], list[float]]:
    """Percentile interval of each choice's share: per resample, participants (``rng.integers`` over
    them, B x P) and then scenes (B x S) drawn with replacement; a (participant, scene) pair counts
    as often as both were drawn."""
    nan = [float("nan")] * len(choices)
    if votes.empty:
        return nan, nan
    people = {s: i for i, s in enumerate(sorted(votes["slot"].unique()))}
    scenes = {s: i for i, s in enumerate(sorted(votes["scene"].unique()))}
    counts = np.zeros((len(people), len(scenes), len(choices)))
    index = {c: i for i, c in enumerate(choices)}
    for slot, scene, choice in zip(votes["slot"], votes["scene"], votes["choice"]):
        counts[people[slot], scenes[scene], index[choice]] += 1
    drawn_people = rng.integers(0, len(people), size=(resamples, len(people)))
    drawn_scenes = rng.integers(0, len(scenes), size=(resamples, len(scenes)))
    wp = np.stack([np.bincount(row, minlength=len(people)) for row in drawn_people]).astype(float)
    ws = np.stack([np.bincount(row, minlength=len(scenes)) for row in drawn_scenes]).astype(float)
    numerator = np.einsum("bp,psc,bs->bc", wp, counts, ws)
    denominator = numerator.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = numerator / denominator
    shares = shares[denominator[:, 0] > 0]  # a resample of only empty pairs says nothing
    if not len(shares):
        return nan, nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(shares, [tail, 100 - tail], axis=0)
    return [float(x) for x in low], [float(x) for x in high]


def _per_scene(used: pd.DataFrame, manifest: Manifest, questions: list, choices: list[str],
               stamp: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for qid, criterion, _ in questions:
        for scene in manifest.scenes:
            votes = used[(used["question"] == qid) & (used["scene"] == scene.key)]
            for choice in choices:
                count = int((votes["choice"] == choice).sum())
                rows.append({**stamp, "criterion": criterion, "question": qid, "scene": scene.key, "method": choice,
                             "display": _display(manifest, choice), "votes": count, "total": len(votes),
                             "share": count / len(votes) if len(votes) else float("nan")})
    return pd.DataFrame(rows)


def _agreement(used: pd.DataFrame, questions: list, choices: list[str]) -> pd.DataFrame:
    """Krippendorff's alpha (nominal) per criterion: participants x scenes, missing allowed."""
    import krippendorff

    rows = []
    for qid, criterion, _ in questions:
        votes = used[used["question"] == qid]
        matrix = agreement_matrix(votes, choices)
        alpha, note = float("nan"), ""
        pairable = int((np.isfinite(matrix).sum(axis=0) >= 2).sum()) if matrix.size else 0
        if matrix.shape[0] < 2 or pairable == 0:
            note = "needs two participants voting on a common scene"
        elif len(np.unique(matrix[np.isfinite(matrix)])) < 2:
            note = "every vote went to one method: agreement is total but alpha is undefined"
        else:
            alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
        rows.append({"criterion": criterion, "question": qid, "krippendorff_alpha": alpha,
                     "participants": int(matrix.shape[0]), "scenes": int(matrix.shape[1]) if matrix.size else 0,
                     "votes": len(votes), "note": note})
    return pd.DataFrame(rows)


def agreement_matrix(votes: pd.DataFrame, choices: list[str]) -> np.ndarray:
    """Participants x scenes of the index of the chosen method (NaN: no vote)."""
    if votes.empty:
        return np.zeros((0, 0))
    people = {s: i for i, s in enumerate(sorted(votes["slot"].unique()))}
    scenes = {s: i for i, s in enumerate(sorted(votes["scene"].unique()))}
    matrix = np.full((len(people), len(scenes)), np.nan)
    for slot, scene, choice in zip(votes["slot"], votes["scene"], votes["choice"]):
        matrix[people[slot], scenes[scene]] = choices.index(choice)
    return matrix


def _pairwise(used: pd.DataFrame, manifest: Manifest, questions: list) -> pd.DataFrame:
    """The method's share against the ground truth, with an exact two-sided binomial test of 1/2."""
    from scipy.stats import binomtest

    method = manifest.methods[0]
    rows = []
    for qid, criterion, _ in questions:
        votes = used[used["question"] == qid]
        wins, total = int((votes["choice"] == method.key).sum()), len(votes)
        row = {"criterion": criterion, "question": qid, "method": method.key, "display": method.display,
               "votes": wins, "total": total, "share": wins / total if total else float("nan"),
               "exact_low": float("nan"), "exact_high": float("nan"), "p_value": float("nan")}
        if total:
            test = binomtest(wins, total, 0.5, alternative="two-sided")
            interval = test.proportion_ci(LEVEL, method="exact")
            row.update(exact_low=float(interval.low), exact_high=float(interval.high), p_value=float(test.pvalue))
        rows.append(row)
    return pd.DataFrame(rows)


def paper_rows(kind: str) -> pd.DataFrame:
    """RealFill's reported user-study numbers (``paper_table3.csv``), marked ``reported: <source>``."""
    if not PAPER_FILE.is_file():
        raise RealBenchError("the paper's Table 3 numbers are not installed", path=str(PAPER_FILE))
    paper = pd.read_csv(PAPER_FILE)
    paper = paper[paper["design"] == kind]
    return pd.DataFrame({
        "study": "", "criterion": paper["criterion"], "question": paper["question"],
        "method": paper["method"] + " (paper)", "display": paper["method"] + " (paper)",
        "votes": float("nan"), "total": paper["total"],  # the paper reports shares, not counts
        "share": paper["share"], "ci_low": float("nan"), "ci_high": float("nan"),
        "participants": paper["participants"], "scenes": paper["scenes"], "runs": "", "question_text": "",
        "source": "reported: " + paper["source"]}).reset_index(drop=True)


def _identity(manifest: Manifest, config: StudyConfig, folder: Path) -> dict[str, Any]:
    served = Store(folder / DB_FILE).rows("SELECT DISTINCT config FROM serve_log")
    return {**manifest.identity(), "study_folder": str(folder),
            "questions": [{"id": q.id, "criterion": q.criterion, "prompt": q.prompt, "hint": q.hint,
                           "references": q.references} for q in config.questions],
            "configs_served": len(served), "attention_reference": manifest.attention_reference}


def _rules(config: StudyConfig, resamples: int, seed: int, complete_only: bool) -> dict[str, str]:
    return {
        "share": "votes for the method / votes on scene items (attention checks never count)",
        "interval": f"{LEVEL:.0%} two-way percentile bootstrap: participants and scenes resampled independently with "
                    f"replacement, {resamples} resamples, seed {seed}",
        "exclusion": f"participants failing more than {config.max_attention_failures} attention question(s) are "
                     "excluded (an attention check shows the ground truth, or a real completion where the data has "
                     "none, beside visibly broken fills; choosing a broken fill fails it)"
                     + ("; participants who did not complete the study are excluded" if complete_only else ""),
        "agreement": "Krippendorff's alpha, nominal, participants as coders and scenes as units (krippendorff)",
        "pairwise": "two-sided exact binomial test of the method's share against 1/2 (scipy.stats.binomtest), "
                    "Clopper-Pearson interval",
    }
