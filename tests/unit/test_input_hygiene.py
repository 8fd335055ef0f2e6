"""Inputs no person means: dates centuries away, amounts signed zero, NUL characters, and documents that
are web pages in disguise. Each is refused with its own reason in both languages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from forms.issuance import MonitoringReport, VerifierFiling
from forms.methodology import KeyParameter
from forms.registration import ApplicationEdit, Objection, ProjectApplication
from forms.supervision import Finding, RevenueAuditReport
from services.demo import application, demo_uscc
from services.engine.forms_errors import reasons_from_validation
from services.procedures import documents

SHA = "a" * 64


def _codes(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[str, str | None]]:
    with pytest.raises(ValidationError) as exc:
        model.model_validate(data)
    reasons = reasons_from_validation(exc.value)
    assert all(r.zh and r.en and r.zh != r.en for r in reasons)
    return [(r.code, r.field) for r in reasons]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1989-12-31", "2101-01-01"])
def test_dates_outside_what_a_project_can_mean_are_refused(day: str) -> None:
    assert _codes(ProjectApplication, {**application("SH"), "start_date": day}) == [
        ("date_out_of_range", "start_date")]
    assert ("date_out_of_range", "end_date") in _codes(ApplicationEdit, {"end_date": day})
    report = {"period_start": "2025-01-01", "period_end": day, "claimed_tco2e": "1", "prepared_by_uscc": demo_uscc(1),
              "prepared_by_name": "某咨询公司", "calculation_sheet_sha256": SHA, "verifier_id": 1}
    assert ("date_out_of_range", "period_end") in _codes(MonitoringReport, report)
    filing = {"uscc": demo_uscc(2), "name": "某核查机构", "scopes": ["project"], "valid_from": day,
              "valid_until": "2030-01-01"}
    assert ("date_out_of_range", "valid_from") in _codes(VerifierFiling, filing)
    parameter = {"name": "排放因子", "value": "0.5366", "source": "生态环境部", "source_date": day}
    assert _codes(KeyParameter, parameter) == [("date_out_of_range", "source_date")]


def test_the_range_ends_are_allowed() -> None:
    assert ProjectApplication.model_validate({**application("SH"), "start_date": "1990-01-01",
                                              "end_date": "2100-12-31"}).end_date.year == 2100


@pytest.mark.parametrize("amount", ["-0", "-0.000", -0.0, Decimal("-0")])
def test_a_signed_zero_amount_is_refused_everywhere(amount: object) -> None:
    assert ("negative_zero", "excess_tco2e") in _codes(
        Finding, {"severity": "low", "category": "other", "description": "数据异常", "excess_tco2e": amount})
    audit = {"year": 2025, "proceeds_cny": amount, "costs_cny": "0", "returned_to_users_cny": "0", "auditor": "某所",
             "report_sha256": SHA}
    assert _codes(RevenueAuditReport, audit) == [("negative_zero", "proceeds_cny")]
    assert _codes(ProjectApplication, {**application("SH"), "expected_annual_reduction_tco2e": amount})[0][1] == \
        "expected_annual_reduction_tco2e"


def test_zero_is_an_amount_only_where_none_is_a_fact() -> None:
    finding = Finding.model_validate({"severity": "low", "category": "other", "description": "无", "excess_tco2e": "0"})
    assert finding.excess_tco2e == 0 and not finding.excess_tco2e.is_signed()
    # a project expecting no reductions at all is no project
    assert _codes(ProjectApplication, {**application("SH"), "expected_annual_reduction_tco2e": "0"}) == [
        ("greater_than", "expected_annual_reduction_tco2e")]


def test_a_nul_character_is_refused_in_any_text_of_a_form() -> None:
    form = {**application("SH"), "title": "光伏\x00项目", "location": {"division": "310114", "address": "上海\x00"}}
    assert _codes(ProjectApplication, form) == [("nul_character", "title"), ("nul_character", "location.address")]
    assert _codes(Objection, {"name": "张三", "contact": "13800000000", "text": "异议内容足够长了吗\x00是的"}) == [
        ("nul_character", "text")]
    (reason,) = reasons_from_validation(pytest.raises(ValidationError, Objection.model_validate,
                                                      {"name": "x\x00", "contact": "c", "text": "0123456789"}).value)
    assert (reason.zh, reason.en) == ("文本中含有不允许的控制字符（NUL）",
                                      "The text contains a forbidden control character (NUL)")


PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.mark.parametrize("data", [PDF, b"%PDF-1.4\n% plan\n%%EOF\n", b"%PDF-1.7\naudit\n%%EOF\n",
                                  PDF + b"\x00" * 600, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64])
def test_ordinary_documents_pass(data: bytes) -> None:
    ctype = documents.PNG if data.startswith(b"\x89PNG") else documents.PDF
    assert documents.check("a.pdf", ctype, data) == []


@pytest.mark.parametrize("data,declared,code", [
    (b"%PDF-1.4\n<html><script>fetch('/api/v1/me')</script></html>\n%%EOF", documents.PDF, "document_markup"),
    (b"%PDF-1.4\n" + b" " * 900 + b"<SVG onload=alert(1)>\n%%EOF", documents.PDF, "document_markup"),
    (b"\x89PNG\r\n\x1a\n<iframe src=//evil>", documents.PNG, "document_markup"),
    (b"a,b\n<script>x</script>,1\n", documents.CSV, "document_markup"),
    (b"%PDF-1.7\n1 0 obj<<>>endobj\n", documents.PDF, "document_truncated"),
    (PDF + b"0" * 2048, documents.PDF, "document_truncated"),
])
def test_polyglots_and_truncated_pdfs_are_refused(data: bytes, declared: str, code: str) -> None:
    assert [r.code for r in documents.check("a.pdf", declared, data)] == [code]


def test_a_document_name_with_a_nul_is_refused() -> None:
    assert [(r.code, r.field) for r in documents.check("a\x00.pdf", documents.PDF, PDF)] == [("nul_character", "name")]
