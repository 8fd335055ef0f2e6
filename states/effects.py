"""What taking an arrow, entering or leaving a state, or opening a case does: typed values a procedure
declares (DESIGN §4), not names looked up in a table.

The engine applies each effect by its type (`services.engine.effects.apply`) through the handler a
procedure module registered for it in one place (`services/bootstrap.py`, `register(Mint, mint)`),
so a reader, an IDE and mypy follow a declaration to its class and from the class to its handler.
Effects that arm timers of their own say so (`arms_timers`): leaving their state cancels them, with
no list kept by hand. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from states.tasks import TaskSpec


@dataclass(frozen=True)
class Effect:
    arms_timers: ClassVar[bool] = False


# --- the application ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyEdit(Effect):
    """Merge the form's changes into the application (checked whole; previewed before the rules run)."""


@dataclass(frozen=True)
class RecordSubmission(Effect):
    """The day of the first submission (the statutory clock's start)."""


@dataclass(frozen=True)
class RecordForm(Effect):
    """Keep the arrow's form in the application under `key` (a monitoring report, a verification…)."""

    key: str


# --- opening a case ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateSubject(Effect):
    """Registration: the application describes a new project or scenario, filed as a draft subject."""


@dataclass(frozen=True)
class LinkSubject(Effect):
    """Issuance: the case is about a registered project of the applicant's (in Jiaxing, the project its
    first filing describes, filed with it), for a vintage."""


@dataclass(frozen=True)
class RecordHolder(Effect):
    """Retirement: the units are the applicant's own, held in their account."""


# --- the subject ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterSubject(Effect):
    """A registration number unique per jurisdiction, year and kind (`SH-2026-P00042`), published."""


@dataclass(frozen=True)
class DiscloseSubject(Effect):
    """Beijing class 2: published, never registered or issued."""


@dataclass(frozen=True)
class FileMethodology(Effect):
    """A filed version in the registry; a revision supersedes the version it revises."""


@dataclass(frozen=True)
class KeepParameter(Effect):
    """Jiaxing art. 11: the reviewed parameter is confirmed current, or updated (its old value kept)."""


# --- the expert panel -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvenePanel(Effect):
    """Entering expert review: a panel already seated re-reviews (after a revision), else the officer is
    asked to compose one (and a random draw is queued where the profile draws)."""

    compose: TaskSpec
    opinion: TaskSpec
    conclusion: TaskSpec


@dataclass(frozen=True)
class ComposePanel(Effect):
    """The officer names the members and the chair."""


@dataclass(frozen=True)
class DrawPanel(Effect):
    """The random draw with recusal (services.procedures.panels)."""


@dataclass(frozen=True)
class RecordOpinion(Effect):
    pass


@dataclass(frozen=True)
class DeclinePanel(Effect):
    """A member declines or declares a conflict; a fresh draw replaces them."""


# --- publicity, consultation, objections, comments --------------------------------------------------------

NoticeKind = Literal["publicity", "consultation"]


@dataclass(frozen=True)
class PublishNotice(Effect):
    """A notice with its period in working days; the period's end is a timer firing `end_trigger`."""

    arms_timers: ClassVar[bool] = True
    kind: NoticeKind
    end_trigger: str


@dataclass(frozen=True)
class CloseNotice(Effect):
    kind: NoticeKind


@dataclass(frozen=True)
class RecordObjection(Effect):
    """The objection with its receipt (the objector's contact kept out of the audit trail)."""


@dataclass(frozen=True)
class SettleObjections(Effect):
    outcome: Literal["dismissed", "upheld"]


@dataclass(frozen=True)
class RecordComment(Effect):
    pass


@dataclass(frozen=True)
class AnswerComment(Effect):
    pass


@dataclass(frozen=True)
class PublishDispositions(Effect):
    pass


# --- issuance, the ledger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressVerifier(Effect):
    """The verification task goes to the verifier the applicant commissioned."""


@dataclass(frozen=True)
class RememberHold(Effect):
    """On hold: remember the state to come back to."""


@dataclass(frozen=True)
class ForgetHold(Effect):
    pass


@dataclass(frozen=True)
class Mint(Effect):
    """A serial block into the owner's account."""


@dataclass(frozen=True)
class IssueToUsers(Effect):
    """Scenario reductions minted to the enterprise's holding account on the users' behalf (Ordos arts. 12,
    16), with the per-user allocation and its Merkle root recorded."""


@dataclass(frozen=True)
class CommissionVerifier(Effect):
    """A scenario period's report goes to the verifier the centre chose (no digital verification)."""


@dataclass(frozen=True)
class RetireUnits(Effect):
    """The units retired for good, and the certificate."""


@dataclass(frozen=True)
class OpenFirstIssuance(Effect):
    """Shanghai art. 15: the first issuance rides with the registration."""


# --- supervision ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordNotice(Effect):
    """A rectification notice (its deadline in working days) kept with the case."""


@dataclass(frozen=True)
class Suspend(Effect):
    """The project is suspended and publicly noticed; its issuance cases go on hold."""


@dataclass(frozen=True)
class ResumeProject(Effect):
    pass


@dataclass(frozen=True)
class RevokeProject(Effect):
    """The project exits the scheme; claw-back or correction where the profile says so."""


@dataclass(frozen=True)
class RecordFindings(Effect):
    pass


@dataclass(frozen=True)
class RecordFeedback(Effect):
    pass


@dataclass(frozen=True)
class RectifyReported(Effect):
    """A substantiated report on a registered project opens a rectification."""


@dataclass(frozen=True)
class RectifyObjection(Effect):
    """An upheld objection on a registered project opens a rectification."""


@dataclass(frozen=True)
class RecordAudit(Effect):
    pass


@dataclass(frozen=True)
class RectifyRevenue(Effect):
    """Below the profile's share returned, or no report by the deadline: a rectification."""


@dataclass(frozen=True)
class AssignHandlers(Effect):
    """The approver names the officers who may read a report's reporter."""


@dataclass(frozen=True)
class WithdrawHandlers(Effect):
    pass
