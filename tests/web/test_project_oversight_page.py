"""The project supervision page (`/projects/{id}`): Beijing's revenue-use audits opened on demand by the
developer or at an officer's request (seeds/002_ed775c38b03cc2a5.txt, 编制说明 4(二))."""

from __future__ import annotations

import re

import pytest

from services.store.engine import Database
from services.store.tables import Case
from tests.conftest import at
from tests.e2e.test_issuance_http import registered_project

pytestmark = pytest.mark.e2e


def test_the_developer_and_the_officer_open_audits_from_the_page(db: Database, driver, test_clock,
                                                                 signed_in) -> None:
    project = registered_project(db, driver, test_clock, "BJ")
    test_clock.set(at("2026-09-15 09:00"))
    owner = signed_in("bj_applicant")
    page = owner.get(f"/projects/{project}")
    assert page.status_code == 200 and "收益使用审计" in page.text and 'name="due_days"' not in page.text
    bad = owner.post_form(f"/projects/{project}", f"/projects/{project}/revenue-audits", {"year": "2026"})
    assert bad.status_code == 422 and "2026年度尚未结束" in bad.text  # the reason, beside the form
    ok = owner.post_form(f"/projects/{project}", f"/projects/{project}/revenue-audits", {"year": "2025"})
    assert ok.status_code == 303 and re.match(r"^/cases/\d+$", ok.headers["location"])
    officer = signed_in("bj_case_officer")
    page = officer.get(f"/projects/{project}")
    assert 'name="due_days"' in page.text and "2025" in page.text
    asked = officer.post_form(f"/projects/{project}", f"/projects/{project}/revenue-audits",
                              {"year": "2026", "due_days": "10"})
    assert asked.status_code == 303
    with db.read() as s:
        case = s.get(Case, int(asked.headers["location"].rsplit("/", 1)[1]))
        assert case.procedure == "revenue_audit" and case.application["due_days"] == 10
    # another firm's applicant does not see the page at all
    assert signed_in("bj_applicant2").get(f"/projects/{project}").status_code == 404


def test_an_officer_records_a_block_claimed_elsewhere_from_the_page(browser, db: Database, driver,
                                                                   test_clock, signed_in) -> None:
    """Ordos art. 17 (seeds/004_81a3b90dcbf20f97.txt): the issued blocks with the owner's declaration, and the
    finding's form for staff only; a finding freezes the block and opens the rectification it leads to."""
    from tests.e2e.test_issuance_http import to_issued
    from tests.e2e.test_supervision_http import open_issuance

    client = browser.client
    project = registered_project(db, driver, test_clock, "ORD")
    to_issued(client, db, driver, test_clock, "ORD", open_issuance(client, "ORD", project))
    owner = signed_in("ord_applicant").get(f"/projects/{project}")
    assert "已声明未在其他机制申报" in owner.text and f"/projects/{project}/claimed-elsewhere" not in owner.text
    officer = signed_in("ord_case_officer")
    page = officer.get(f"/projects/{project}")
    serial = re.search(r'data-serial="([^"]+)"', page.text)[1]
    bad = officer.post_form(f"/projects/{project}", f"/projects/{project}/claimed-elsewhere",
                            {"serial": serial.replace("-000001-", "-000002-"), "scheme": "VCS", "evidence": "x"})
    assert bad.status_code == 422 and "没有签发序列号" in bad.text
    ok = officer.post_form(f"/projects/{project}", f"/projects/{project}/claimed-elsewhere",
                           {"serial": serial, "scheme": "VCS", "evidence": "VCS登记簿中有同一减排量"})
    assert ok.status_code == 303 and re.match(r"^/cases/\d+$", ok.headers["location"])
    with db.read() as s:
        case = s.get(Case, int(ok.headers["location"].rsplit("/", 1)[1]))
        assert case.procedure == "rectification" and case.application["findings"][0]["category"] == "double_claim"
    assert "VCS" in officer.get(f"/projects/{project}").text
