"""An applicant starts an application through the portal, saves the draft, makes the commitments and
submits it: it lands in the case officers' queue as a completeness check."""

from __future__ import annotations

from sqlmodel import select

from services.store.tables import Case, Task
from tests.browser.conftest import Site, Visitor


def test_an_applicant_starts_and_submits_an_application(visitor: Visitor, site: Site) -> None:
    title = "浏览器测试：申请人提交"
    visitor.sign_in("sh_applicant")
    page = visitor.page
    visitor.goto("/applicant/new", "new")
    page.get_by_label("类型").select_option(label="项目")
    page.get_by_label("名称").fill(title)
    # the methodology is chosen from the registry's filed versions, narrowed by a filter; nothing is typed
    picker = page.get_by_label("方法学（已备案版本）")
    assert picker.locator("option[value='SH-M-PV-001@1.0']").count() == 1
    assert picker.locator("option[value^='BJ-']").count() == 0  # another jurisdiction's are not offered
    page.get_by_label("筛选方法学").fill("照明")
    assert page.get_by_text("没有符合筛选条件的方法学").is_hidden()
    assert picker.input_value() == "SH-M-LED-002@1.0"  # the one left is chosen
    page.get_by_label("筛选方法学").fill("v1.0 风电")
    assert page.get_by_text("没有符合筛选条件的方法学").is_visible()
    page.get_by_label("筛选方法学").fill("光伏")
    visitor.shot("methodology-picker")
    assert picker.input_value() == "SH-M-PV-001@1.0"
    # Shanghai does not class projects: 项目类别 stays unchosen
    page.get_by_label("实施地点").select_option("310115")  # 浦东新区 (GB/T 2260)
    page.get_by_label("详细地址").fill("张江路 1 号")
    page.get_by_label("开始日期").fill("2025-03-01")
    page.get_by_label("预计年减排量（tCO2e）").fill("980.5")
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_load_state()
    visitor.shot("draft-saved")
    assert "/applicant/cases/" in page.url, page.locator("main").inner_text()
    case_id = int(page.url.split("/applicant/cases/")[1].split("?")[0])
    assert page.get_by_role("heading", level=1).inner_text() == f"#{case_id} {title}"
    with site.db.read() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.state == "draft"
        assert case.application["location"] == {"division": "310115", "address": "张江路 1 号"}
        assert (case.application["methodology_code"], case.application["methodology_version"]) == ("SH-M-PV-001",
                                                                                                "1.0")

    commitments = page.locator("fieldset", has=page.get_by_text("承诺事项（须全部勾选）"))
    boxes = commitments.get_by_role("checkbox")
    assert boxes.count() >= 1
    for i in range(boxes.count()):
        boxes.nth(i).check()
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_load_state()
    visitor.shot("submitted")
    assert page.get_by_role("status").first.inner_text() == "✔ 已提交", page.locator("main").inner_text()
    with site.db.read() as session:
        assert session.get(Case, case_id).state == "submitted"
        open_tasks = session.exec(select(Task.kind).where(Task.case_id == case_id, Task.status == "open")).all()
    assert open_tasks == ["completeness_check"]


def test_the_checklist_refuses_a_submit_without_the_required_documents(visitor: Visitor, site: Site) -> None:
    """Beijing 编制说明 4(二) (profile `[documents]`): the implementation plan and the project design
    document are registration material. Submitting without them is refused, every missing type named
    beside its slot; uploading into the slots lets the same submit through."""
    from services.demo import application

    case_id = site.driver.open("bj_applicant", "BJ", application("BJ", title="浏览器测试：材料清单", project_class=1))
    visitor.sign_in("bj_applicant")
    page = visitor.page
    visitor.goto(f"/applicant/cases/{case_id}", "checklist")
    assert page.locator("#documents").get_by_text("还缺 2 项必交材料").count() == 1
    commitments = page.locator("fieldset", has=page.get_by_text("承诺事项（须全部勾选）"))
    for i in range(commitments.get_by_role("checkbox").count()):
        commitments.get_by_role("checkbox").nth(i).check()
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_load_state()
    visitor.shot("checklist-refused")
    missing = page.locator("#documents li.slot.missing")
    assert sorted(missing.evaluate_all("els => els.map(e => e.dataset.kind)")) == ["implementation_plan",
                                                                                  "project_design"]
    assert "缺少申请材料：组织实施方案" in page.locator("li[data-kind=implementation_plan]").inner_text()
    with site.db.read() as session:
        assert session.get(Case, case_id).state == "draft"

    pdf = {"name": "plan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}
    for kind in ("implementation_plan", "project_design"):
        slot = page.locator(f"li[data-kind={kind}]")
        slot.locator("input[type=file]").set_input_files(pdf)
        slot.get_by_role("button", name="上传", exact=True).click()
        page.wait_for_load_state()
    visitor.shot("checklist-complete")
    assert page.locator("#documents").get_by_text("必交材料已齐").count() == 1
    commitments = page.locator("fieldset", has=page.get_by_text("承诺事项（须全部勾选）"))
    for i in range(commitments.get_by_role("checkbox").count()):
        commitments.get_by_role("checkbox").nth(i).check()
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_load_state()
    with site.db.read() as session:
        assert session.get(Case, case_id).state == "submitted"
