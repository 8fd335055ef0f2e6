"""The public transparency-log page: the newest signed head with how to keep and check it, in both
languages; a kept checkpoint checked (consistent, forked, forged); certificates show their proof."""

from __future__ import annotations

import html

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.demo import Driver
from services.engine import audit
from services.engine.clock import clock
from services.store.engine import Database
from services.transparency import checkpoint, keys, log, merkle
from tests.web.conftest import Browser

pytestmark = pytest.mark.e2e


def _events(db: Database, n: int) -> None:
    for i in range(n):
        with db.write() as s:
            audit.append(s, stream="system", at=clock.now(), actor_id=None, actor_role="admin", event="test",
                         payload={"i": i})


def test_the_page_shows_the_newest_head_and_checks_a_kept_one(browser: Browser, db: Database, log_key: str) -> None:
    empty = browser.get("/public/log")
    assert empty.status_code == 200 and "日志尚未签发树头" in empty.text
    _events(db, 5)
    log.sequence(db)
    kept = browser.get("/api/v1/public/log/checkpoint").text
    _events(db, 4)
    log.sequence(db)
    page = browser.get("/public/log")
    newest = browser.get("/api/v1/public/log/checkpoint").text
    assert "最新签名树头" in page.text and "如何核验" in page.text
    assert html.escape(newest.strip()) in page.text and log_key in page.text
    ok = browser.post_form("/public/log", "/public/log", {"checkpoint": kept.replace("\n", "\r\n")})
    assert ok.status_code == 200 and "✔ 一致" in ok.text
    forked = checkpoint.sign(checkpoint.Checkpoint(keys.origin(), 5, merkle.leaf_hash(b"x")), keys.origin(),
                             keys.keyring().signer)
    bad = browser.post_form("/public/log", "/public/log", {"checkpoint": forked})
    assert bad.status_code == 200 and "不是当前日志的前缀" in bad.text
    forged = checkpoint.sign(checkpoint.parse(kept)[0], keys.origin(), Ed25519PrivateKey.generate())
    refused = browser.post_form("/public/log", "/public/log", {"checkpoint": forged})
    assert refused.status_code == 422 and "不是本日志签发的" in refused.text and 'aria-invalid="true"' in refused.text
    empty_form = browser.post_form("/public/log", "/public/log", {"checkpoint": "  "})
    assert empty_form.status_code == 422
    assert browser.client.post("/public/log", data={"csrf": "forged", "checkpoint": kept}).status_code == 403
    browser.client.cookies.set("lang", "en")
    english = browser.post_form("/public/log", "/public/log", {"checkpoint": forked})
    assert "Newest signed head" in english.text and "the log was rewritten or forked" in english.text


def test_a_certificate_page_shows_its_inclusion_proof(browser: Browser, driver: Driver, db: Database, test_clock,
                                                      log_key: str) -> None:
    from tests.e2e.http import h
    from tests.e2e.test_issuance_http import registered_project, retire_and_certify, to_issued

    client = browser.client
    project = registered_project(db, driver, test_clock, "ORD")
    opened = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "ORD",
                                                "application": {"project_id": project, "vintage": 2025}},
                         headers=h("ord_applicant"))
    to_issued(client, db, driver, test_clock, "ORD", opened.json()["id"])
    number = retire_and_certify(client, "ORD", 500)["number"]
    pending = browser.get("/public/certificates", params={"number": number})
    assert "尚未写入透明日志" in pending.text
    log.sequence(db)
    proof = client.get(f"/api/v1/public/certificates/{number}").json()["log"]
    shown = browser.get("/public/certificates", params={"number": number})
    assert proof["root"] in shown.text and all(x in shown.text for x in proof["inclusion_proof"])
