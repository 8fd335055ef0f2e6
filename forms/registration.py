"""Forms of the project_registration procedure (PROCESSES.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from forms.common import Comment, Day, Form, LongText, Reasoning, ShortText, Tonnes, ordered_dates
from states import divisions
from states.messages import BilingualError

# Schemes a carbon-inclusion project must not also be registered in (Shanghai art. 14, Ordos art. 17,
# Jiaxing art. 28 唯一性, Shandong 五、第三章). `CN_ETS`: the national carbon emission trading market's
# allowance regime (全国碳排放权交易市场配额管理) — a project under it may not be developed at all in
# Jiaxing (art. 13(二)), and is double counting anywhere.
OtherScheme = Literal["CCER", "VCS", "GS", "CDM", "GEC", "GREEN_POWER", "CN_ETS", "OTHER"]


class Location(Form):
    """Where a project or scenario is: an administrative division chosen from the GB/T 2260 list
    (`states/divisions.py`: province, city or county code), and the street address within it. Jiaxing
    art. 12 (全部减排量应产生在嘉兴市行政区域内) is checked on the code, never on typed text."""

    division: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 code of the province, city or county")
    address: ShortText | None = Field(None, description="street address within the division")

    @field_validator("division")
    @classmethod
    def _listed(cls, value: str) -> str:
        if divisions.get(value) is None:
            raise BilingualError.of("division_unknown", code=value)
        return value


class OtherSchemeRegistration(Form):
    scheme: OtherScheme
    reference: ShortText


class ProjectApplication(Form):
    """What an applicant files: the subject of the registration (a project or a scenario)."""

    kind: Literal["project", "scenario"]
    title: ShortText
    methodology_code: ShortText
    methodology_version: str = Field(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z.\-]+$")
    project_class: Literal[1, 2] | None = None  # Beijing 编制说明 4(一)
    location: Location
    start_date: Day
    end_date: Day | None = None
    expected_annual_reduction_tco2e: Annotated[Tonnes, Field(gt=0)]  # a project that expects none is no project
    description: LongText = ""
    consultant: ShortText | None = None
    expertise: ShortText | None = Field(None, description="the field of expertise the panel needs, e.g. energy")
    other_schemes: list[OtherSchemeRegistration] = Field(default_factory=list, max_length=20)
    # Shanghai art. 15: the first issuance may be applied for together with the registration
    first_issuance_vintage: int | None = Field(None, ge=2000, le=2100)

    @model_validator(mode="after")
    def _dates(self) -> ProjectApplication:
        ordered_dates(self.start_date, self.end_date, "project")
        return self


class ApplicationEdit(Form):
    """A partial change to the application; only the fields given change."""

    title: ShortText | None = None
    methodology_code: ShortText | None = None
    methodology_version: str | None = Field(None, min_length=1, max_length=20, pattern=r"^[0-9A-Za-z.\-]+$")
    project_class: Literal[1, 2] | None = None
    location: Location | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    expected_annual_reduction_tco2e: Annotated[Tonnes, Field(gt=0)] | None = None
    description: LongText | None = None
    consultant: ShortText | None = None
    expertise: ShortText | None = None
    other_schemes: list[OtherSchemeRegistration] | None = Field(None, max_length=20)
    first_issuance_vintage: int | None = Field(None, ge=2000, le=2100)


class Submission(Form):
    """The applicant's commitments, by the keys the jurisdiction's profile requires."""

    commitments: dict[str, bool] = Field(default_factory=dict, max_length=20)
    comments: Comment = ""


class SupplementRequest(Form):
    items: list[Reasoning] = Field(min_length=1, max_length=50)
    comments: Comment = ""


class Resubmission(Form):
    """`changes` are checked against the procedure's edit form (its `edit` action's)."""

    response: Reasoning
    changes: dict[str, Any] | None = None


class ReviewOpinion(Form):
    opinion: Reasoning
    report_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class PanelComposition(Form):
    members: list[int] = Field(min_length=1, max_length=15)
    chair: int


class ExpertOpinion(Form):
    opinion: Literal["agree", "agree_with_changes", "disagree"]
    score: int = Field(ge=0, le=100)
    comments: Comment = ""


class PanelDecline(Form):
    """An expert declines a seat (with a reason); a declared conflict keeps them off this case for good."""

    reason: Reasoning
    conflict: bool = False


class PanelConclusion(Form):
    conclusion: Reasoning
    dissent: Comment = ""


class Approval(Form):
    comments: Comment = ""
    # Ordos art. 10: 不少于5个工作日 — the approver may set a longer publicity; the profile bounds it.
    publicity_days: int | None = Field(None, ge=1, le=60)


class Rejection(Form):
    reasons: Reasoning


class Objection(Form):
    """Lodged by anyone during publicity, without an account."""

    name: ShortText
    contact: ShortText
    text: str = Field(min_length=10, max_length=5000)


class ObjectionDismissal(Form):
    reasoning: Reasoning


class ObjectionUpheld(Form):
    """`rectify`: the objection shows a problem in an already registered project (e.g. during an
    issuance's publicity): the case is rejected and a rectification opens on the project."""

    reasoning: Reasoning
    outcome: Literal["re_review", "reject", "rectify"]


class Withdrawal(Form):
    reason: Comment = ""
