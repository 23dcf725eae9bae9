"""``realbench study serve``: the study as a web application, FastAPI on uvicorn.

Participants: ``GET /`` (the page; Prolific's ``PROLIFIC_PID``/``STUDY_ID``/``SESSION_ID`` or MTurk's
``workerId``/``hitId``/``assignmentId`` in the address identify them), ``POST /api/participants``,
``GET /api/participants/{id}/next``, ``POST /api/votes``, ``GET /img/{id}``. Researcher: ``GET /admin``
and ``GET /api/admin/progress`` with the bearer token printed at start. The API is described at
``/openapi.json`` (no Swagger page: it would load scripts from a CDN).

Every response carries a strict Content-Security-Policy; request bodies above 16 KiB get 413 before
the application sees them; images are looked up by id in the manifest (no path from a request
reaches the file system) and sent without file dates; validation errors never echo the input.
"""
# No `from __future__ import annotations`: FastAPI reads the annotations of the request models
# defined inside `create_app` (pydantic and fastapi are imported only when a server is made).
import hmac
import json
import re
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

from realbench.core.errors import RealBenchError
from realbench.core.paths import inside
from realbench.core.provenance import versions
from realbench.study import pages

from .service import Conflict, Full, Invalid, NotFound, StudyService, external_ids

MAX_BODY = 16 * 1024
IMAGE_FILE = re.compile(r"^images/[0-9a-f]{24}\.(jpg|png)$")
HEADERS = [(b"content-security-policy", pages.CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
           (b"cross-origin-resource-policy", b"same-origin")]


class Guard:
    """ASGI middleware: bodies over ``limit`` bytes are refused with 413 (declared or streamed)
    before the application reads them, and every response gets the security headers."""

    def __init__(self, app: Any, limit: int = MAX_BODY):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _plain(send, 413 if declared.isdigit() else 400, "request body too large")
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await _plain(send, 413, "request body too large")
                return
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        async def secured(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in HEADERS if n not in names]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, replay, secured)


async def _plain(send: Any, status: int, text: str) -> None:
    body = json.dumps({"detail": text}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


def create_app(study_dir: str | Path, token: str | None = None) -> Any:
    """The study's ASGI application (FastAPI); ``token`` guards the researcher's page (random
    if not given; ``app.state.token``)."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    service = StudyService(study_dir)
    for stored in service.manifest.images.values():
        if not IMAGE_FILE.match(stored.file):
            raise RealBenchError(f"the manifest names an unexpected image file '{stored.file}'",
                                 path=str(service.folder))
        inside(service.folder, stored.file, "study image")
    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        service.store.close()

    app = FastAPI(title="realbench user study", version=versions().get("realbench", "0"), docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", lifespan=lifespan,
                  description="Serves a study made by `realbench study make`: participants vote for the best "
                              "completion per item and question; each vote is stored as it is cast.")
    app.state.service = service
    app.state.token = token or secrets.token_urlsafe(24)
    models = _models()
    _participant_routes(app, service, models)
    _admin_routes(app, service, app.state.token)
    _asset_routes(app, service)
    _error_handlers(app)
    app.add_middleware(Guard, limit=MAX_BODY)
    return app


def _models() -> Any:
    """The request and response models (pydantic, imported when a server is made)."""
    from pydantic import BaseModel, ConfigDict, Field

    class Arrival(BaseModel):
        """The crowd platform's ids from the study address, if any (all optional)."""

        model_config = ConfigDict(extra="forbid")
        prolific_pid: str | None = Field(default=None, max_length=128, description="Prolific's PROLIFIC_PID")
        study_id: str | None = Field(default=None, max_length=128, description="Prolific's STUDY_ID")
        session_id: str | None = Field(default=None, max_length=128, description="Prolific's SESSION_ID")
        worker_id: str | None = Field(default=None, max_length=128, description="MTurk's workerId")
        hit_id: str | None = Field(default=None, max_length=128, description="MTurk's hitId")
        assignment_id: str | None = Field(default=None, max_length=128, description="MTurk's assignmentId")

    class Registered(BaseModel):
        participant: str = Field(description="the participant's id: keep it to resume")
        resumed: bool = Field(description="true when these platform ids had already started")

    class Vote(BaseModel):
        model_config = ConfigDict(extra="forbid")
        participant: str = Field(min_length=1, max_length=64)
        position: int = Field(ge=0, le=1_000_000, description="the item's position in the participant's plan")
        question: str = Field(min_length=1, max_length=64, description="the question's id")
        choice: str = Field(min_length=1, max_length=64, description="the image id of the chosen option")
        seconds: float | None = Field(default=None, ge=0, le=86400, description="time spent on the question")

    class Public(BaseModel):
        study: str
        title: str
        welcome: str
        target_text: str
        references_text: str
        submit_text: str

    return type("Models", (), {"Arrival": Arrival, "Registered": Registered, "Vote": Vote, "Public": Public,
                               "Step": _step_model(BaseModel)})


def _step_model(base: Any) -> Any:
    class Option(base):  # type: ignore[misc, valid-type]
        id: str
        src: str

    class Step(base):  # type: ignore[misc, valid-type]
        """The next question (``done`` false), or the end of the study."""

        done: bool
        step: int
        answered: int
        total: int
        position: int | None = None
        question: str | None = None
        prompt: str | None = None
        hint: str | None = None
        target_text: str | None = None
        target: str | None = None
        references_text: str | None = None
        references: list[str] = []
        options: list[Option] = []
        completion_text: str | None = None
        completion_code: str | None = None
        redirect_url: str | None = None

    return Step


def _http(error: Exception) -> Any:
    from fastapi import HTTPException

    status = {NotFound: 404, Invalid: 422, Conflict: 409, Full: 403}[type(error)]
    return HTTPException(status_code=status, detail=str(error))


def _participant_routes(app: Any, service: StudyService, models: Any) -> None:
    from fastapi import Path as PathParameter
    from fastapi import Response
    from fastapi.responses import HTMLResponse, JSONResponse

    errors = {403: {"description": "the study is full"}, 404: {"description": "unknown participant or item"},
              409: {"description": "already answered, or not the current question"},
              413: {"description": "body too large"}, 422: {"description": "invalid"}}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def participant_page() -> str:
        return pages.participant_page(service.config.title)

    @app.get("/api/study", response_model=models.Public, tags=["participant"], summary="The study's texts")
    def study() -> dict:
        return service.public()

    @app.post("/api/participants", response_model=models.Registered, status_code=201, tags=["participant"],
              summary="Start (201) or resume (200) a participant", responses=errors)
    def register(arrival: models.Arrival, response: Response) -> dict:  # type: ignore[name-defined]
        try:
            pid, created = service.register(external_ids(arrival.model_dump()))
        except (Invalid, Full) as exc:
            raise _http(exc) from None
        response.status_code = 201 if created else 200
        return {"participant": pid, "resumed": not created}

    @app.get("/api/participants/{participant}/next", response_model=models.Step, tags=["participant"],
             summary="The participant's next question, or the end", responses=errors)
    def next_step(participant: str = PathParameter(max_length=64)) -> Any:
        try:
            return JSONResponse(service.next_step(participant))  # documented by Step; sent as built
        except (NotFound, Invalid) as exc:
            raise _http(exc) from None

    @app.post("/api/votes", response_model=models.Step, status_code=201, tags=["participant"],
              summary="Cast one vote (stored before the answer); returns the next question", responses=errors)
    def vote(vote: models.Vote) -> Any:  # type: ignore[name-defined]
        try:
            step = service.vote(vote.participant, vote.position, vote.question, vote.choice, vote.seconds)
        except (NotFound, Invalid, Conflict) as exc:
            raise _http(exc) from None
        return JSONResponse(step, status_code=201)


def _admin_routes(app: Any, service: StudyService, token: str) -> None:
    from fastapi import Header, HTTPException
    from fastapi.responses import HTMLResponse

    expected = f"Bearer {token}".encode()

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin_page() -> str:
        return pages.admin_page()

    @app.get("/api/admin/progress", tags=["researcher"], summary="Participants, votes and attention-check failures",
             responses={401: {"description": "missing or wrong token"}})
    def progress(authorization: str | None = Header(default=None)) -> dict:
        if authorization is None or not hmac.compare_digest(authorization.encode("utf-8", "replace"), expected):
            raise HTTPException(status_code=401, detail="missing or wrong token",
                                headers={"WWW-Authenticate": "Bearer"})
        return service.progress()


def _asset_routes(app: Any, service: StudyService) -> None:
    from fastapi import HTTPException, Response

    assets = pages.static_files()

    @app.get("/img/{image_id}", tags=["participant"], summary="One image of the study, by its opaque id",
             response_class=Response, responses={404: {"description": "no such image"}})
    def image(image_id: str) -> Response:
        stored = service.manifest.images.get(image_id)
        try:
            data = (service.folder / stored.file).read_bytes() if stored is not None else None
        except OSError:
            data = None
        if stored is None or data is None:
            raise HTTPException(status_code=404, detail="no such image")
        return Response(data, media_type=stored.media_type, headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in assets:
            raise HTTPException(status_code=404, detail="Not Found")
        return Response(assets[name], media_type=pages.STATIC_TYPES[name], headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict:
        return {"ok": True}


def _error_handlers(app: Any) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Any, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return JSONResponse({"detail": f"invalid request: {where or 'body'}: {first.get('msg', 'invalid')}"},
                            status_code=422)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), or one clear error."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise RealBenchError(f"--port must be a whole number from 0 to 65535, got {port!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise RealBenchError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.set_inheritable(True)
    return sock


def serve_study(study_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
                access_log: bool = False, announce: Any = None) -> None:
    """Run the study's server until interrupted (Ctrl-C, SIGTERM). The researcher's token is
    printed at start (``announce``: where to print; stdout by default)."""
    import uvicorn

    sock = bind(host, port)  # a bad address fails before the study's database is touched
    try:
        app = create_app(study_dir, token)
    except BaseException:
        sock.close()
        raise
    actual = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    out = announce or sys.stdout
    service: StudyService = app.state.service
    manifest = service.manifest
    print(f"study {manifest.study_id} ({manifest.design.kind}): {len(manifest.methods)} method(s), "
          f"{len(manifest.scenes)} scenes; votes go to {service.store.path}", file=out)
    print(f"participants: http://{shown_host}:{actual}/", file=out)
    print(f"researcher:   http://{shown_host}:{actual}/admin#token={app.state.token}", file=out, flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=access_log, timeout_keep_alive=5,
                            server_header=False, timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
