"""The transparency log over HTTP, with no sign-in: the public key, checkpoints, consistency and
inclusion proofs that verify with the stand-alone checker's own algorithms, leaves that never show
an audit payload, a retirement certificate carrying its inclusion proof (JSON and PDF), the check of
a kept checkpoint (consistent, forked, truncated, forged), and the administrators' verdicts."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from services.demo import Driver
from services.engine import audit
from services.store.engine import Database
from services.transparency import check, checkpoint, keys, log, merkle
from tests.e2e.http import h
from tests.e2e.test_issuance_http import registered_project, retire_and_certify, to_issued

pytestmark = pytest.mark.e2e


def issued_and_retired(client: TestClient, db: Database, driver: Driver, test_clock) -> dict:
    project = registered_project(db, driver, test_clock, "ORD")
    cid = client.post("/api/v1/cases", json={"procedure": "issuance", "jurisdiction": "ORD", "application": {
        "project_id": project, "vintage": 2025}}, headers=h("ord_applicant")).json()["id"]
    to_issued(client, db, driver, test_clock, "ORD", cid)
    return retire_and_certify(client, "ORD", 400)


def public_key(client: TestClient) -> tuple[str | None, object]:
    key = client.get("/api/v1/public/log/key").json()
    assert key["algorithm"] == "Ed25519" and key["name"] == keys.origin()
    name, from_pem = check.load_key(key["public_key_pem"])
    assert check.load_key(key["vkey"])[1].public_bytes_raw() == from_pem.public_bytes_raw()
    return name, from_pem


def test_a_certificate_carries_its_inclusion_proof_once_sequenced(client: TestClient, db: Database, driver: Driver,
                                                                  test_clock, log_key: str, tmp_path: Path) -> None:
    cert = issued_and_retired(client, db, driver, test_clock)
    assert cert["log"] is None and "transparency log" in cert["log_note"]["en"]
    assert client.get("/api/v1/public/log/checkpoint").status_code == 404  # nothing signed yet
    log.sequence(db)
    cert = client.get(f"/api/v1/public/certificates/{cert['number']}").json()
    proof = cert["log"]
    name, key = public_key(client)
    origin, size, root = check.check_checkpoint(proof["checkpoint"], name, key)
    assert (size, root.hex()) == (proof["tree_size"], proof["root"])
    assert check.verify_inclusion(bytes.fromhex(proof["leaf_hash"]), proof["leaf_index"], size,
                                  [bytes.fromhex(x) for x in proof["inclusion_proof"]], root)
    # the leaf is the retirement's ledger entry: its public fields hash to the leaf
    leaf = client.get(f"/api/v1/public/log/leaves/{proof['leaf_index']}").json()
    assert leaf["kind"] == "ledger" and leaf["covers"]["kind"] == "retire"
    assert leaf["covers"]["serials"] == cert["serials"] and leaf["covers"]["amount"] == 400
    assert merkle.leaf_hash(leaf["leaf_data"].encode()).hex() == proof["leaf_hash"] == leaf["leaf_hash"]
    # the stand-alone checker takes the certificate's JSON and the published key as they are
    (tmp_path / "cert.json").write_text(json.dumps(cert), encoding="utf-8")
    (tmp_path / "key.pem").write_text(client.get("/api/v1/public/log/key").json()["public_key_pem"])
    assert check.main(["--certificate", str(tmp_path / "cert.json"), "--key", str(tmp_path / "key.pem")]) == 0
    # the PDF prints it; the proof stays that of the first head covering the entry, however the log grows
    pdf = client.get(f"/api/v1/public/certificates/{cert['number']}", params={"format": "pdf"}).content
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace("\n", "").replace(" ", "")
    assert "透明日志包含证明" in text and proof["root"] in text and proof["inclusion_proof"][0] in text
    assert cert["fingerprint"] in text
    with db.write() as s:
        audit.append(s, stream="system", at=test_clock.now(), actor_id=None, actor_role="admin", event="later")
    assert log.sequence(db).size == size + 1
    assert client.get(f"/api/v1/public/certificates/{cert['number']}").json()["log"] == proof


def test_heads_consistency_inclusion_and_leaves(client: TestClient, db: Database, driver: Driver, test_clock,
                                                log_key: str) -> None:
    issued_and_retired(client, db, driver, test_clock)
    first = log.sequence(db, limit=20)
    while log.sequence(db, limit=20).appended:
        pass
    name, key = public_key(client)
    cp = client.get("/api/v1/public/log/checkpoint")
    assert cp.headers["content-type"].startswith("text/plain")
    _, size, root = check.check_checkpoint(cp.text, name, key)
    heads = client.get("/api/v1/public/log/heads", params={"limit": 500}).json()["items"]
    assert heads[0]["tree_size"] == size and heads[-1]["tree_size"] == first.size and len(heads) >= 3
    for older in heads[1:]:
        r = client.get("/api/v1/public/log/consistency", params={"first": older["tree_size"]}).json()
        assert r["second"] == size
        assert check.verify_consistency(older["tree_size"], size, bytes.fromhex(older["root_hash"]), root,
                                        [bytes.fromhex(x) for x in r["proof"]])
    for seq in (0, size // 2, size - 1):
        by_seq = client.get("/api/v1/public/log/inclusion", params={"seq": seq}).json()
        by_hash = client.get("/api/v1/public/log/inclusion", params={"leaf_hash": by_seq["leaf_hash"]}).json()
        assert by_hash == by_seq and by_seq["tree_size"] == size
        assert check.verify_inclusion(bytes.fromhex(by_seq["leaf_hash"]), seq, size,
                                      [bytes.fromhex(x) for x in by_seq["proof"]], root)
    audit_leaf = client.get("/api/v1/public/log/leaves/0").json()
    assert audit_leaf["kind"] == "audit" and set(audit_leaf["covers"]) == {"leaf", "id", "stream", "seq", "hash"}
    assert "payload" not in audit_leaf["leaf_data"]
    assert merkle.leaf_hash(audit_leaf["leaf_data"].encode()).hex() == audit_leaf["leaf_hash"]
    # bad questions get every reason, in both languages; unknown leaves are 404
    for params, code in (({"first": size, "second": 1}, "log_order"), ({"first": 1, "second": size + 5}, "log_size"),
                         ({"first": -1}, None)):
        r = client.get("/api/v1/public/log/consistency", params=params)
        assert r.status_code == 422, (params, r.text)
        assert code is None or r.json()["error"]["reasons"][0]["code"] == code
    for params in ({}, {"seq": 1, "leaf_hash": "ab"}, {"leaf_hash": "zz"}, {"seq": size + 3},
                   {"seq": 1, "size": size + 1}):
        r = client.get("/api/v1/public/log/inclusion", params=params)
        assert r.status_code == 422 and r.json()["error"]["reasons"][0]["zh"], (params, r.text)
    assert client.get(f"/api/v1/public/log/leaves/{size + 10}").status_code == 404


def _signed(size: int, root: bytes, key: Ed25519PrivateKey) -> str:
    return checkpoint.sign(checkpoint.Checkpoint(keys.origin(), size, root), keys.origin(), key)


def test_a_kept_checkpoint_is_checked_against_todays_log(client: TestClient, db: Database, driver: Driver,
                                                         test_clock, log_key: str) -> None:
    issued_and_retired(client, db, driver, test_clock)
    log.sequence(db, limit=15)
    kept = client.get("/api/v1/public/log/checkpoint").text
    log.sequence(db)
    r = client.post("/api/v1/public/log/check", json={"checkpoint": kept}).json()
    assert r["consistent"] and r["verdict"] == "extends" and r["old"]["tree_size"] == 15 and r["proof"]
    signer = keys.keyring().signer
    forked = _signed(15, merkle.leaf_hash(b"another history"), signer)
    assert client.post("/api/v1/public/log/check", json={"checkpoint": forked}).json()["verdict"] == "forked"
    ahead = _signed(r["latest"]["tree_size"] + 10, merkle.leaf_hash(b"x"), signer)
    assert client.post("/api/v1/public/log/check", json={"checkpoint": ahead}).json()["verdict"] == "truncated"
    # (i) forged or altered checkpoints are refused, saying why, in both languages
    for text, code in ((_signed(15, base64.b64decode(kept.split("\n")[2]), Ed25519PrivateKey.generate()),
                        "checkpoint_unknown_key"),
                       (kept.replace("\n15\n", "\n16\n"), "checkpoint_bad_signature"),
                       ("not a checkpoint", "checkpoint_malformed")):
        refused = client.post("/api/v1/public/log/check", json={"checkpoint": text})
        assert refused.status_code == 422 and refused.json()["error"]["reasons"][0]["code"] == code
        assert refused.json()["error"]["reasons"][0]["zh"]


def test_admins_see_the_logs_verdict_beside_the_chains_and_the_ledger(client: TestClient, db: Database,
                                                                      driver: Driver, test_clock,
                                                                      log_key: str) -> None:
    issued_and_retired(client, db, driver, test_clock)
    log.sequence(db)
    checked = client.get("/api/v1/audit/verify", headers=h("demo_admin")).json()
    assert checked["ok"] and checked["chains_ok"] and checked["log"]["ok"] and checked["log"]["leaves"] > 0
    books = client.get("/api/v1/admin/ledger/verify", headers=h("demo_admin")).json()
    assert books["ok"] and books["first_problem"] is None
    with db.write() as s:
        s.exec(sa.text("DELETE FROM log_heads"))
    checked = client.get("/api/v1/audit/verify", headers=h("demo_admin")).json()
    assert checked["chains_ok"] and not checked["ok"]
    assert checked["log"]["first_problem"].startswith("the newest head the signer witnessed")
