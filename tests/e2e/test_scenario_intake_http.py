"""Scenario data intake over HTTP (issue 17; Ordos arts. 13–14, Shanghai arts. 13, 22), in the Ordos and
Shanghai profiles: the credential issued and rotated, daily batches in CSV, JSON Lines and Parquet checked
row by row, idempotent per batch id, refused whole with every reason when the metadata, hash or count are
wrong, refused rows downloadable with their reasons, the consent feed, and concurrent sends."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from services.api import create_app
from services.store.engine import Database
from services.store.tables import ScenarioBatch
from states.scenarios import RECORD_COLUMNS
from tests.scenarios_setup import as_csv, as_jsonl, registered_scenario, sha

pytestmark = pytest.mark.e2e
DAY = "2026-03-01"  # the test clock stands at 2026-03-02
ROWS = [  # the row as sent -> the reasons it is refused for ("" accepted)
    (("r1", "u1", "metro_trip", "12.5", "2026-03-01"), ""),
    (("r2", "13800138000", "metro_trip", "3", "2026-03-01"), "pii_phone"),
    (("r3", "u2", "metro_trip", "-1", "2026-03-01"), "negative_quantity"),
    (("r1", "u1", "metro_trip", "1", "2026-03-01"), "duplicate_in_batch"),
    (("r4", "u3", "bus", "1", "2026-03-01"), "unknown_activity"),
    (("r5", "u3", "bike_trip", "1.234", "2026-03-01"), "too_precise"),
    (("r6", "u4", "metro_trip", "abc", "2026-13-01"), "bad_quantity;bad_date"),
    (("r7", "", "metro_trip", "1", "2026-03-01"), "missing_field"),
    (("r8", "u5", "metro_trip", "1", "2026-03-05"), "future_date"),
    (("r9", "u6", "bike_trip", "7.5", "2026-02-20"), ""),  # late (over 3 days before the batch), accepted
]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))
    return tmp_path / "scenarios"


@pytest.fixture
def client(db: Database) -> TestClient:
    return TestClient(create_app(db))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user(name: str) -> dict[str, str]:
    return bearer(f"demo-{name}")


def send(client: TestClient, sid: int, token: str, data: bytes, *, name: str = "day.csv", kind: str = "records",
         expect: int = 201, **meta: Any) -> dict[str, Any]:
    fields = {"batch_id": "b1", "business_date": DAY, "record_count": "0", "sha256": sha(data), **meta}
    r = client.post(f"/api/v1/scenarios/{sid}/{kind}", headers=bearer(token), files={"file": (name, data)},
                    data={k: str(v) for k, v in fields.items()})
    assert r.status_code == expect, r.text
    return r.json()


def credential(client: TestClient, sid: int, who: str, expect: int = 201) -> dict[str, Any]:
    r = client.post(f"/api/v1/scenarios/{sid}/feed/credential", headers=user(who))
    assert r.status_code == expect, r.text
    return r.json()


def reasons(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in body["error"]["reasons"]}


@pytest.mark.parametrize("code", ["ORD", "SH"])
def test_credential_batches_idempotency_and_refused_rows(client: TestClient, db: Database, code: str,
                                                         _data_dir: Path) -> None:
    low = code.lower()
    sid = registered_scenario(db, code)
    # another applicant and an expert do not see the scenario; nobody submits without the credential
    credential(client, sid, f"{low}_applicant2", 404)
    credential(client, sid, f"{low}_expert1", 404)
    credential(client, sid, f"{low}_review_centre", 403)
    first = credential(client, sid, f"{low}_applicant")
    assert first["token"].startswith("scn_") and first["rotated"] is False
    rotated = credential(client, sid, f"{low}_case_officer")  # rotation: the old token stops working
    assert rotated["rotated"] is True and rotated["token"] != first["token"]
    token = rotated["token"]
    data = as_csv(RECORD_COLUMNS, [r for r, _ in ROWS])
    refused = send(client, sid, first["token"], data, record_count=len(ROWS), expect=401)
    assert reasons(refused)["scenario_feed_token"]["zh"]

    body = send(client, sid, token, data, record_count=len(ROWS))
    assert (body["rows_total"], body["rows_accepted"], body["rows_rejected"], body["late"]) == (10, 2, 8, 1)
    assert body["rows_accepted"] + body["rows_rejected"] == len(ROWS)
    assert body["status"] == "partly_accepted" and body["status_label"]["zh"] == "部分接收"
    expected: dict[str, int] = {}
    for _, why in ROWS:
        for c in filter(None, why.split(";")):
            expected[c] = expected.get(c, 0) + 1
    assert {r["code"]: r["rows"] for r in body["rejections"]} == expected
    assert all(r["zh"] and r["en"] and r["zh"] != r["en"] for r in body["rejections"])
    # the same batch again: the first receipt, not a second batch
    again = client.post(f"/api/v1/scenarios/{sid}/records", headers=bearer(token), files={"file": ("day.csv", data)},
                        data={"batch_id": "b1", "business_date": DAY, "record_count": str(len(ROWS)),
                              "sha256": sha(data)})
    assert again.status_code == 200 and again.json() == body
    # the same batch id with other bytes: refused, nothing changes
    other = as_csv(RECORD_COLUMNS, [("x1", "u9", "metro_trip", "1", DAY)])
    conflict = send(client, sid, token, other, record_count=1, expect=409)
    assert reasons(conflict)["scenario_batch_reused"]["field"] == "batch_id"

    # the refused rows as sent, each with its reasons in both languages
    r = client.get(body["rejected_rows_url"], headers=bearer(token))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][:2] == ["行号", "记录编号"]
    sent = {i + 1: (row, why) for i, (row, why) in enumerate(ROWS) if why}
    assert [int(t[0]) for t in table[1:]] == sorted(sent)
    for t in table[1:]:
        row, why = sent[int(t[0])]
        assert tuple(v or "" for v in t[1:6]) == row and t[6] == why
        assert t[7] and t[8] and "；" not in t[8]
    phone = next(t for t in table[1:] if t[6] == "pii_phone")
    assert "二十二" in phone[7] and "art. 22" in phone[8]
    en = client.get(body["rejected_rows_url"], params={"lang": "en"}, headers=user(f"{low}_applicant"))
    assert en.content.decode("utf-8-sig").splitlines()[0].startswith("Row,Record id")

    # a second day in JSON Lines: record ids already accepted are duplicates across batches
    day2 = [("r1", "u1", "metro_trip", "2", DAY), ("r9", "u6", "bike_trip", "1", DAY),
            ("r3", "u2", "metro_trip", "4", DAY)]  # r3 was refused on day 1, so it is new
    jsonl = as_jsonl(RECORD_COLUMNS, day2)
    body2 = send(client, sid, token, jsonl, name="day2.jsonl", batch_id="b2", record_count=3)
    assert {r["code"]: r["rows"] for r in body2["rejections"]} == {"duplicate_across_batches": 2}
    assert body2["rows_accepted"] == 1 and body2["format"] == "jsonl"
    # Parquet (the format named explicitly), every row accepted
    buf = io.BytesIO()
    pq.write_table(pa.table({c: [v] for c, v in zip(RECORD_COLUMNS, ("p1", "u7", "bike_trip", "3.25", DAY),
                                                      strict=True)}), buf)
    body3 = send(client, sid, token, buf.getvalue(), name="upload.bin", batch_id="b3", record_count=1,
                 format="parquet")
    assert body3["status"] == "accepted" and body3["rows_accepted"] == 1

    # listed newest first for the feed, the owner and the officers; hidden from others
    for headers in (bearer(token), user(f"{low}_applicant"), user(f"{low}_case_officer")):
        listing = client.get(f"/api/v1/scenarios/{sid}/records", headers=headers)
        assert listing.status_code == 200
        assert [b["batch_id"] for b in listing.json()["items"]] == ["b3", "b2", "b1"]
        assert listing.json()["credential_issued_at"]
    assert client.get(f"/api/v1/scenarios/{sid}/records", headers=user(f"{low}_applicant2")).status_code == 404
    assert client.get(f"/api/v1/scenarios/{sid}/records").status_code == 401
    assert client.get(f"/api/v1/scenarios/{sid}/records/b9", headers=bearer(token)).status_code == 404

    # nothing accepted is lost: the accepted files hold exactly the accepted rows, the raw files are kept
    with db.read() as session:
        kept = session.exec(select(ScenarioBatch).where(ScenarioBatch.project_id == sid)).all()
    for b in kept:
        assert pq.read_table(b.accepted_path).num_rows == b.rows_accepted
        assert pq.read_table(b.rejected_path).num_rows == b.rows_rejected
        assert sha(Path(b.raw_path).read_bytes()) == b.sha256
    assert not [p for p in (_data_dir / code / str(sid) / "tmp").iterdir() if p.name != ".lock"]


@pytest.mark.parametrize("code", ["ORD", "SH"])
def test_a_wrong_file_is_refused_whole_with_every_reason(client: TestClient, db: Database, code: str,
                                                         _data_dir: Path) -> None:
    sid = registered_scenario(db, code)
    token = credential(client, sid, f"{code.lower()}_applicant")["token"]
    data = as_csv(RECORD_COLUMNS, [r for r, _ in ROWS[:3]])
    bad = send(client, sid, token, data, name="day.xlsx", batch_id="../x", business_date="2026-03-09",
               record_count="three", sha256="abc", expect=422)
    found = reasons(bad)
    assert set(found) == {"scenario_batch_id", "scenario_business_date_future", "scenario_record_count",
                          "scenario_sha256_format", "scenario_format"}
    assert all(r["zh"] and r["en"] and r["field"] for r in found.values())
    assert "2026-03-09" in found["scenario_business_date_future"]["en"]
    mismatch = send(client, sid, token, data, record_count=3, sha256=sha(b"other"), expect=422)
    assert reasons(mismatch)["scenario_sha256_mismatch"]["field"] == "sha256"
    count = send(client, sid, token, data, record_count=4, expect=422)
    assert "3" in reasons(count)["scenario_count_mismatch"]["en"]
    columns = send(client, sid, token, as_csv(("record_id", "user_id", "phone"), [("a", "b", "c")]), record_count=1,
                   expect=422)
    assert set(reasons(columns)) == {"scenario_columns_missing", "scenario_columns_unexpected"}
    garbage = send(client, sid, token, b"PAR1\x00\x01 not parquet", name="x.parquet", record_count=1, expect=422)
    assert reasons(garbage)["scenario_file_unreadable"]["zh"]
    missing = client.post(f"/api/v1/scenarios/{sid}/records", headers=bearer(token), data={"batch_id": "b1"})
    assert missing.status_code == 422 and reasons(missing.json())["scenario_file_missing"]
    # nothing was recorded or kept, so the corrected file goes through under the same batch id
    assert client.get(f"/api/v1/scenarios/{sid}/records", headers=bearer(token)).json()["items"] == []
    assert send(client, sid, token, data, record_count=3)["rows_total"] == 3
    # another scenario's credential is not this one's
    other = registered_scenario(db, code, title="另一个场景")
    assert send(client, other, token, data, record_count=3, expect=403)["error"]["reasons"][0]["code"] == \
        "scenario_feed_other"


@pytest.mark.parametrize("code", ["ORD", "SH"])
def test_consent_feed(client: TestClient, db: Database, code: str) -> None:
    sid = registered_scenario(db, code)
    token = credential(client, sid, f"{code.lower()}_case_officer")["token"]
    rows = [("u1", "granted", "2026-02-01"), ("u2", "withdrawn", "2026-02-15"), ("u3", "maybe", "2026-02-01"),
            ("13912345678", "granted", "2026-02-01")]
    data = as_csv(("user_id", "status", "effective_date"), rows)
    body = send(client, sid, token, data, kind="consents", batch_id="c1", record_count=4)
    assert (body["kind"], body["rows_accepted"], body["rows_rejected"]) == ("consents", 2, 2)
    assert {r["code"] for r in body["rejections"]} == {"bad_status", "pii_phone"}
    listing = client.get(f"/api/v1/scenarios/{sid}/consents", headers=user(f"{code.lower()}_applicant")).json()
    assert [b["batch_id"] for b in listing["items"]] == ["c1"]
    assert client.get(f"/api/v1/scenarios/{sid}/records", headers=bearer(token)).json()["items"] == []
    table = client.get(body["rejected_rows_url"], headers=bearer(token)).content.decode("utf-8-sig").splitlines()
    assert table[0].startswith("行号,用户标识（假名）,授权状态,生效日期") and len(table) == 3


def test_concurrent_sends_serialise_per_scenario(client: TestClient, db: Database) -> None:
    """The same batch sent twice at once is one batch; two batches sharing a record id at once accept it once."""
    sid = registered_scenario(db, "ORD")
    token = credential(client, sid, "ord_applicant")["token"]
    same = as_csv(RECORD_COLUMNS, [(f"s{i}", f"u{i % 7}", "metro_trip", "1.5", DAY) for i in range(200)])
    a = as_csv(RECORD_COLUMNS, [("shared", "u1", "metro_trip", "2", DAY), ("a1", "u1", "metro_trip", "1", DAY)])
    b = as_csv(RECORD_COLUMNS, [("shared", "u2", "metro_trip", "3", DAY), ("b1", "u2", "metro_trip", "1", DAY)])
    jobs = [("same", same, 200), ("same", same, 200), ("a", a, 2), ("b", b, 2)]
    replies: list[tuple[str, int, dict[str, Any]]] = []
    barrier = threading.Barrier(len(jobs))

    def run(batch_id: str, data: bytes, count: int) -> None:
        barrier.wait()
        r = client.post(f"/api/v1/scenarios/{sid}/records", headers=bearer(token), files={"file": ("d.csv", data)},
                        data={"batch_id": batch_id, "business_date": DAY, "record_count": str(count),
                              "sha256": sha(data)})
        replies.append((batch_id, r.status_code, r.json()))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for bid, s, _ in replies if bid == "same") == [200, 201]
    same_bodies = [body for bid, _, body in replies if bid == "same"]
    assert same_bodies[0] == same_bodies[1]
    listing = client.get(f"/api/v1/scenarios/{sid}/records", headers=bearer(token)).json()["items"]
    assert sorted(x["batch_id"] for x in listing) == ["a", "b", "same"]
    ab = [x for x in listing if x["batch_id"] in ("a", "b")]
    assert sum(x["rows_accepted"] for x in ab) == 3  # "shared" accepted once, by whichever came first
    assert sorted(r["code"] for x in ab for r in x["rejections"]) == ["duplicate_across_batches"]


def test_a_day_of_several_megabytes_goes_through_the_edge(client: TestClient, db: Database) -> None:
    """The body limit of other routes (1 MB) does not apply to a day's file, which streams to disk."""
    sid = registered_scenario(db, "SH")
    token = credential(client, sid, "sh_applicant")["token"]
    rows = [(f"rec-{i:07d}", f"user-{i % 5000}", "metro_trip", f"{i % 30}.5", DAY) for i in range(60_000)]
    data = as_csv(RECORD_COLUMNS, rows)
    assert len(data) > 2_000_000
    body = send(client, sid, token, data, record_count=len(rows))
    assert (body["rows_accepted"], body["rows_rejected"]) == (60_000, 0)
    # other routes keep their limit
    big = client.post(f"/api/v1/scenarios/{sid}/feed/credential", headers=user("sh_applicant"),
                      content=b"x" * 2_000_000)
    assert big.status_code == 413
