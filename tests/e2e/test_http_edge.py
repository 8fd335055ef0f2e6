"""The edge every request passes: security headers on every response, the trusted proxy, the body-size
cap before a body is read, and NUL characters refused with their own reason (on both databases)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.api import create_app
from services.api.edge import MULTIPART_ALLOWANCE
from services.demo import Driver, application
from services.procedures import documents
from services.store.engine import Database
from services.store.tables import Document, WebhookEndpoint
from tests.e2e.test_flows import run_flow
from tests.web.conftest import Browser, csrf_of

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024
ADMIN = {"Authorization": "Bearer demo-demo_admin"}
APPLICANT = {"Authorization": "Bearer demo-sh_applicant"}


def _reasons(r) -> list[dict]:
    return r.json()["error"]["reasons"]


# --- security headers -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/public/projects", "/api/v1/cases/1", "/api/v1/no/such", "/openapi.json",
                                  "/docs", "/healthz", "/static/api/swagger-ui.css", "/static/web/app.js",
                                  "/static/web/no-such.js", "/login", "/no/such/page"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "strict-transport-security" not in r.headers  # plain http: no HSTS
    if path.startswith(("/api/", "/static/", "/openapi")):
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_even_an_internal_error_carries_them(db: Database) -> None:
    app = create_app(db)

    @app.get("/api/v1/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    r = TestClient(app, raise_server_exceptions=False).get("/api/v1/broken")
    assert r.status_code == 500 and r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_a_pdf_shown_in_the_browser_gets_no_policy_that_would_blank_the_viewer(db: Database) -> None:
    from fastapi.responses import Response

    app = create_app(db)

    @app.get("/api/v1/inline.pdf")
    def inline() -> Response:  # like a retirement certificate (Content-Disposition: inline)
        return Response(b"%PDF-1.7\n%%EOF\n", media_type="application/pdf")

    r = TestClient(app).get("/api/v1/inline.pdf")
    assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in r.headers


def test_the_docs_page_runs_no_inline_script(client: TestClient) -> None:
    r = client.get("/docs")
    policy = r.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert script_src == "'self'" and "unsafe" not in policy
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", r.text, re.S)
    assert scripts and all('src="/static/api/' in attrs and not body.strip() for attrs, body in scripts)
    init = client.get("/static/api/swagger-init.js")
    assert init.status_code == 200 and "SwaggerUIBundle" in init.text and "/openapi.json" in init.text


def test_a_document_is_served_sandboxed(client: TestClient, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    pdf = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    up = client.post(f"/api/v1/cases/{cid}/documents", headers=APPLICANT,
                     files={"file": ("a.pdf", pdf, "application/pdf")})
    assert up.status_code == 201, up.text
    r = client.get(f"/api/v1/documents/{up.json()['id']}", headers=APPLICANT)
    assert r.content == pdf and r.headers["content-disposition"].startswith("attachment")
    assert r.headers["x-content-type-options"] == "nosniff" and "sandbox" in r.headers["content-security-policy"]


@pytest.mark.parametrize("head", [b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script>",
                                  b"%PDF-1.4\n%\xe2\xe3\n<!DOCTYPE HTML><p>x",
                                  b"%PDF-1.7\n1 0 obj<</URI (JavaScript:alert(1))>>endobj"])
def test_a_pdf_that_is_also_a_web_page_is_refused(client: TestClient, driver: Driver, db: Database,
                                                  head: bytes) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    r = client.post(f"/api/v1/cases/{cid}/documents", headers=APPLICANT,
                    files={"file": ("a.pdf", head + b"\ntrailer<<>>\n%%EOF\n", "application/pdf")})
    assert r.status_code == 422 and [x["code"] for x in _reasons(r)] == ["document_markup"]
    with db.read() as s:
        assert s.exec(select(Document)).first() is None


# --- trusted proxy ------------------------------------------------------------------------------------


def _set_cookies(r) -> dict[str, str]:
    return {c.split("=", 1)[0]: c for c in r.headers.get_list("set-cookie")}


def _sign_in_via(app: object, address: str, headers: dict[str, str]) -> tuple[object, object]:
    """GET and POST /login as a browser would, the cookies carried by hand (Secure cookies over the test
    client's plain http are not sent back by its cookie jar)."""
    c = TestClient(app, follow_redirects=False, client=(address, 40000))
    page = c.get("/login", headers=headers)
    csrf_cookie = _set_cookies(page)["carbon_csrf"].split(";", 1)[0]
    c.cookies.clear()
    done = c.post("/login", headers={**headers, "Cookie": csrf_cookie},
                  data={"csrf": csrf_of(page.text), "username": "sh_case_officer", "password": "demo-password"})
    return page, done


def test_behind_a_trusted_tls_proxy_cookies_are_secure_and_hsts_is_sent(db: Database,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")
    app = create_app(db)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    for proxy in ("10.0.0.1", "192.168.7.7"):
        page, done = _sign_in_via(app, proxy, forwarded)
        assert page.headers["strict-transport-security"].startswith("max-age=")
        assert "Secure" in _set_cookies(page)["carbon_csrf"]
        assert done.status_code == 303
        cookies = _set_cookies(done)
        assert {"carbon_session", "carbon_device"} <= set(cookies) and all("Secure" in c for c in cookies.values())
    page, done = _sign_in_via(app, "203.0.113.77", forwarded)  # not a proxy: its headers change nothing
    assert "strict-transport-security" not in page.headers and "Secure" not in _set_cookies(page)["carbon_csrf"]
    assert done.status_code == 303 and not any("Secure" in c for c in _set_cookies(done).values())


def test_a_client_cannot_dodge_the_address_throttle_with_forwarded_for(db: Database,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.1")
    app = create_app(db)
    direct = Browser(app, "203.0.113.77")
    via_proxy = Browser(app, "10.0.0.1")
    names = ("sh_case_officer", "sh_approver", "sh_operator", "sh_review_centre", "sh_expert1")
    for i in range(20):  # 4 failures an account, each "from" another address: all count against the client
        r = direct.client.post("/login", headers={"X-Forwarded-For": f"198.51.100.{i}"},
                               data={"csrf": csrf_of(direct.get("/login").text), "username": names[i % 5],
                                     "password": "guess"})
        assert r.status_code == 422
    assert direct.sign_in("bj_case_officer").status_code == 429
    others = ("bj_case_officer", "bj_approver", "bj_operator", "bj_review_centre", "bj_expert1")
    for i in range(20):  # through the proxy, the forwarded address is the client's own
        r = via_proxy.client.post("/login", headers={"X-Forwarded-For": "198.51.100.1"},
                                  data={"csrf": csrf_of(via_proxy.get("/login").text), "username": others[i % 5],
                                        "password": "guess"})
        assert r.status_code == 422
    token = csrf_of(via_proxy.get("/login").text)
    blocked = via_proxy.client.post("/login", headers={"X-Forwarded-For": "198.51.100.1"},
                                    data={"csrf": token, "username": "jx_case_officer", "password": "demo-password"})
    other = via_proxy.client.post("/login", headers={"X-Forwarded-For": "198.51.100.2"},
                                  data={"csrf": token, "username": "jx_case_officer", "password": "demo-password"})
    assert (blocked.status_code, other.status_code) == (429, 303)


# --- the body-size cap --------------------------------------------------------------------------------


class Body:
    """A streamed request body that counts what the server took of it."""

    def __init__(self, size: int, head: bytes = b"") -> None:
        self.size, self.head, self.taken = size, head, 0

    def __iter__(self):
        chunk = self.head
        while self.taken < self.size:
            chunk = chunk or b"0" * MiB
            self.taken += len(chunk)
            yield chunk
            chunk = b""


FILE_PART = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
             b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n")


def test_a_100_mib_upload_is_refused_before_a_byte_is_read(client: TestClient, driver: Driver, db: Database) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    body = Body(100 * MiB, FILE_PART)
    r = client.post(f"/api/v1/cases/{cid}/documents", content=iter(body),
                    headers={**APPLICANT, "Content-Type": "multipart/form-data; boundary=b",
                             "Content-Length": str(100 * MiB)})
    assert r.status_code == 413 and body.taken == 0
    assert [x["code"] for x in _reasons(r)] == ["body_too_large"] and all(x["zh"] and x["en"] for x in _reasons(r))
    with db.read() as s:
        assert s.exec(select(Document)).first() is None


def test_a_page_upload_too_large_gets_the_error_page(signed_in, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    b = signed_in("sh_applicant")
    body = Body(100 * MiB, FILE_PART)
    r = b.client.post(f"/cases/{cid}/documents", content=iter(body),
                      headers={"Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(100 * MiB)})
    assert r.status_code == 413 and "text/html" in r.headers["content-type"] and "请求体过大" in r.text
    assert body.taken == 0


async def _stream(app: object, path: str, headers: dict[str, str], body: Body) -> tuple[int, bytes]:
    """Drive the ASGI app directly: unlike the test client, it reads the body only as the app asks."""
    chunks = iter(body)
    sent: list[dict] = []

    async def receive() -> dict:
        chunk = next(chunks, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("198.51.100.1", 1), "server": ("testserver", 80)}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_body_without_a_length_is_cut_off_at_the_limit(db: Database, driver: Driver) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    body = Body(100 * MiB, FILE_PART)
    status, text = run_flow(_stream(create_app(db), f"/api/v1/cases/{cid}/documents",
                                    {**APPLICANT, "Content-Type": "multipart/form-data; boundary=b"}, body))
    assert status == 413 and "请求体过大".encode() in text
    assert body.taken <= documents.MAX_BYTES + MULTIPART_ALLOWANCE + MiB  # stopped one chunk past the limit


def test_a_json_body_over_a_mebibyte_is_refused(client: TestClient, db: Database) -> None:
    body = b'{"jurisdiction": "SH", "name": "' + b"x" * (2 * MiB) + b'"}'
    r = client.post("/api/v1/admin/webhooks", content=body, headers={**ADMIN, "Content-Type": "application/json"})
    assert r.status_code == 413 and [x["code"] for x in _reasons(r)] == ["body_too_large"]


# --- NUL characters -----------------------------------------------------------------------------------


def test_a_nul_character_is_refused_with_its_own_reason(client: TestClient, db: Database) -> None:
    report = {"jurisdiction": "SH", "subject": "某光伏项目",
              "content": "监测数据与现场不符，疑似造假\u0000，请核查处理。"}
    r = client.post("/api/v1/public/reports", json=report)  # a body read by hand (services.api.body)
    assert r.status_code == 422 and _reasons(r) == [
        {"code": "nul_character", "zh": "文本中含有不允许的控制字符（NUL）",
         "en": "The text contains a forbidden control character (NUL)", "field": "content"}]
    hook = {"jurisdiction": "SH", "name": "hook\u0000", "url": "https://example.org/h", "secret": "s" * 16,
            "events": ["ok", "bad\u0000"]}
    r = client.post("/api/v1/admin/webhooks", json=hook, headers=ADMIN)  # a body FastAPI parses
    assert r.status_code == 422 and [(x["code"], x["field"]) for x in _reasons(r)] == [
        ("nul_character", "name"), ("nul_character", "events.1")]
    raw = b'{"jurisdiction": "SH", "name": "h\x00", "url": "https://example.org/h", "secret": "ssssssssssssssss"}'
    r = client.post("/api/v1/admin/webhooks", content=raw, headers={**ADMIN, "Content-Type": "application/json"})
    assert r.status_code == 422 and [x["code"] for x in _reasons(r)] == ["nul_character"]
    r = client.post("/api/v1/admin/webhooks", content=raw.replace(b"\x00", b"\\u0000"), headers=ADMIN)
    assert r.status_code == 422 and [x["code"] for x in _reasons(r)] == ["nul_character"]  # JSON with no type
    with db.read() as s:
        assert s.exec(select(WebhookEndpoint)).first() is None
    r = client.get("/api/v1/public/projects?jurisdiction=S%00H")
    assert r.status_code == 422 and [(x["code"], x["field"]) for x in _reasons(r)] == [
        ("nul_character", "query.jurisdiction")]


def test_a_nul_character_in_a_posted_form_is_refused(browser: Browser) -> None:
    page = browser.get("/login")
    r = browser.client.post("/login", data={"csrf": csrf_of(page.text), "username": "sh_case\x00officer",
                                            "password": "demo-password"})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"] and "不允许的控制字符" in r.text
    r = browser.client.post("/login", data={"csrf": csrf_of(page.text), "username": "sh_case\x00officer",
                                            "password": "demo-password"}, files={"note": ("n.txt", b"x")})
    assert r.status_code == 422 and "不允许的控制字符" in r.text


@pytest.fixture
def browser(db: Database) -> Browser:
    return Browser(create_app(db))


@pytest.fixture
def signed_in(db: Database):
    app = create_app(db)

    def make(username: str) -> Browser:
        b = Browser(app)
        assert b.sign_in(username).status_code == 303
        return b
    return make


# --- dates and amounts through the API ----------------------------------------------------------------


def test_a_project_starting_in_year_one_or_with_minus_zero_tonnes_is_refused(client: TestClient) -> None:
    body = {"procedure": "project_registration", "jurisdiction": "SH",
            "application": {**application("SH"), "start_date": "0001-01-01", "end_date": "9999-12-31",
                            "expected_annual_reduction_tco2e": "-0.000"}}
    r = client.post("/api/v1/cases", json=body, headers=APPLICANT)
    assert r.status_code == 422
    codes = {(x["code"], x["field"].rsplit(".", 1)[-1]) for x in _reasons(r)}
    assert {("date_out_of_range", "start_date"), ("date_out_of_range", "end_date")} <= codes
    assert any(field == "expected_annual_reduction_tco2e" for _, field in codes)
