"""The OpenAPI document tells clients every answer: each JSON operation under /api/v1 has a typed 2xx
schema and declares the errors it can give, all in the one error shape; files, text and CSV say their
media types. And real answers conform to what the document says (validated against the document's own
schemas, and round-tripped through the read models)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator  # a dependency of prefect's
from pydantic import BaseModel
from sqlmodel import select

from services.api import create_app
from services.demo import Driver, application, commitments
from services.queries.cases import CaseActionPublic, CasePublic
from services.queries.queues import TaskPage
from services.queries.registry import CertificatePublic, IssuanceList, MethodologyDetail, ProjectList
from services.queries.schemas import plain
from services.store.engine import Database
from services.store.tables import Case, MethodologyVersion
from services.transparency import log
from tests.e2e.http import act, h
from tests.e2e.test_issuance_http import report, upload_sheet
from tests.e2e.test_transparency_http import issued_and_retired

pytestmark = pytest.mark.e2e

METHODS = ("get", "post", "put", "patch", "delete")
ERROR = "#/components/schemas/ErrorPublic"
NAMED = ("number", "receipt", "seq")  # path parameters that name a thing, besides `*_id`


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(None).openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() if path.startswith("/api/v1")
            for method, op in ops.items() if method in METHODS]


def _typed(schema: dict[str, Any]) -> bool:
    """A `$ref`, or a schema that says what it holds (not `{}`, not an object of anything)."""
    if "$ref" in schema:
        return True
    if "anyOf" in schema:
        return all(_typed(s) for s in schema["anyOf"])
    if schema.get("type") == "object":
        return bool(schema.get("properties"))
    return "type" in schema


def expected_errors(path: str, op: dict[str, Any]) -> set[int]:
    """What any operation of this shape can answer besides success."""
    params = op.get("parameters", [])
    headers = {p["name"].lower() for p in params if p["in"] == "header"}
    expected = set()
    if params or "requestBody" in op:
        expected.add(422)  # a parameter or a body that fails its form
    if "requestBody" in op:
        expected.add(413)  # a body larger than the route accepts
    if "authorization" in headers:
        expected.add(401)
    if path.startswith(("/api/v1/admin", "/api/v1/audit")):
        expected.add(403)  # signed in, but no administrator of this
    if headers & {"idempotency-key", "if-match"}:
        expected.add(409)  # the same key still running; a stale version
    if any(p["in"] == "path" and (p["name"].endswith("_id") or p["name"] in NAMED) for p in params):
        expected.add(404)
    return expected


def test_every_json_operation_has_a_typed_success_schema(spec: dict[str, Any]) -> None:
    untyped = []
    for method, path, op in operations(spec):
        success = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert success, f"{method} {path}"
        for status, response in success.items():
            content = response.get("content", {})
            assert content, f"{method} {path} {status}: no content declared"
            for media, body in content.items():
                if media == "application/json" and not _typed(body.get("schema", {})):
                    untyped.append(f"{method} {path} {status}")
                elif media != "application/json":
                    assert body.get("schema", {}).get("type") == "string", f"{method} {path} {media}"
    assert untyped == []


def test_the_models_say_what_every_field_holds(spec: dict[str, Any]) -> None:
    """Every property of every schema a response refers to is typed (a free-form object says so)."""
    loose = []
    for name, schema in spec["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if not ("$ref" in prop or "type" in prop or "anyOf" in prop or "const" in prop or "enum" in prop):
                loose.append(f"{name}.{field}")
    assert loose == []


def test_every_operation_declares_the_errors_it_can_give_in_the_one_error_shape(spec: dict[str, Any]) -> None:
    missing, misshapen = [], []
    for method, path, op in operations(spec):
        declared = {int(s) for s in op["responses"] if s[0] in "45"}
        if expected_errors(path, op) - declared:
            missing.append(f"{method} {path}: {sorted(expected_errors(path, op) - declared)}")
        for status in declared:
            schema = op["responses"][str(status)].get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != ERROR:
                misshapen.append(f"{method} {path} {status}")
    assert missing == [] and misshapen == []
    # FastAPI's own 422 shape ({"detail": [...]}) is not what the API answers: it must appear nowhere
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["ErrorBody"]
    assert {"status", "code", "reasons"} <= set(error["required"])


def test_files_text_and_csv_declare_their_media_types(spec: dict[str, Any]) -> None:
    def media(method: str, path: str) -> set[str]:
        return set(spec["paths"][path][method]["responses"]["200"]["content"])

    assert "application/pdf" in media("get", "/api/v1/public/certificates/{number}")
    assert {"application/json", "text/csv"} <= media("get", "/api/v1/public/issuances")
    assert {"application/json", "text/csv"} <= media("get", "/api/v1/public/retirements")
    assert media("get", "/api/v1/public/log/checkpoint") == {"text/plain"}
    assert media("get", "/api/v1/procedures/{name}/diagram") == {"text/plain"}
    assert "application/pdf" in media("get", "/api/v1/documents/{document_id}")
    upload = spec["paths"]["/api/v1/cases/{case_id}/documents"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["file"]


# --- real answers conform ------------------------------------------------------------------------------


def conforms(spec: dict[str, Any], method: str, path: str, body: Any, model: type[BaseModel] | None = None,
             status: str = "200") -> None:
    """The answer validates against the operation's documented schema and, through its read model, comes
    back as the same JSON (nothing dropped, nothing added, no value reworded)."""
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    errors = list(Draft202012Validator({**schema, "components": spec["components"]}).iter_errors(body))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    if model is not None:
        assert plain(model.model_validate(body)) == body


def _to_expert_review(client: TestClient) -> int:
    """A Jiaxing issuance case: its monitoring report commissioned the verifier; now before the panel."""
    app = {"new_project": application("JX", title="嘉兴屋顶光伏"), "vintage": 2025, **commitments("JX")}
    r = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "JX", "application": app},
                    headers=h("jx_applicant"))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    upload_sheet(client, "JX", cid)
    act(client, "jx_applicant", cid, "submit_monitoring_report", report(client, "JX"))
    act(client, "jx_verifier", cid, "verify", {"verified_tco2e": "1100.25", "opinion": "数据真实可追溯"})
    act(client, "jx_case_officer", cid, "accept")
    case = act(client, "jx_review_centre", cid, "pass_review", {"opinion": "审核通过"})
    assert case["state"]["name"] == "expert_review"
    return cid


def _listed(client: TestClient, user: str) -> set[int]:
    seen: set[int] = set()
    before = None
    while True:
        page = client.get("/api/v1/cases", params={"limit": 100, **({"before": before} if before else {})},
                          headers=h(user)).json()
        seen |= {c["id"] for c in page["items"]}
        if not (before := page["next_before"]):
            return seen


def test_verifiers_and_seated_experts_see_the_same_cases_in_the_list_as_by_id(
        client: TestClient, db: Database, driver: Driver, spec: dict[str, Any]) -> None:
    cid = _to_expert_review(client)
    experts = [driver.user_id(f"jx_expert{n}") for n in (1, 2, 3)]
    act(client, "jx_case_officer", cid, "compose_panel", {"members": experts, "chair": experts[0]})
    declined = act(client, "jx_expert3", cid, "decline_panel", {"reason": "与申请单位存在业务往来", "conflict": True})
    conforms(spec, "post", "/api/v1/cases/{case_id}/actions/{trigger}", declined, CaseActionPublic)
    assert declined["result"]["decline"]["declined"] == experts[2]
    with db.read() as s:
        every = set(s.exec(select(Case.id)))
    for user in ("jx_verifier", "jx_expert1", "jx_expert3", "jx_applicant2", "sh_verifier", "jx_applicant"):
        by_id = {c for c in every if client.get(f"/api/v1/cases/{c}", headers=h(user)).status_code == 200}
        assert _listed(client, user) == by_id, user
        sees = cid in by_id
        assert sees == (user in ("jx_verifier", "jx_expert1", "jx_applicant")), user
        # the timeline and the documents follow the same rule
        assert (client.get(f"/api/v1/cases/{cid}/events", headers=h(user)).status_code == 200) == sees
        assert (client.get(f"/api/v1/cases/{cid}/documents", headers=h(user)).status_code == 200) == sees


def test_a_case_conforms_for_its_applicant_and_its_officer(client: TestClient, spec: dict[str, Any]) -> None:
    cid = _to_expert_review(client)
    for user in ("jx_applicant", "jx_case_officer"):
        r = client.get(f"/api/v1/cases/{cid}", headers=h(user))
        conforms(spec, "get", "/api/v1/cases/{case_id}", r.json(), CasePublic)
        assert r.headers["etag"] == f'"{r.json()["version"]}"'
    officer = client.get(f"/api/v1/cases/{cid}", headers=h("jx_case_officer")).json()
    assert [a["action"] for a in officer["allowed_actions"]] and officer["open_tasks"]
    assert officer["subject"]["kind"] == "project" and officer["clock"]["segments"]
    events = client.get(f"/api/v1/cases/{cid}/events", headers=h("jx_applicant")).json()
    conforms(spec, "get", "/api/v1/cases/{case_id}/events", events)
    documents = client.get(f"/api/v1/cases/{cid}/documents", headers=h("jx_applicant")).json()
    assert documents["items"]
    conforms(spec, "get", "/api/v1/cases/{case_id}/documents", documents)


def test_the_task_queue_and_a_task_command_conform(client: TestClient, spec: dict[str, Any]) -> None:
    cid = _to_expert_review(client)
    queue = client.get("/api/v1/tasks", params={"view": "team", "limit": 1}, headers=h("jx_case_officer")).json()
    conforms(spec, "get", "/api/v1/tasks", queue, TaskPage)
    task = next(t for t in client.get("/api/v1/tasks", params={"view": "team"}, headers=h("jx_case_officer")
                                      ).json()["items"] if t["case_id"] == cid)
    claimed = client.post(f"/api/v1/tasks/{task['id']}/claim", headers=h("jx_case_officer"))
    assert claimed.status_code == 200
    conforms(spec, "post", "/api/v1/tasks/{task_id}/claim", claimed.json())
    assert claimed.json()["assignee"] == "jx_case_officer"


def test_the_public_registry_and_a_certificate_with_its_log_proof_conform(
        client: TestClient, db: Database, driver: Driver, test_clock, log_key: str,
        spec: dict[str, Any]) -> None:
    cert = issued_and_retired(client, db, driver, test_clock)
    log.sequence(db)
    body = client.get(f"/api/v1/public/certificates/{cert['number']}").json()
    assert body["log"] is not None and body["log_note"] is None
    conforms(spec, "get", "/api/v1/public/certificates/{number}", body, CertificatePublic)
    for path, model in (("/api/v1/public/projects", ProjectList), ("/api/v1/public/issuances", IssuanceList),
                        ("/api/v1/public/retirements", None), ("/api/v1/public/methodologies", None),
                        ("/api/v1/public/verifiers", None), ("/api/v1/public/notices", None),
                        ("/api/v1/public/publicity", None), ("/api/v1/public/log/heads", None)):
        listed = client.get(path).json()
        assert listed["items"], path
        conforms(spec, "get", path, listed, model)
    project = client.get("/api/v1/public/projects").json()["items"][0]["id"]
    conforms(spec, "get", "/api/v1/public/projects/{project_id}",
             client.get(f"/api/v1/public/projects/{project}").json())
    with db.read() as s:
        version = s.exec(select(MethodologyVersion.id).where(MethodologyVersion.status == "filed")).first()
    conforms(spec, "get", "/api/v1/public/methodologies/{version_id}",
             client.get(f"/api/v1/public/methodologies/{version}").json(), MethodologyDetail)
    leaf = client.get(f"/api/v1/public/log/leaves/{body['log']['leaf_index']}").json()
    conforms(spec, "get", "/api/v1/public/log/leaves/{seq}", leaf)
    admin = {"Authorization": "Bearer demo-demo_admin"}
    national = client.get("/api/v1/audit/verify", headers=admin).json()
    conforms(spec, "get", "/api/v1/audit/verify", national)
    assert national["log"]["leaves"] and national["chains_ok"] is True
    # a jurisdiction's administrator is checked the chains of their cases only: no log, not a null one
    local = client.get("/api/v1/audit/verify", headers=h("ord_admin")).json()
    conforms(spec, "get", "/api/v1/audit/verify", local)
    assert "log" not in local and "chains_ok" not in local and local["scope"]["jurisdictions"] == ["ORD"]
    for path in ("/api/v1/admin/ledger/verify", "/api/v1/admin/calendar/coverage"):
        conforms(spec, "get", path, client.get(path, headers=admin).json())


def test_errors_conform_to_the_error_shape(client: TestClient, spec: dict[str, Any]) -> None:
    missing = client.get("/api/v1/cases/999999", headers=h("jx_applicant"))
    assert missing.status_code == 404
    conforms(spec, "get", "/api/v1/cases/{case_id}", missing.json(), status="404")
    anonymous = client.get("/api/v1/me")
    assert anonymous.status_code == 401
    conforms(spec, "get", "/api/v1/me", anonymous.json(), status="401")
    bad = client.get("/api/v1/calendar/add-working-days", params={"start": "2026-01-01", "days": 0})
    assert bad.status_code == 422
    conforms(spec, "get", "/api/v1/calendar/add-working-days", bad.json(), status="422")
