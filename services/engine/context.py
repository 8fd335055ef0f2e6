"""What a command works with while it runs: the locked case, the actor, the validated form, the profile
and procedure in force, the moment, the case's open tasks, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel import Session

from services.engine.actors import Actor
from services.engine.calendar import WorkingCalendar, local_date
from services.engine.workdays import CALENDAR_KEY, calendar
from services.store import unit_of_work
from services.store.records import CaseRecord, TaskRecord
from services.store.tables import Case
from states.profiles import Profile
from states.spec import CaseView, ProcedureSpec, TransitionSpec
from states.tasks import Due, DueDate, DueInput

F = TypeVar("F", bound=BaseModel)


@dataclass
class Ctx:
    session: Session
    case: CaseRecord
    actor: Actor
    form: BaseModel | None
    profile: Profile
    spec: ProcedureSpec
    now: datetime
    tasks: list[TaskRecord]  # the case's open tasks, loaded once and kept current by open_task/close_task
    arrow: TransitionSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what the command reports back (and audits)

    def form_as(self, kind: type[F]) -> F:
        """The validated form as the kind an effect reads: the declaration pairs the effect with the
        trigger whose form this is, so another kind here is a declaration error."""
        if not isinstance(self.form, kind):
            raise TypeError(f"{self.spec.name}: an effect needs a {kind.__name__}, the trigger gave "
                            f"{type(self.form).__name__}")
        return self.form

    @property
    def today(self) -> date:
        return local_date(self.now)

    @property
    def uow(self) -> unit_of_work.UnitOfWork:
        return unit_of_work.of(self.session)

    @property
    def cal(self) -> WorkingCalendar:
        """Loaded only by commands that compute a deadline; once a transaction (a sweep's batch of
        commands shares one, and sees one calendar)."""
        memo = self.uow.memo
        if CALENDAR_KEY not in memo:
            memo[CALENDAR_KEY] = calendar(self.session)
        # the ignore below: the memo is typed Any; CALENDAR_KEY always holds a Calendar
        return memo[CALENDAR_KEY]  # type: ignore[no-any-return]

    def due(self, deadline: Due) -> DueDate | None:
        """A declared deadline (states.tasks) worked out for this case, today."""
        return deadline(DueInput(jurisdiction=self.case.jurisdiction, application=self.case.application,
                                 vintage=self.case.vintage, today=self.today, profile=self.profile,
                                 calendar=self.cal))


# a case as the engine holds it, or as a page reads it: the same columns
CaseLike = CaseRecord | Case


def case_view(case: CaseLike, application: dict[str, Any] | None = None) -> CaseView:
    """What rules may know of a case (states.spec.CaseView), with an application previewed or as stored."""
    return CaseView(id=case.id or 0, procedure=case.procedure, jurisdiction=case.jurisdiction, state=case.state,
                    subject_kind=case.subject_kind,
                    application=case.application if application is None else application,
                    submitted_on=case.submitted_on, held_from=case.held_from)
