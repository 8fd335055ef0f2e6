"""HTML forms generated from an action's JSON Schema, and posted fields read back into its JSON.

The schema is the one the API publishes (`form_schema` of the arrow's pydantic form), so the web
page and the API can never disagree on what an action takes. Reading back is lenient on purpose:
what cannot be converted is passed on as typed, so the form's own validation names the field and
says why in both languages, and the page shows it beside the field with the values kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from states.messages import Reason

# Field names as people say them. English falls back to the schema's title.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "title": ("名称", "Title"), "kind": ("类型", "Kind"), "methodology_code": ("方法学编号", "Methodology code"),
    "methodology_version": ("方法学版本", "Methodology version"), "project_class": ("项目类别", "Project class"),
    "location": ("实施地点", "Location"), "start_date": ("开始日期", "Start date"),
    "end_date": ("结束日期", "End date"),
    "expected_annual_reduction_tco2e": ("预计年减排量（tCO2e）", "Expected annual reduction (tCO2e)"),
    "description": ("说明", "Description"), "consultant": ("咨询机构", "Consultant"),
    "expertise": ("所需专家领域", "Expertise needed"), "other_schemes": ("已在其他机制登记", "Other schemes"),
    "first_issuance_vintage": ("首次签发年度", "First issuance vintage"), "scheme": ("机制", "Scheme"),
    "reference": ("登记编号", "Reference"), "commitments": ("承诺事项", "Commitments"),
    "comments": ("意见说明", "Comments"), "reason": ("理由", "Reason"),
    "items": ("补正事项（每行一项）", "Items (one per line)"), "response": ("答复", "Response"),
    "changes": ("修改内容", "Changes"), "opinion": ("评审意见", "Opinion"),
    "report_sha256": ("报告文件 SHA-256", "Report SHA-256"),
    "members": ("专家用户编号（每行一个）", "Member user ids (one per line)"),
    "chair": ("组长用户编号", "Chair's user id"), "score": ("评分（0–100）", "Score (0–100)"),
    "conflict": ("利益冲突说明", "Conflict of interest"), "conclusion": ("评审结论", "Conclusion"),
    "dissent": ("不同意见", "Dissent"), "publicity_days": ("公示工作日数", "Publicity working days"),
    "reasons": ("理由（每行一条）", "Reasons (one per line)"), "name": ("姓名", "Name"),
    "contact": ("联系方式", "Contact"), "text": ("内容", "Text"), "reasoning": ("理由说明", "Reasoning"),
    "outcome": ("处理结果", "Outcome"), "tier": ("层级", "Tier"), "scope": ("适用范围", "Scope"),
    "summary": ("摘要", "Summary"), "parameters": ("关键参数", "Parameters"), "value": ("数值", "Value"),
    "unit": ("单位", "Unit"), "source": ("来源", "Source"), "source_date": ("来源日期", "Source date"),
    "organisation": ("单位", "Organisation"), "comment_id": ("意见编号", "Comment id"), "answer": ("答复", "Answer"),
    "disposition": ("采纳情况", "Disposition"), "code": ("编号", "Code"), "version": ("版本", "Version"),
    "revises": ("修订的版本", "Revises"), "period_start": ("监测期开始", "Period start"),
    "period_end": ("监测期结束", "Period end"), "claimed_tco2e": ("申请减排量（tCO2e）", "Claimed (tCO2e)"),
    "prepared_by_uscc": ("编制单位统一社会信用代码", "Prepared by (USCC)"),
    "prepared_by_name": ("编制单位名称", "Prepared by (name)"),
    "calculation_sheet_sha256": ("计算表 SHA-256", "Calculation sheet SHA-256"),
    "verifier_id": ("核查机构编号", "Verifier id"), "verified_tco2e": ("核查减排量（tCO2e）", "Verified (tCO2e)"),
    "issued_tco2e": ("签发减排量（tCO2e）", "Issued (tCO2e)"), "project_id": ("项目编号", "Project id"),
    "vintage": ("年度", "Vintage"), "amount_tco2e": ("数量（tCO2e）", "Amount (tCO2e)"),
    "purpose": ("用途", "Purpose"), "purpose_detail": ("用途说明", "Purpose detail"),
    "legal_document_ref": ("法律文书编号", "Legal document ref"),
    "serials": ("序列号区间（每行一个）", "Serial ranges (one per line)"),
    "required_actions": ("整改要求（每行一项）", "Required actions (one per line)"),
    "deadline_days": ("整改期限（工作日）", "Deadline (working days)"),
    "actions_taken": ("已采取措施（每行一项）", "Actions taken (one per line)"), "notes": ("备注", "Notes"),
    "findings": ("发现的问题", "Findings"), "internal_notes": ("内部备注", "Internal notes"),
    "severity": ("严重程度", "Severity"), "category": ("类别", "Category"),
    "evidence_sha256": ("证据文件 SHA-256", "Evidence SHA-256"), "needs_action": ("需要整改", "Needs action"),
    "excess_tco2e": ("超发量（tCO2e）", "Excess (tCO2e)"), "message": ("内容", "Message"),
    "subject": ("举报对象", "Subject"), "content": ("举报内容", "Content"), "year": ("年度", "Year"),
    "proceeds_cny": ("收益（元）", "Proceeds (CNY)"), "costs_cny": ("成本（元）", "Costs (CNY)"),
    "returned_to_users_cny": ("返还用户金额（元）", "Returned to users (CNY)"), "auditor": ("审计机构", "Auditor"),
    "new_project": ("新项目", "New project"),
    "officers": ("承办经办人用户编号（每行一个）", "Handling officers' user ids (one per line)"),
}

CHOICE_LABELS: dict[str, tuple[str, str]] = {
    "agree": ("同意", "Agree"), "agree_with_changes": ("修改后同意", "Agree with changes"),
    "disagree": ("不同意", "Disagree"), "project": ("项目", "Project"), "scenario": ("场景", "Scenario"),
    "re_review": ("重新审查", "Re-review"), "reject": ("不予登记", "Reject"), "rectify": ("责令整改", "Rectify"),
    "adopted": ("采纳", "Adopted"), "partly_adopted": ("部分采纳", "Partly adopted"),
    "not_adopted": ("不采纳", "Not adopted"), "large_event": ("大型活动碳中和", "Large event"),
    "own_operations": ("自身运营抵消", "Own operations"), "voluntary": ("自愿注销", "Voluntary"),
    "ecological_compensation": ("生态补偿", "Ecological compensation"), "low": ("轻微", "Low"),
    "medium": ("一般", "Medium"), "high": ("严重", "High"), "critical": ("特别严重", "Critical"),
    "plan_deviation": ("偏离监测计划", "Plan deviation"), "data_anomaly": ("数据异常", "Data anomaly"),
    "false_materials": ("材料虚假", "False materials"), "revenue_use": ("收益使用", "Revenue use"),
    "other": ("其他", "Other"), "1": ("一类", "Class 1"), "2": ("二类", "Class 2"),
}

LONG_TEXT = {"description", "comments", "reason", "response", "changes", "conflict", "conclusion", "dissent",
             "text", "reasoning", "summary", "scope", "answer", "notes", "internal_notes", "message", "content",
             "purpose_detail", "findings"}


@dataclass
class FieldView:
    name: str
    label: tuple[str, str]
    widget: str  # text | textarea | integer | number | checkbox | select | date | lines | json
    required: bool
    value: str = ""
    choices: list[tuple[str, tuple[str, str]]] = field(default_factory=list)
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    errors: list[Reason] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace(".", "-")


def _variants(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"]


def _nullable(prop: dict[str, Any]) -> bool:
    return any(v.get("type") == "null" for v in prop.get("anyOf", []))


def _widget(name: str, prop: dict[str, Any], defs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    variants = _variants(prop)
    main = variants[0] if variants else {}
    if "$ref" in main:
        return "json", main
    types = {v.get("type") for v in variants}
    if "enum" in main:
        return "select", main
    if main.get("type") == "boolean":
        return "checkbox", main
    if main.get("type") == "integer":
        return "integer", main
    if "number" in types:
        return "number", main
    if main.get("type") == "string" and main.get("format") == "date":
        return "date", main
    if main.get("type") == "array":
        items = main.get("items", {})
        return ("lines", main) if items.get("type") in ("string", "integer") else ("json", main)
    if main.get("type") == "object":
        return "json", main
    if name in LONG_TEXT or (main.get("maxLength") or 0) > 500:
        return "textarea", main
    return "text", main


def _shown(value: Any, widget: str) -> str:  # noqa: ANN401
    if value is None:
        return ""
    if widget == "lines" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if widget == "json" and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, indent=1)
    if widget == "checkbox":
        return "on" if value in (True, "on", "true", "1") else ""
    return str(value)


def fields(schema: dict[str, Any], values: dict[str, Any] | None = None,
           reasons: list[Reason] | None = None) -> tuple[list[FieldView], list[Reason]]:
    """The fields to draw, with the values typed so far and each field's reasons; and the reasons that
    belong to no field (a rule on the whole case), to show above the form."""
    values = values or {}
    reasons = reasons or []
    required = set(schema.get("required", []))
    defs = schema.get("$defs", {})
    out: list[FieldView] = []
    for name, prop in schema.get("properties", {}).items():
        widget, main = _widget(name, prop, defs)
        choices = [(str(c), CHOICE_LABELS.get(str(c), (str(c), str(c)))) for c in main.get("enum", [])]
        label = FIELD_LABELS.get(name, (prop.get("title") or name, prop.get("title") or name))
        value = values.get(name, prop.get("default"))
        out.append(FieldView(
            name=name, label=label, widget=widget, required=name in required, value=_shown(value, widget),
            # schema descriptions are written for developers, in English: the page shows only the shape hint
            choices=choices, help=_json_hint(main, defs) if widget == "json" else "",
            minimum=main.get("minimum"), maximum=main.get("maximum"), max_length=main.get("maxLength"),
            errors=[r for r in reasons if r.field and (r.field == name or r.field.startswith(name + "."))]))
    known = {f.name for f in out}
    loose = [r for r in reasons if not r.field or r.field.split(".")[0] not in known]
    return out, loose


def _json_hint(main: dict[str, Any], defs: dict[str, Any]) -> str:
    """What a JSON field wants, as an example built from the schema (the people filling it in are not
    programmers: show them the shape)."""
    target = main.get("items", main)
    ref = target.get("$ref", "")
    sub = defs.get(ref.rsplit("/", 1)[-1], target) if ref else target
    keys = list(sub.get("properties", {}))
    example: Any = dict.fromkeys(keys, "…") if keys else {}
    if main.get("type") == "array":
        example = [example]
    return "JSON: " + json.dumps(example, ensure_ascii=False)


def read_back(schema: dict[str, Any], posted: dict[str, str]) -> tuple[dict[str, Any], list[Reason]]:
    """Posted strings → the action's JSON. Values that can't be converted are passed through as typed
    (the form's validation then names them); JSON that doesn't parse is a reason of its own."""
    data: dict[str, Any] = {}
    problems: list[Reason] = []
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        widget, main = _widget(name, prop, defs)
        raw = posted.get(name)
        if widget == "checkbox":
            data[name] = raw in ("on", "true", "1")
            continue
        text = (raw or "").strip() if widget not in ("textarea",) else (raw or "")
        if text.strip() == "":
            if name in required:
                data[name] = "" if widget in ("text", "textarea", "date", "select") else None
                if widget in ("lines", "json"):
                    data[name] = [] if main.get("type") == "array" else {}
            elif _nullable(prop):
                data[name] = None
            continue
        if widget == "integer":
            data[name] = int(text) if text.lstrip("-").isdigit() and len(text) < 19 else text
        elif widget == "number":
            data[name] = text  # Tonnes accept decimal strings exactly
        elif widget == "select" and all(isinstance(c, int) for c in main.get("enum", [])):
            data[name] = int(text) if text.isdigit() else text
        elif widget == "lines":
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            if main.get("items", {}).get("type") == "integer":
                data[name] = [int(x) if x.isdigit() and len(x) < 19 else x for x in lines]
            else:
                data[name] = lines
        elif widget == "json":
            try:
                data[name] = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                problems.append(Reason("json_invalid", "格式应为 JSON（见字段下方示例）",
                                       "Expected JSON (see the example below the field)", name))
        else:
            data[name] = text
    return data, problems
