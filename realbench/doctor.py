"""``realbench doctor``: for every metric and method, which weights it needs and whether they are here."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core.errors import RealBenchError
from .methods import METHODS
from .metrics import METRICS
from .selection.correspondences import CorrespondenceScorer
from .weights import SPECS, WeightsMissing, WeightSpec, get_spec, resolve


def requirements() -> list[tuple[str, str, list[str]]]:
    """(kind, name, weights names) for every registered metric and method and the matcher."""
    out = []
    for name in METRICS.names():
        cls = METRICS.get(name)
        out.append(("metric", name, cls().required_weights() if cls.info.needs_weights else []))
    out.append(("select", "loftr", [CorrespondenceScorer.LOFTR_WEIGHTS]))
    for name in METHODS.names():
        cls = METHODS.get(name)
        needs = getattr(cls, "required_weights", None)
        out.append(("method", name, needs(cls.default_config) if (cls.info.needs_weights and needs) else []))
    return out


def _needs(spec) -> str:
    if spec.kind == "url_file":
        return f"{spec.filename} (from {spec.url})"
    what = "; ".join(" or ".join(need) for need in spec.needs)
    if spec.layout == "diffusers":
        what += " and the components it lists"
    return f"a folder with {what}" + (f" (hub repository {spec.repo_id})" if spec.repo_id else "")


def diagnose(overrides: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for kind, name, needs in requirements():
        if not needs:
            rows.append({"kind": kind, "name": name, "weights": "-", "status": "ok", "detail": "weight-free"})
        for weights_name in needs:
            try:
                found = resolve(weights_name, overrides)
                rows.append({"kind": kind, "name": name, "weights": weights_name, "status": "available",
                             "detail": f"{found.source}: {found.path}"})
            except WeightsMissing as exc:
                spec = get_spec(weights_name)
                rows.append({"kind": kind, "name": name, "weights": weights_name, "status": "MISSING",
                             "detail": f"needs {_needs(spec)}", "fetch": spec.fetch_command(), "looked": exc.looked})
            except RealBenchError as exc:
                rows.append({"kind": kind, "name": name, "weights": weights_name, "status": "MISSING",
                             "detail": str(exc)})
    return rows


def fetch_commands(rows: list[dict[str, Any]]) -> list[str]:
    """The commands that fetch everything missing, once each, in the order rows name them."""
    return list(dict.fromkeys(row["fetch"] for row in rows if row.get("fetch")))


def known_weights() -> dict[str, WeightSpec]:
    """Every weight a registered metric, method or the matcher declares (plugins declare theirs
    when imported, so they are all imported first)."""
    requirements()
    return SPECS
