"""Every form that changes something carries its own Idempotency-Key (`_idem`, drawn per form): the
same form submitted twice — a double click, the browser resending — acts once."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import func, select

from services.demo import Driver, application
from services.store.engine import Database
from services.store.tables import AuditEvent, Document
from tests.web.conftest import csrf_of

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "web" / "templates"
# forms that change nothing a retry could duplicate: signing in and out, the hat, reads (an objection followed
# by its receipt, a personal account opened with its lookup token: POST keeps the secret out of the URL),
# marking read; and a data credential, shown once: a reply holding it must not be stored for replay, and a
# second send only rotates it again (the page shows the one that works)
NO_KEY = ("/login", "/logout", "/hat", "/public/report/check", "/public/log", "/applicant/notices/read",
          "/public/objection/check", "/applicant/scenarios/{{ project.id }}/credential")
NO_KEY_EXACT = ("/my-reductions",)  # its transfer form (/my-reductions/transfer) moves points: keyed
FORM = re.compile(r'<form\b[^>]*method="post"[^>]*>(.*?)</form>', re.S)


def test_every_posting_form_carries_its_own_key() -> None:
    missing = []
    for path in TEMPLATES.rglob("*.html"):
        for match in FORM.finditer(path.read_text(encoding="utf-8")):
            action = re.search(r'action="([^"]*)"', match.group(0))
            where = action.group(1) if action else ""
            keyed = 'name="_idem" value="{{ form_key() }}"' in match.group(1)
            if not where.startswith(NO_KEY) and where not in NO_KEY_EXACT and not keyed:
                missing.append(f"{path.name}: {where}")
    assert missing == []


def _key(html: str, action: str) -> str:
    form = next(m.group(0) for m in FORM.finditer(html) if f'action="{action}"' in m.group(0))
    return re.search(r'name="_idem" value="([^"]+)"', form).group(1)


def test_the_same_upload_form_sent_twice_stores_one_document(driver: Driver, signed_in, db: Database) -> None:
    cid = driver.open("sh_applicant", "SH", application("SH"))
    b = signed_in("sh_applicant")
    page = b.get(f"/cases/{cid}").text
    sent = {"csrf": csrf_of(page), "_idem": _key(page, f"/cases/{cid}/documents")}
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    for _ in range(2):
        r = b.client.post(f"/cases/{cid}/documents", data=sent,
                          files={"file": ("监测计划.pdf", pdf, "application/pdf")})
        assert r.status_code == 303
    with db.read() as s:
        assert s.exec(select(func.count()).select_from(Document).where(Document.case_id == cid)).one() == 1
        assert s.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.case_id == cid, AuditEvent.event == "document_added")).one() == 1
    second = b.get(f"/cases/{cid}").text  # a page drawn again has fresh keys
    assert _key(second, f"/cases/{cid}/documents") != sent["_idem"]
