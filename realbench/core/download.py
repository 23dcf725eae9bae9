"""Fetching files and unpacking archives without ever leaving a half-finished result in place.

``fetch_url`` downloads into ``<dst>.partial`` and resumes it with an HTTP range request when
rerun after an interruption; the file appears under its real name only once it is complete.
Archives are unpacked by ``realbench.core.unzip`` (bounded, checked entry by entry).
"""
from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

from .errors import RealBenchError, describe

CHUNK = 1 << 20


def fetch_url(url: str, dst: Path, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dst`` (resuming ``dst.partial`` if present); returns ``dst``."""
    from tqdm.auto import tqdm

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(dst.name + ".partial")
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": "realbench"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            status = response.getcode()
            if start and status != 206:  # the server ignored the range: start over
                start = 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else None
            with open(partial, "ab" if start else "wb") as handle, tqdm(
                    total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress,
                    desc=dst.name, leave=False) as bar:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    handle.write(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as exc:
        raise RealBenchError(f"download failed: HTTP {exc.code} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, (socket.gaierror, ConnectionRefusedError)) and not partial.exists():
            raise RealBenchError(f"no network: cannot reach {url} ({reason})") from None
        raise RealBenchError(f"download failed ({reason}); rerun the same command to resume: {url}") from None
    size = partial.stat().st_size
    if total is not None and size != total:
        raise RealBenchError(f"download incomplete ({size} of {total} bytes); rerun to resume: {url}")
    os.replace(partial, dst)
    return dst


def hub_unreachable(repo_id: str, repo_type: str = "model", timeout: float = 5.0) -> str | None:
    """Why the Hugging Face hub cannot be reached now (offline mode, no network), or None. One quick
    request, so a machine without network fails in a second instead of after the client's retries."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        get_session().head(f"{constants.ENDPOINT}/api/{repo_type}s/{repo_id}", timeout=timeout)
    except Exception as exc:  # httpx connect errors, timeouts, a refused connection
        return describe(exc)
    return None
