"""Wiring, in one place (cosmicpython's bootstrap): which procedure handles each declared effect, who
answers the rules' facts, and bringing a database to the running schema with the profiles loaded.

Every entrypoint calls `wire()` before it runs a command (the API and its pages, the CLI, the flows, the
tests, the benchmarks); it checks at start-up that every effect any procedure declares has a handler,
and that the profiles fit the procedures.
"""

from __future__ import annotations

from sqlmodel import Session

from services.engine import effects, facts
from services.engine.clock import clock
from services.procedures import (
    issuance,
    methodologies,
    panels,
    publicity,
    registration,
    reports,
    supervision,
)
from services.procedures.facts import CaseFacts
from services.procedures.scenarios import issuance as scenario_issuance
from services.store.engine import Database
from services.store.migrate import upgrade
from services.store.tables import Jurisdiction
from states import effects as declared
from states.machine import all_specs, declared_effects, validate_profiles
from states.messages import label
from states.profiles import all_profiles
from states.spec import NATIONAL


def _register() -> None:
    register = effects.register
    # registration and the application
    register(declared.ApplyEdit, registration.apply_edit, preview=registration.merged_application)
    register(declared.RecordSubmission, registration.record_submission)
    register(declared.CreateSubject, registration.create_subject)
    register(declared.RegisterSubject, registration.register_subject)
    register(declared.DiscloseSubject, registration.disclose_subject)
    # the expert panel
    register(declared.ConvenePanel, panels.convene)
    register(declared.ComposePanel, panels.compose)
    register(declared.DrawPanel, panels.draw_panel)
    register(declared.RecordOpinion, panels.record_opinion)
    register(declared.DeclinePanel, panels.decline)
    # publicity, consultation, objections and comments
    register(declared.PublishNotice, publicity.publish_notice)
    register(declared.CloseNotice, publicity.close_notice)
    register(declared.RecordObjection, publicity.record_objection)
    register(declared.SettleObjections, publicity.settle_objections)
    register(declared.RecordComment, publicity.record_comment)
    register(declared.AnswerComment, publicity.answer_comment)
    register(declared.PublishDispositions, publicity.publish_dispositions)
    register(declared.FileMethodology, methodologies.file_methodology)
    register(declared.KeepParameter, methodologies.keep_parameter)
    # issuance, retirement, the ledger
    register(declared.LinkSubject, issuance.link_subject)
    register(declared.RecordHolder, issuance.record_holder)
    register(declared.AddressVerifier, issuance.address_verifier)
    register(declared.RecordForm, issuance.record_form)
    register(declared.RememberHold, issuance.remember_hold)
    register(declared.ForgetHold, issuance.forget_hold)
    register(declared.Mint, issuance.mint)
    register(declared.RetireUnits, issuance.retire_units)
    register(declared.OpenFirstIssuance, issuance.open_first_issuance)
    # scenario issuance on the users' behalf (issue 17)
    register(declared.CommissionVerifier, scenario_issuance.commission_verifier)
    register(declared.IssueToUsers, scenario_issuance.issue_to_users)
    # supervision and reports
    register(declared.RecordNotice, supervision.record_notice)
    register(declared.Suspend, supervision.suspend)
    register(declared.ResumeProject, supervision.resume_project)
    register(declared.RevokeProject, supervision.revoke_project)
    register(declared.RecordFindings, supervision.record_findings)
    register(declared.RecordFeedback, supervision.record_feedback)
    register(declared.RectifyReported, supervision.rectify_reported)
    register(declared.RectifyObjection, supervision.rectify_objection)
    register(declared.RecordAudit, supervision.record_audit)
    register(declared.RectifyRevenue, supervision.rectify_revenue)
    register(declared.AssignHandlers, reports.assign_handlers)
    register(declared.WithdrawHandlers, reports.withdraw_handlers)
    facts.provide(CaseFacts)


_wired: list[bool] = []


def wire() -> None:
    """Register the handlers once a process, and check the declarations against them and the profiles."""
    if _wired:
        return
    _register()
    missing = effects.unhandled(e for spec in all_specs() for e in declared_effects(spec))
    if missing:
        raise LookupError(f"declared effects without a handler: {missing}")
    validate_profiles()
    _wired.append(True)


def load_profiles(session: Session) -> list[str]:
    """Mirror `states/jurisdictions/*.toml` into the jurisdictions table (the files are the truth), beside
    the national scope's row (no profile: the national administrator's grant points at it)."""
    loaded = []
    if session.get(Jurisdiction, NATIONAL) is None:
        name = label(f"jurisdiction.{NATIONAL}")
        session.add(Jurisdiction(code=NATIONAL, name_zh=name["zh"], name_en=name["en"], profile={},
                                 profile_digest="", loaded_at=clock.now()))
    for code, profile in all_profiles().items():
        row = session.get(Jurisdiction, code) or Jurisdiction(code=code, name_zh="", name_en="", profile_digest="",
                                                              loaded_at=clock.now())
        if row.profile_digest != profile.digest:
            row.name_zh, row.name_en = profile.name_zh, profile.name_en
            row.profile, row.profile_digest = profile.model_dump(mode="json"), profile.digest
            row.loaded_at = clock.now()
            session.add(row)
            loaded.append(code)
    return loaded


def setup(db: Database) -> None:
    wire()
    upgrade(db)
    with db.write() as session:
        load_profiles(session)
