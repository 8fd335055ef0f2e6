"""The scenario enterprise's pages (issue 17; Ordos arts. 13–14): its scenarios, the credential issued on the
page and shown once, the batches with status and refusals by reason, the refused rows as CSV; another
organisation sees none of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.store.engine import Database
from states.scenarios import RECORD_COLUMNS
from tests.scenarios_setup import as_csv, registered_scenario, sha


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_DATA_DIR", str(tmp_path / "scenarios"))


@pytest.mark.parametrize("code", ["ORD", "SH"])
def test_the_enterprise_sees_its_batches_and_downloads_refused_rows(signed_in, app, db: Database, code: str) -> None:
    low = code.lower()
    sid = registered_scenario(db, code)
    me = signed_in(f"{low}_applicant")
    assert 'href="/applicant/scenarios"' in me.get("/applicant").text
    listing = me.get("/applicant/scenarios")
    assert listing.status_code == 200 and f'href="/applicant/scenarios/{sid}"' in listing.text
    assert "未签发" in listing.text
    page = me.get(f"/applicant/scenarios/{sid}")
    assert "尚未签发凭证" in page.text and "尚未收到" in page.text
    # the credential is issued on the page and shown this once
    issued = me.post_form(f"/applicant/scenarios/{sid}", f"/applicant/scenarios/{sid}/credential", {})
    assert issued.status_code == 200
    token = issued.text.split('<code class="token">')[1].split("</code>")[0]
    assert token.startswith("scn_") and token not in me.get(f"/applicant/scenarios/{sid}").text

    # the enterprise's system sends a day, and the consent feed
    data = as_csv(RECORD_COLUMNS, [("r1", "u1", "metro_trip", "3.5", "2026-03-01"),
                                   ("r2", "13800138000", "metro_trip", "1", "2026-03-01"),
                                   ("r1", "u1", "metro_trip", "2", "2026-03-01")])
    api = TestClient(app)
    r = api.post(f"/api/v1/scenarios/{sid}/records", headers={"Authorization": f"Bearer {token}"},
                 files={"file": ("d.csv", data)},
                 data={"batch_id": "2026-03-01", "business_date": "2026-03-01", "record_count": "3",
                       "sha256": sha(data)})
    assert r.status_code == 201, r.text
    consents = as_csv(("user_id", "status", "effective_date"), [("u1", "granted", "2026-02-01")])
    r = api.post(f"/api/v1/scenarios/{sid}/consents", headers={"Authorization": f"Bearer {token}"},
                 files={"file": ("c.csv", consents)},
                 data={"batch_id": "c-1", "business_date": "2026-03-01", "record_count": "1", "sha256": sha(consents)})
    assert r.status_code == 201, r.text

    page = me.get(f"/applicant/scenarios/{sid}").text
    row = page.split('data-batch="2026-03-01"')[1].split("</tr>")[0]
    assert "部分接收" in row and '<li data-code="pii_phone">' in row and '<li data-code="duplicate_in_batch">' in row
    assert ">3<" in row and ">1<" in row and ">2<" in row  # rows, accepted, refused
    link = f"/applicant/scenarios/{sid}/records/2026-03-01/rejected.csv"
    assert f'href="{link}"' in row
    consent_row = page.split('data-kind="consents"')[1].split('data-batch="c-1"')[1].split("</tr>")[0]
    assert "全部接收" in consent_row
    csv_text = me.get(link).content.decode("utf-8-sig").splitlines()
    assert csv_text[0].startswith("行号,记录编号") and len(csv_text) == 3
    assert csv_text[1].startswith("2,r2,13800138000,") and "pii_phone" in csv_text[1]
    assert "脱敏" in csv_text[1] and "desensitised" in csv_text[1]

    # another organisation's applicant sees nothing of it
    other = signed_in(f"{low}_applicant2")
    assert f"/applicant/scenarios/{sid}" not in other.get("/applicant/scenarios").text
    assert other.get(f"/applicant/scenarios/{sid}").status_code == 404
    assert other.get(link).status_code == 404
    assert me.get(f"/applicant/scenarios/{sid}/other/x/rejected.csv").status_code == 404
