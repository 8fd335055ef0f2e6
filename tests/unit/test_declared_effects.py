"""`ProcedureSpec.declares`: what rows a case of a procedure can hold follows from the effects it
declares (the case read asks only for those: services.queries.cases)."""

from __future__ import annotations

from states.effects import ComposePanel, ConvenePanel, DrawPanel, PublishNotice, RecordComment
from states.machine import procedure

PANEL = (ConvenePanel, ComposePanel, DrawPanel)


def test_registration_convenes_a_panel_and_publishes_but_takes_no_comments() -> None:
    spec = procedure("project_registration", "SH")
    assert spec.declares(*PANEL) and spec.declares(PublishNotice) and not spec.declares(RecordComment)


def test_a_filing_is_consulted_on_so_it_takes_comments() -> None:
    assert procedure("methodology_filing", "SH").declares(RecordComment, PublishNotice)


def test_issuance_and_retirement_declare_no_panel_and_no_notice() -> None:
    for name in ("issuance", "retirement"):
        spec = procedure(name, "SH")
        assert not spec.declares(*PANEL) and not spec.declares(PublishNotice)
