"""A simulated internet for tests: every fetch realbench (or a package it drives) makes is
answered from local replicas, and anything else fails the test.

Three doors are covered, the only ones the real download journey uses:

- ``huggingface_hub`` (and through it diffusers, transformers, open_clip): its shared
  ``httpx2`` client gets a transport that implements the parts of the Hub API the client calls
  (repo info, tree listing, ``resolve`` with HEAD, GET and byte ranges);
- ``urllib`` (torch.hub file downloads and GitHub repository zips, the dreamsim release zip,
  realbench's own resumable downloader): an installed opener serves registered URLs;
- raw sockets: any connection to a non-loopback address is refused and recorded.

Replicas are folders in the real layouts; a Hub repository's commit id is derived from its
content, so a changed replica is a new commit, as on the Hub. A transfer can be cut after N
bytes (``cut``) to test interrupted and resumed downloads.
"""
from __future__ import annotations

import email.message
import hashlib
import io
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
import urllib.response
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

HF = "https://huggingface.co"


class NetworkBlocked(OSError):
    """Raised for any attempt to reach a host the simulated internet does not serve."""


class TransferCut(BaseException):
    """A download killed half-way (BaseException: no client retries it, like a killed process)."""


@dataclass
class HubRepo:
    repo_id: str
    folder: Path
    lfs_suffixes: tuple[str, ...] = (".safetensors", ".bin", ".ckpt", ".pth", ".pt", ".msgpack", ".h5", ".onnx")
    entries: dict[str, dict] = field(default_factory=dict)
    sha: str = ""

    def __post_init__(self) -> None:
        digest = hashlib.sha1()
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            rel = path.relative_to(self.folder).as_posix()
            data = path.read_bytes()
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            entry = {"type": "file", "oid": blob, "size": len(data), "path": rel}
            if rel.endswith(self.lfs_suffixes):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            self.entries[rel] = entry
            digest.update(rel.encode() + b"\0" + blob.encode())
        self.sha = digest.hexdigest()

    def etag(self, rel: str) -> str:
        entry = self.entries[rel]
        return entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]

    def tree(self, prefix: str = "") -> list[dict]:
        out, folders = [], set()
        for rel, entry in sorted(self.entries.items()):
            if prefix and not rel.startswith(prefix.rstrip("/") + "/"):
                continue
            parts = rel.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folders.add("/".join(parts[:depth]))
            out.append(entry)
        out += [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
                for d in sorted(folders) if not prefix or d.startswith(prefix.rstrip("/") + "/")]
        return out


class SimulatedInternet:
    """Registered replicas, a request log and the refusals (a test asserts there were none)."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self._pending: dict[str, Callable[[], Path]] = {}
        self.urls: dict[str, Path | bytes] = {}
        self.log: list[tuple[str, str]] = []
        self.ranges: list[tuple[str, str]] = []  # (url, Range header) of every ranged request
        self.refused: list[str] = []
        self.cuts: dict[str, int] = {}

    # ------------------------------------------------------------------ registration
    def add_repo(self, repo_id: str, folder: Path | Callable[[], Path]) -> None:
        """``folder`` may be a function that builds it: a replica is made only once asked for."""
        if callable(folder):
            self._pending[repo_id] = folder
        else:
            self.repos[repo_id] = HubRepo(repo_id, Path(folder))

    def _repo_ids(self) -> list[str]:
        return sorted({*self.repos, *self._pending}, key=lambda repo_id: -len(repo_id))

    def _repo(self, repo_id: str) -> HubRepo:
        if repo_id not in self.repos:
            self.repos[repo_id] = HubRepo(repo_id, Path(self._pending.pop(repo_id)()))
        return self.repos[repo_id]

    def add_url(self, url: str, content: Path | bytes) -> None:
        self.urls[url] = content

    def cut(self, url_part: str, after_bytes: int) -> None:
        """The next transfer whose URL contains ``url_part`` dies after ``after_bytes`` bytes."""
        self.cuts[url_part] = after_bytes

    def requests_for(self, text: str) -> list[tuple[str, str]]:
        return [entry for entry in self.log if text in entry[1]]

    # ------------------------------------------------------------------ shared helpers
    def _refuse(self, what: str) -> NetworkBlocked:
        self.refused.append(what)
        return NetworkBlocked(f"simulated internet: nothing serves {what}")

    def _cut_for(self, url: str) -> int | None:
        for part, after in list(self.cuts.items()):
            if part in url:
                del self.cuts[part]
                return after
        return None

    @staticmethod
    def _range(header: str | None, size: int) -> tuple[int, int] | None:
        if not header or not header.startswith("bytes="):
            return None
        start, _, end = header[6:].partition("-")
        return int(start), (int(end) if end else size - 1)

    # ------------------------------------------------------------------ the Hub
    def _hub(self, method: str, url: str, headers: dict[str, str]):
        """(status, headers, body bytes or Path, byte range) for a Hub URL."""
        parsed = urllib.parse.urlparse(url)
        path = urllib.parse.unquote(parsed.path)
        query = urllib.parse.parse_qs(parsed.query)
        if path == "/api/agent-harnesses":  # huggingface_hub's user-agent registry, fetched once a day
            body = json.dumps({"standardEnvVars": [], "harnesses": {}}).encode()
            return 200, {"Content-Type": "application/json"}, body, None
        for repo_id in self._repo_ids():
            api, resolve = f"/api/models/{repo_id}/", f"/{repo_id}/resolve/"
            if not (path.startswith((api, resolve)) or path == api.rstrip("/")):
                continue
            repo = self._repo(repo_id)
            if path.startswith(api) or path == api.rstrip("/"):
                rest = path[len(api):]
                if rest.startswith("revision/") or rest == "":
                    body = {"_id": repo.sha[:24], "id": repo_id, "modelId": repo_id, "sha": repo.sha,
                            "private": False, "disabled": False, "gated": False, "downloads": 0, "likes": 0,
                            "tags": [], "lastModified": "2024-01-01T00:00:00.000Z",
                            "siblings": [{"rfilename": rel} for rel in sorted(repo.entries)]}
                    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode(), None
                if rest.startswith("tree/"):
                    revision, _, prefix = rest[len("tree/"):].partition("/")
                    if revision not in ("main", repo.sha):
                        return 404, {"X-Error-Code": "RevisionNotFound"}, b"{}", None
                    entries = repo.tree(prefix)
                    if query.get("recursive", ["false"])[0].lower() not in ("true", "1"):
                        depth = prefix.count("/") + (1 if prefix else 0)
                        entries = [e for e in entries if e["path"].count("/") == depth]
                    return 200, {"Content-Type": "application/json"}, json.dumps(entries).encode(), None
                return 404, {"X-Error-Code": "EntryNotFound"}, b"{}", None
            if path.startswith(resolve):
                revision, _, rel = path[len(resolve):].partition("/")
                if revision not in ("main", repo.sha):
                    return 404, {"X-Error-Code": "RevisionNotFound"}, b"{}", None
                if rel not in repo.entries:
                    return 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": repo.sha}, b"{}", None
                size = repo.entries[rel]["size"]
                out = {"X-Repo-Commit": repo.sha, "ETag": f'"{repo.etag(rel)}"', "Accept-Ranges": "bytes",
                       "Content-Length": str(size)}
                if "lfs" in repo.entries[rel]:
                    out.update({"X-Linked-Etag": f'"{repo.etag(rel)}"', "X-Linked-Size": str(size)})
                return 200, out, repo.folder / rel, self._range(headers.get("range"), size)
        if path.startswith("/api/models/") or "/resolve/" in path:
            return 404, {"X-Error-Code": "RepoNotFound"}, b'{"error": "Repository not found"}', None
        return None

    def _httpx_handler(self, request):
        url = str(request.url)
        self.log.append((request.method, url))
        if request.headers.get("range"):
            self.ranges.append((url, request.headers["range"]))
        if not url.startswith(HF):
            raise self._refuse(url)
        answer = self._hub(request.method, url, {k.lower(): v for k, v in request.headers.items()})
        if answer is None:
            raise self._refuse(url)
        status, headers, body, byte_range = answer
        if request.method == "HEAD":
            return httpx2.Response(status, headers=headers, request=request)
        data = body.read_bytes() if isinstance(body, Path) else body
        if byte_range is not None:
            start, end = byte_range
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{len(data)}",
                       "Content-Length": str(end - start + 1)}
            data, status = data[start:end + 1], 206
        after = self._cut_for(url)
        stream = _CutStream(data, after) if after is not None else None
        if stream is not None:
            return httpx2.Response(status, headers=headers, stream=stream, request=request)
        return httpx2.Response(status, headers=headers, content=data, request=request)

    # ------------------------------------------------------------------ plain URLs (urllib)
    def _urllib_open(self, req: urllib.request.Request):
        url = req.full_url
        self.log.append((req.get_method(), url))
        headers = {k.lower(): v for k, v in req.header_items()}
        if headers.get("range"):
            self.ranges.append((url, headers["range"]))
        if url in self.urls:
            content = self.urls[url]
            size = content.stat().st_size if isinstance(content, Path) else len(content)
            status, out, body = 200, {"Content-Length": str(size), "Accept-Ranges": "bytes"}, content
            byte_range = self._range(headers.get("range"), size)
        else:
            answer = self._hub(req.get_method(), url, headers) if url.startswith(HF) else None
            if answer is None:
                raise self._refuse(url)
            status, out, body, byte_range = answer
            if status >= 400:
                raise urllib.error.HTTPError(url, status, "Not Found", _message(out), io.BytesIO(b""))
            size = int(out.get("Content-Length", 0))
        handle = body.open("rb") if isinstance(body, Path) else io.BytesIO(body)
        length = size
        if byte_range is not None:
            start, end = byte_range
            handle.seek(start)
            length = end - start + 1
            out = {**out, "Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(length)}
            status = 206
        after = self._cut_for(url)
        reader = _LimitedReader(handle, length, after)
        response = urllib.response.addinfourl(reader, _message(out), url, status)
        response.msg = "Partial Content" if status == 206 else "OK"
        return response

    # ------------------------------------------------------------------ installing
    def install(self, monkeypatch) -> SimulatedInternet:
        import huggingface_hub
        from huggingface_hub.utils import _http

        internet = self

        def client_factory():
            return httpx2.Client(transport=httpx2.MockTransport(internet._httpx_handler),
                                 event_hooks={"request": [_http.hf_request_event_hook]}, follow_redirects=True,
                                 timeout=None)

        huggingface_hub.set_client_factory(client_factory)
        monkeypatch.setattr(_http, "_GLOBAL_CLIENT", None)

        class Handler(urllib.request.BaseHandler):
            handler_order = 100  # before urllib's own HTTP(S) handlers

            def http_open(self, req):
                return internet._urllib_open(req)

            https_open = http_open

        monkeypatch.setattr(urllib.request, "_opener", urllib.request.build_opener(Handler))
        return self

    @staticmethod
    def uninstall() -> None:
        import huggingface_hub
        from huggingface_hub.utils import _http

        huggingface_hub.set_client_factory(_http.default_client_factory)


def _message(headers: dict[str, str]) -> email.message.Message:
    message = email.message.Message()
    for key, value in headers.items():
        message[key] = value
    return message


class _LimitedReader(io.RawIOBase):
    """A response body of ``length`` bytes that dies with ``TransferCut`` after ``after`` bytes."""

    def __init__(self, handle, length: int, after: int | None):
        self.handle, self.left, self.after = handle, length, after

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        if self.after is not None:
            if self.after <= 0:
                raise TransferCut("simulated connection loss")
            n = min(n, self.after)
            self.after -= n
        data = self.handle.read(n)
        self.left -= len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.handle.close()
        super().close()


class _CutStream(httpx2.SyncByteStream):
    """An httpx body stream that dies after ``after`` bytes."""

    def __init__(self, data: bytes, after: int):
        self.data, self.after = data, after

    def __iter__(self):
        sent = 0
        while sent < len(self.data):
            if sent >= self.after:
                raise TransferCut("simulated connection loss")
            chunk = self.data[sent:min(sent + 4096, self.after, len(self.data))]
            sent += len(chunk)
            yield chunk

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------- the socket guard

_LOCAL_PREFIXES = ("127.", "::1", "localhost", "0.0.0.0")


def _is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # a unix socket path
        return True
    host = str(address[0]) if address else ""
    return host.startswith(_LOCAL_PREFIXES) or host == ""


def guard_sockets(monkeypatch, record: list[str]) -> None:
    """Refuse (and record) every connection to a non-loopback address."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if not _is_local(address):
            record.append(f"socket {address}")
            raise NetworkBlocked(f"tests never reach the network (tried {address})")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _is_local(address):
            record.append(f"socket {address}")
            raise NetworkBlocked(f"tests never reach the network (tried {address})")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_local((host,)) and not str(host).replace(".", "").isdigit():
            record.append(f"dns {host}")
            raise NetworkBlocked(f"tests never reach the network (looked up {host})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
