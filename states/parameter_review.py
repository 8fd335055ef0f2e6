"""parameter_review 关键参数核实更新 (Jiaxing art. 11: 方法学开发所涉及的碳排放因子等关键参数应尽可能采用国家相关
主管部门公开的数据，并及时进行更新、公示; the reading is states/parameters.py).

Opened by the daily sweep of filed methodologies, once per parameter whose source has grown older than the
profile's `methodology.parameter_max_age_days` (none while one is open; again only when the parameter has
grown stale again). The review centre confirms the source is still the latest published, or updates the
parameter; either is recorded on the methodology version and shown on its public page.

    open ─confirm_parameter→ confirmed | ─update_parameter→ updated
"""

from __future__ import annotations

from forms.common import Empty
from forms.methodology import ParameterConfirmation, ParameterUpdate
from states.effects import KeepParameter
from states.messages import Reason
from states.parameters import update_reasons
from states.profiles import Profile
from states.spec import OpenedBy, ProcedureSpec, RuleInput, StateSpec, TransitionSpec
from states.tasks import TaskSpec

NAME = "parameter_review"
APPLICATION = Empty  # opened by the sweep: {version_id, code, version, parameter}
OPENED_BY: OpenedBy = "system"


def update_is_current(inp: RuleInput) -> list[Reason]:
    assert isinstance(inp.form, ParameterUpdate)
    return update_reasons(inp.form.source_date, inp.today, inp.profile.methodology.parameter_max_age_days)


def build(profile: Profile) -> ProcedureSpec:
    if profile.methodology.parameter_max_age_days is None:
        raise LookupError(f"{profile.code} sets no age for key parameters")
    states = (
        StateSpec("open", "stop", notify=("queue",),
                  tasks=(TaskSpec("parameter_review", "review_centre", ("confirm_parameter", "update_parameter"),
                                  sla="parameter_review"),)),
        StateSpec("confirmed", "stop", terminal=True),
        StateSpec("updated", "stop", terminal=True),
    )
    arrows = (
        TransitionSpec("confirm_parameter", ("open",), "confirmed", ("review_centre",), ParameterConfirmation,
                       effects=(KeepParameter(),)),
        TransitionSpec("update_parameter", ("open",), "updated", ("review_centre",), ParameterUpdate,
                       rules=(update_is_current,), effects=(KeepParameter(),)),
    )
    return ProcedureSpec(NAME, "open", states, arrows, application=APPLICATION, opened_by=OPENED_BY)
