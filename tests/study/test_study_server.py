"""``study serve``: participants, votes and the researcher's page through the real ASGI app, and
hostile requests, each answered with its status code, storing nothing and leaking nothing."""
from __future__ import annotations

import json
import re
import sqlite3

import pytest
import yaml
from fastapi.testclient import TestClient
from study_helpers import (
    HOSTILE_LABEL,
    HOSTILE_SCENE,
    RUN_FOLDERS,
    db_votes,
    live_server,
    random_choice,
    raw_request,
    walk,
)

from realbench.core.errors import RealBenchError
from realbench.study import create_app, participant_plan
from realbench.study.manifest import read_manifest

pytest_plugins = ["study_fixtures"]
SECRETS = ("telea", "Telea", HOSTILE_LABEL, "homography", "warp", "oracle", "rocket-style", "astronaut", HOSTILE_SCENE,
           "Qualitative", "sample/", "attention_reference", *RUN_FOLDERS)


def _client(study, token: str = "researcher-token") -> TestClient:
    return TestClient(create_app(study, token))


def _register(client: TestClient, **ids) -> str:
    reply = client.post("/api/participants", json=ids)
    assert reply.status_code in (200, 201), reply.text
    return reply.json()["participant"]


def test_a_participant_votes_resumes_after_a_reload_and_completes(study):
    client = _client(study)
    reply = client.post("/api/participants", json={})
    assert reply.status_code == 201 and reply.json()["resumed"] is False
    pid = reply.json()["participant"]
    first = client.get(f"/api/participants/{pid}/next").json()
    assert first["total"] == 20 and first["step"] == 1 and first["question"] == "realism"  # (8 + 2) items x 2
    assert first["references"] == [] and len(first["options"]) == 2
    cast = []
    step = first
    for _ in range(7):
        reply = client.post("/api/votes", json={"participant": pid, "position": step["position"],
                                                "question": step["question"], "choice": step["options"][0]["id"]})
        assert reply.status_code == 201
        cast.append((pid, step["position"], step["question"], step["options"][0]["id"]))
        step = reply.json()
    assert step["question"] == "faithfulness" and step["references"]  # the second question shows the photos
    client = _client(study)  # a reload, even with a restarted server: the same place
    resumed = client.get(f"/api/participants/{pid}/next").json()
    assert (resumed["position"], resumed["question"], resumed["answered"]) == (step["position"], step["question"], 7)
    cast += [(pid, *c) for c in walk(client, pid, random_choice(1))]
    assert db_votes(study) == cast and len(cast) == 20
    done = client.get(f"/api/participants/{pid}/next").json()
    config = yaml.safe_load((study / "study.yaml").read_text())
    assert done["done"] and done["completion_code"] == config["completion_code"] and done["answered"] == 20
    again = client.post("/api/votes", json={"participant": pid, "position": 0, "question": "realism",
                                            "choice": first["options"][1]["id"]})
    assert again.status_code == 409 and len(db_votes(study)) == 20


def test_platform_ids_start_once_and_resume(study):
    client = _client(study)
    prolific = {"prolific_pid": "5f1e2d3c4b5a69788796a5b4", "study_id": "S1", "session_id": "X9"}
    first = client.post("/api/participants", json=prolific)
    second = client.post("/api/participants", json=prolific)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["participant"] == second.json()["participant"] and second.json()["resumed"]
    mturk = _register(client, worker_id="A1B2C3D4E5", assignment_id="3XYZ", hit_id="H1")
    assert mturk != first.json()["participant"]
    for bad in ({"prolific_pid": "<script>"}, {"worker_id": "a" * 200}, {"unknown": "x"}, {"worker_id": 5}):
        assert client.post("/api/participants", json=bad).status_code == 422
    with sqlite3.connect(study / "votes.sqlite") as db:
        rows = db.execute("SELECT platform, external_id, platform_study, platform_session FROM participants "
                          "ORDER BY slot").fetchall()
    assert rows == [("prolific", prolific["prolific_pid"], "S1", "X9"), ("mturk", "A1B2C3D4E5", "H1", "3XYZ")]


def test_a_full_study_turns_new_arrivals_away_but_lets_participants_resume(study):
    config = yaml.safe_load((study / "study.yaml").read_text())
    (study / "study.yaml").write_text(yaml.safe_dump({**config, "max_participants": 2}))
    client = _client(study)
    first = _register(client, prolific_pid="p1")
    _register(client)
    full = client.post("/api/participants", json={"prolific_pid": "p3"})
    assert full.status_code == 403 and "full" in full.json()["detail"]
    assert _register(client, prolific_pid="p1") == first  # a known participant still gets back in
    with sqlite3.connect(study / "votes.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM participants").fetchone()[0] == 2


def test_each_participant_gets_the_recorded_plan_of_their_slot(study):
    client = _client(study)
    manifest = read_manifest(study)
    orders = []
    for slot in range(3):
        pid = _register(client)
        with sqlite3.connect(study / "votes.sqlite") as db:
            assert db.execute("SELECT slot FROM participants WHERE id = ?", (pid,)).fetchone()[0] == slot
            rows = db.execute("SELECT position, scene, image FROM shown WHERE participant = ? ORDER BY position, "
                              "option", (pid,)).fetchall()
        plan = participant_plan(manifest, slot)
        assert rows == [(i.position, i.scene, o.image) for i in plan for o in i.options]
        served = walk(client, pid, lambda step: step["options"][-1]["id"])
        orders.append([(p, q, c) for p, q, c in served])
    assert orders[0] != orders[1] != orders[2]


def test_hostile_votes_get_their_status_and_store_nothing(study, made_study):
    client = _client(study)
    pid = _register(client)
    other = _register(client)
    step = client.get(f"/api/participants/{pid}/next").json()
    later = client.get(f"/api/participants/{other}/next").json()
    good = {"participant": pid, "position": step["position"], "question": step["question"],
            "choice": step["options"][0]["id"]}
    foreign = [o for o in later["options"] if o["id"] not in {x["id"] for x in step["options"]}]
    plan = participant_plan(read_manifest(study), 0)
    cases = [
        ({**good, "participant": "A" * 22}, 404),  # forged id
        ({k: v for k, v in good.items() if k != "participant"}, 422),  # missing id
        ({**good, "position": 999}, 404),  # unknown item
        ({**good, "question": "beauty"}, 422),  # unknown question
        ({**good, "choice": "0" * 24}, 422),  # unknown option
        ({**good, "position": plan[1].position, "choice": plan[1].options[0].image}, 409),  # not the current one
        ({**good, "position": "x"}, 422),
        ({**good, "admin": True}, 422),
        ({**good, "seconds": -1}, 422),
    ]
    if foreign:
        cases.append(({**good, "choice": foreign[0]["id"]}, 422))  # another item's option
    for body, status in cases:
        reply = client.post("/api/votes", json=body)
        assert reply.status_code == status, (body, reply.text)
        assert not any(word in reply.text for word in SECRETS)
    assert client.post("/api/votes", content=b"{not json", headers={"content-type": "application/json"}
                       ).status_code == 422
    big = json.dumps({**good, "seconds": 1, "pad": "x" * 20000})
    assert client.post("/api/votes", content=big, headers={"content-type": "application/json"}).status_code == 413
    assert client.get("/api/participants/" + "B" * 22 + "/next").status_code == 404
    assert db_votes(study) == []
    assert client.post("/api/votes", json=good).status_code == 201
    assert client.post("/api/votes", json=good).status_code == 409  # the same vote twice
    assert client.post("/api/votes", json={**good, "choice": step["options"][1]["id"]}).status_code == 409
    assert db_votes(study) == [(pid, good["position"], good["question"], good["choice"])]


def test_paths_that_try_to_leave_the_image_routes_find_nothing(study):
    manifest_text = (study / "manifest.json").read_text()
    some_image = next(iter(read_manifest(study).images))
    with live_server(study) as url:
        for path in ("/img/../manifest.json", "/img/..%2fmanifest.json", "/img/%2e%2e%2fmanifest.json",
                     "/img/..%2F..%2Fmanifest.json", f"/img/{some_image}/../../manifest.json", "/static/../server.py",
                     "/static/..%2f..%2fmanifest.json", "/static/%2e%2e/config.py", "/manifest.json", "/votes.sqlite",
                     "/study.yaml", "/images/" + some_image + ".jpg", "/img/images%2f" + some_image + ".jpg",
                     "//etc/passwd", "/img/%00"):
            status, reply = raw_request(url, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            assert status in (400, 404), (path, status)
            assert b"study_id" not in reply and manifest_text[:40].encode() not in reply and b"SQLite" not in reply
        chunked = (b"POST /api/votes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   + b"".join(b"1000\r\n" + b"x" * 4096 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n")
        assert raw_request(url, chunked)[0] == 413
        declared = (b"POST /api/participants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 99999999\r\nConnection: close\r\n\r\n{}")
        assert raw_request(url, declared)[0] == 413
        status, reply = raw_request(url, f"GET /img/{some_image} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                    .encode())
        assert status == 200 and b"last-modified" not in reply.lower().split(b"\r\n\r\n")[0]
    with sqlite3.connect(study / "votes.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM participants").fetchone()[0] == 0


def test_nothing_served_names_a_method_a_run_or_a_scene(study):
    client = _client(study)
    pid = _register(client)
    served = [client.get(path).text for path in ("/", "/admin", "/static/study.js", "/static/admin.js",
                                                 "/static/study.css", "/api/study", "/openapi.json")]
    step = client.get(f"/api/participants/{pid}/next").json()
    images = set()
    for _ in range(100):
        served.append(json.dumps(step))
        if step["done"]:
            break
        images.update([step["target"], *step["references"], *(o["src"] for o in step["options"])])
        step = client.post("/api/votes", json={"participant": pid, "position": step["position"],
                                               "question": step["question"], "choice": step["options"][0]["id"]}).json()
    served.append(json.dumps(client.get("/api/admin/progress", headers={"Authorization": "Bearer researcher-token"})
                             .json()))
    for text in served:
        for word in SECRETS:
            assert word not in text, word
    for src in images:
        head = client.get(src).content[:2048]
        for word in SECRETS:
            assert word.encode() not in head


def test_texts_are_served_as_text_under_a_strict_policy(study):
    config = yaml.safe_load((study / "study.yaml").read_text())
    config["title"] = "</title><script>alert(1)</script>"
    config["questions"][0]["prompt"] = "<img src=x onerror=alert(3)>"
    (study / "study.yaml").write_text(yaml.safe_dump(config))
    client = _client(study)
    page = client.get("/")
    assert "<script>alert(1)" not in page.text and "&lt;/title&gt;&lt;script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    pid = _register(client)
    step = client.get(f"/api/participants/{pid}/next")
    assert step.headers["content-type"].startswith("application/json")
    assert step.json()["prompt"] == "<img src=x onerror=alert(3)>"
    assert "content-security-policy" in step.headers
    for script in ("study.js", "admin.js"):
        code = client.get(f"/static/{script}").text
        assert not any(sink in code for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                                                 "eval("))


def test_the_researcher_page_needs_the_token(study):
    client = _client(study, token="s3cret-token")
    assert "s3cret" not in client.get("/admin").text
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"},
                    {"Authorization": "Bearer s3cret-token "}, {"Authorization": "Bearer \u00e9"}):
        reply = client.get("/api/admin/progress", headers={k: v.encode() for k, v in headers.items()})
        assert reply.status_code == 401 and "participants" not in reply.text
    pid = _register(client)
    walk(client, pid, lambda step: step["options"][0]["id"])
    progress = client.get("/api/admin/progress", headers={"Authorization": "Bearer s3cret-token"}).json()
    assert (progress["participants"], progress["completed"], progress["votes"]) == (1, 1, 20)
    failures = progress["rows"][0]["attention_failures"]
    with sqlite3.connect(study / "votes.sqlite") as db:  # independent count: votes for a broken fill
        expected = db.execute("SELECT COUNT(*) FROM votes v JOIN shown s USING (participant, position, image) "
                              "WHERE s.source = 'broken'").fetchone()[0]
    assert failures == expected and progress["failing_attention"] == int(expected > 0)


def test_the_api_is_documented_and_no_page_loads_anything_from_elsewhere(study):
    client = _client(study)
    schema = client.get("/openapi.json").json()
    assert {"/api/participants", "/api/votes", "/api/participants/{participant}/next", "/img/{image_id}",
            "/api/admin/progress", "/api/study"} <= set(schema["paths"])
    assert "Vote" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN
    for path in ("/", "/admin", "/static/study.js", "/static/admin.js", "/static/study.css"):
        text = client.get(path).text
        assert not re.search(r"https?://\w|(src|href)=[\"']//|@import|url\(", text), path  # no address elsewhere


def test_a_broken_config_or_a_foreign_database_is_one_error(study, versus_study, tmp_path):
    import shutil

    (study / "study.yaml").write_text("title: [unclosed\n")
    with pytest.raises(RealBenchError, match="cannot parse YAML"):
        create_app(study)
    (study / "study.yaml").write_text("title: ok\ncolour: red\n")
    with pytest.raises(RealBenchError, match="unknown setting.*colour"):
        create_app(study)
    (study / "study.yaml").write_text("questions: [{id: Bad Id, prompt: x}]\n")
    with pytest.raises(RealBenchError, match="question 1: id must be"):
        create_app(study)
    (study / "study.yaml").write_text("title: ok\n")
    create_app(study).state.service.store.close()  # closed: the database is one file again
    other = shutil.copytree(versus_study, tmp_path / "other")
    shutil.copy(study / "votes.sqlite", other / "votes.sqlite")
    with pytest.raises(RealBenchError, match="belongs to another study"):
        create_app(other)
    with pytest.raises(RealBenchError, match="not a study folder"):
        create_app(tmp_path)
