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


def test_the_developer_and_the_officer_open_audits_from_the_page(db: Database, driver, test_clock,  # noqa: ANN001
                                                                 signed_in) -> None:  # noqa: ANN001
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
