"""An administrator finds a dead letter in the outbox and sends it round again."""

from __future__ import annotations

from services.engine.clock import clock
from services.orchestration import dispatch
from services.store.tables import Outbox
from tests.browser.conftest import Site, Visitor, fresh_case


def _dead_letter(site: Site) -> int:
    """A notification for a Shanghai case whose payload the dispatcher cannot read: delivered once
    through the real dispatch path, it is dead-lettered at once (a malformed row does not heal)."""
    case_id = fresh_case(site, "SH", "submitted", "浏览器测试：死信")
    with site.db.write() as session:
        row = Outbox(key=f"browser-test:notify:{case_id}", kind="notify", case_id=case_id, payload={"garbled": True},
                     created_at=clock.now(), available_at=clock.now())
        session.add(row)
    assert dispatch.deliver(site.db, row, dispatch.Channels(smtp_host=None)) == "dead"
    return row.id


def test_an_administrator_retries_a_dead_letter(visitor: Visitor, site: Site) -> None:
    row_id = _dead_letter(site)
    visitor.sign_in("sh_admin")
    page = visitor.page
    page.get_by_role("link", name="发件箱").click()
    page.wait_for_load_state()
    visitor.shot("outbox")
    assert page.get_by_role("link", name="死信（投递失败）").get_attribute("aria-current") == "page"
    row = page.locator(f"#outbox-{row_id}")
    assert "⚠ malformed payload" in row.inner_text()
    row.get_by_role("button", name=f"重新投递 #{row_id}").click()
    page.wait_for_load_state()
    visitor.shot("retried")
    assert page.get_by_role("status").inner_text() == "✔ 已重新排队投递"
    assert page.locator(f"#outbox-{row_id}").count() == 0
    with site.db.read() as session:
        again = session.get(Outbox, row_id)
        assert again is not None and (again.status, again.attempts) == ("pending", 0)
    page.get_by_role("link", name="待投递").click()
    page.wait_for_load_state()
    visitor.shot("pending")
    assert page.locator(f"#outbox-{row_id}").is_visible()
