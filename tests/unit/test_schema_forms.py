"""Forms drawn from an action's JSON Schema and posted strings read back into its JSON."""

from __future__ import annotations

from forms.registration import ProjectApplication
from services.web.schema_forms import fields, read_back
from states.machine import procedure
from states.messages import Reason


def _schema(trigger: str) -> dict:
    spec = procedure("project_registration", "SH")
    return next(t.form for t in spec.transitions if t.trigger == trigger).model_json_schema()


def test_widgets_follow_the_schema() -> None:
    drawn, _ = fields(_schema("record_opinion"))
    by_name = {f.name: f for f in drawn}
    assert by_name["opinion"].widget == "select" and by_name["opinion"].required
    assert [c for c, _ in by_name["opinion"].choices] == ["agree", "agree_with_changes", "disagree"]
    assert by_name["opinion"].choices[0][1] == ("同意", "Agree")
    assert by_name["score"].widget == "integer" and (by_name["score"].minimum, by_name["score"].maximum) == (0, 100)
    assert by_name["comments"].widget == "textarea" and not by_name["comments"].required
    assert by_name["score"].label == ("评分（0–100）", "Score (0–100)")


def test_application_fields_cover_dates_numbers_nullable_choices_and_nested_lists() -> None:
    drawn, _ = fields(ProjectApplication.model_json_schema())
    widgets = {f.name: f.widget for f in drawn}
    assert widgets["start_date"] == "date" and widgets["expected_annual_reduction_tco2e"] == "number"
    # a list of records is a small table, one line a record: never a field that asks for JSON (issue 15)
    assert widgets["project_class"] == "select" and widgets["other_schemes"] == "rows"
    table = next(f for f in drawn if f.name == "other_schemes")
    assert [c.name for c in table.columns] == ["scheme", "reference"] and table.columns[0].widget == "select"
    assert [c.name for c in table.rows[0]] == ["other_schemes.0.scheme", "other_schemes.0.reference"]


def test_read_back_types_values_and_passes_bad_ones_through_for_validation() -> None:
    data, problems = read_back(_schema("record_opinion"), {"opinion": "agree", "score": "85", "comments": "好"})
    assert data == {"opinion": "agree", "score": 85, "comments": "好"} and problems == []
    data, _ = read_back(_schema("record_opinion"), {"opinion": "agree", "score": "eighty"})
    assert data["score"] == "eighty"  # the form's validation will name the field and say why


def test_read_back_lines_integers_json_and_empty_optional_values() -> None:
    data, _ = read_back(_schema("compose_panel"), {"members": "3\n 4 \n\n5", "chair": "3"})
    assert data == {"members": [3, 4, 5], "chair": 3}
    schema = ProjectApplication.model_json_schema()
    data, problems = read_back(schema, {"kind": "project", "project_class": "1", "end_date": "",
                                        "other_schemes.0.scheme": "CCER", "other_schemes.0.reference": "X-1",
                                        "other_schemes.1.scheme": "", "other_schemes.1.reference": " "})
    assert data["project_class"] == 1 and data["end_date"] is None
    assert data["other_schemes"] == [{"scheme": "CCER", "reference": "X-1"}] and problems == []  # empty line dropped


def test_reasons_go_beside_their_field_and_the_rest_above_the_form() -> None:
    reasons = [Reason("too_short", "至少需要 1 项", "at least 1", "items"),
               Reason("state", "当前状态下不能执行", "not in this state")]
    drawn, loose = fields(_schema("request_supplement"), {"items": ["a"], "comments": "c"}, reasons)
    items = next(f for f in drawn if f.name == "items")
    assert [r.code for r in items.errors] == ["too_short"] and items.value == "a"
    assert [r.code for r in loose] == ["state"]
