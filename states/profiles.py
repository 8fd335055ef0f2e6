"""Jurisdiction profiles: one TOML file per seed in `states/jurisdictions/`.

A profile switches optional stages on or off and sets the numbers (PROCESSES.md, profile table).
Loading validates every file strictly so that a typo fails at start-up, not in a case.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from states import divisions
from states.messages import CATALOGUE, text

PROFILE_DIR = Path(__file__).parent / "jurisdictions"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistrationRules(_Strict):
    separate: bool
    publicity_days: int = Field(ge=1)
    publicity_days_max: int = Field(ge=1)
    publication_day_counts: bool = False
    scenario_joint_review: bool = False
    first_issuance_with_registration: bool = False
    project_classes: tuple[Literal[1, 2], ...] = ()
    commitments: tuple[str, ...] = ()
    # GB/T 2260 codes the subject's location must lie in (Jiaxing art. 12); empty: the seed sets no area
    area: tuple[str, ...] = ()
    # Ordos art. 9: apply only after the project or scenario is running (its start date is not ahead)
    running_before_application: bool = False

    @model_validator(mode="after")
    def _known(self) -> RegistrationRules:
        unknown = [c for c in self.commitments if f"commitment.{c}" not in CATALOGUE]
        if unknown:
            raise ValueError(f"commitments without a catalogue entry: {unknown}")
        if self.publicity_days_max < self.publicity_days:
            raise ValueError("publicity_days_max < publicity_days")
        unlisted = [c for c in self.area if divisions.get(c) is None]
        if unlisted:
            raise ValueError(f"area names divisions GB/T 2260 data does not list: {unlisted}")
        return self


class MethodologyRules(_Strict):
    tiers: tuple[str, ...] = ()
    public_comment: bool = False
    comment_days: int = Field(ge=1)
    publicity: bool = False
    publicity_days: int = Field(ge=1)
    grace_days: int = Field(ge=0)
    tier_priority: tuple[str, ...] = ()  # highest first (Ordos art. 5)
    # the tiers whose reductions may be retired for the local ETS's allowance compliance (Shanghai art. 17)
    compliance_tiers: tuple[str, ...] = ()
    # a key parameter's source may be this old before it is marked for update (Jiaxing art. 11; None: never)
    parameter_max_age_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _priority_known(self) -> MethodologyRules:
        if set(self.tier_priority) - set(self.tiers):
            raise ValueError("tier_priority names tiers the profile does not have")
        if set(self.compliance_tiers) - set(self.tiers):
            raise ValueError("compliance_tiers names tiers the profile does not have")
        return self


class IssuanceRules(_Strict):
    window: Literal["annual", "on_application"]
    window_opens: str = Field(pattern=r"^\d{2}-\d{2}$")   # MM-DD; the campaign opens on the first working day from it
    window_closes: str = Field(pattern=r"^\d{2}-\d{2}$")  # MM-DD; open cases expire at its end
    expert_review: bool = False
    publicity: bool = False
    publicity_days: int = Field(ge=1)
    earliest_date: date
    lookback_years: int = Field(ge=1)
    # Ordos art. 17, Shanghai art. 14: the owner declares at issuance that the reductions are not claimed in
    # another voluntary scheme; a block found claimed elsewhere is frozen and rectified (states/double_claim.py)
    no_double_claiming: bool = False


class RectificationRules(_Strict):
    deadline_days: int = Field(ge=1)
    max_rounds: int = Field(ge=1)
    on_failure: Literal["revoke", "stay_suspended"]
    false_materials_clawback: bool = False
    anomalous_data_adjustment: bool = False


class RevenueAuditRules(_Strict):
    enabled: bool = False
    due: str = Field(pattern=r"^\d{2}-\d{2}$")
    min_share: Decimal = Field(gt=0, le=1)
    request_days: int = Field(default=20, ge=1)  # working days an audit asked for (or filed late) is given


class OperationReportRules(_Strict):
    """Beijing: class-2 projects publish their revenue-management plan and how they ran (states/operation_report.py)."""

    enabled: bool = False
    due: str = Field(pattern=r"^\d{2}-\d{2}$")  # MM-DD of the year after the one reported


class PublicityRules(_Strict):
    days: int
    days_max: int
    publication_day_counts: bool


class ClockRules(_Strict):
    """办理时限: working days the authority may hold a case. `paused_in` overrides the declaration's
    default (Administrative Licensing Law arts. 42, 45: supplements, expert review and publicity
    do not count)."""

    limit_days: int = Field(ge=1)
    paused_in: tuple[str, ...] | None = None


class PanelRules(_Strict):
    min_size: int = Field(ge=1)
    size: int = Field(ge=1)
    draw: bool = True
    cool_off_days: int = Field(ge=0)
    quorum: str = Field(pattern=r"^[1-9][0-9]*/[1-9][0-9]*$")  # a fraction, kept exact: "2/3"

    @property
    def quorum_share(self) -> Fraction:
        share = Fraction(self.quorum)
        if not 0 < share <= 1:
            raise ValueError(f"quorum {self.quorum} is not in (0, 1]")
        return share

    @model_validator(mode="after")
    def _odd(self) -> PanelRules:
        if self.size % 2 == 0 or self.size < self.min_size:
            raise ValueError("a drawn panel's size must be odd and at least min_size")
        return self


class DocumentRules(_Strict):
    """The material an application carries, by type (`doc_kind.<key>` in the catalogue): `required`
    per procedure (what its submission needs; a seed names it) and `offered` per procedure (the other
    slots the applicant sees, none of them required)."""

    required: dict[str, tuple[str, ...]] = {}
    offered: dict[str, tuple[str, ...]] = {}

    @model_validator(mode="after")
    def _kinds_known(self) -> DocumentRules:
        named = {k for kinds in (*self.required.values(), *self.offered.values()) for k in kinds}
        unknown = sorted(k for k in named if f"doc_kind.{k}" not in CATALOGUE)
        if unknown:
            raise ValueError(f"document kinds without a catalogue entry: {unknown}")
        return self

    def kinds(self, procedure: str) -> tuple[str, ...]:
        """Every slot of the procedure, the required first, then `other` (always offered)."""
        out = [*self.required.get(procedure, ()), *self.offered.get(procedure, ())]
        return tuple(dict.fromkeys([*out, "other"]))

    def required_for(self, procedure: str) -> tuple[str, ...]:
        return self.required.get(procedure, ())


class ScenarioRules(_Strict):
    """Scenario data (issue 17): the issuance period, whether digital verification stands in for the
    third-party verifier (Ordos art. 15), points per kgCO2e (Shanghai art. 16) and whether they may move
    between individuals (Shandong 编制说明 二(二): not tradable), and when a record counts as late."""

    period: Literal["monthly", "quarterly", "annual"]
    digital_verification: bool = False
    points_per_kg: Decimal = Field(ge=0)
    points_transferable: bool = True
    late_days: int = Field(ge=0)  # a record whose activity date is older than this many days before its batch's
    history_days: int = Field(ge=1)  # days before a period its anomalies are measured against


class ReminderRules(_Strict):
    before_days: tuple[int, ...] = (2, 0)


# The rules whose legal basis a profile names (`[basis]`): the article is cited in the reasons and
# records of that jurisdiction only, never in another's.
BASIS_KEYS = ("compliance_use", "filing_with_first_issuance", "class_1_methodology_level", "class_2_not_issued",
              "standard_priority", "verifier_independence", "false_materials", "anomalous_data", "reductions_in_area",
              "prohibited_projects", "running_before_application", "disqualification", "required_documents",
              "no_double_claiming", "operation_report")


class Profile(_Strict):
    code: str = Field(pattern=r"^[A-Z]{2,4}$")
    name_zh: str
    name_en: str
    seed: str
    division: str | None = Field(None, pattern=r"^[0-9]{6}$")  # the jurisdiction's own GB/T 2260 division
    registration: RegistrationRules
    methodology: MethodologyRules
    issuance: IssuanceRules
    rectification: RectificationRules
    revenue_audit: RevenueAuditRules
    operation_report: OperationReportRules
    sla: dict[str, int]
    clock: ClockRules
    panel: PanelRules
    reminders: ReminderRules
    documents: DocumentRules = DocumentRules()
    scenarios: ScenarioRules
    basis: dict[str, tuple[str, str]] = {}  # rule -> (zh, en) article of this jurisdiction's seed

    @model_validator(mode="after")
    def _basis_known(self) -> Profile:
        unknown = sorted(set(self.basis) - set(BASIS_KEYS))
        if unknown:
            raise ValueError(f"[basis] names rules nobody cites: {unknown}")
        return self

    def cite(self, rule: str) -> dict[str, str]:
        """`basis_zh` / `basis_en` for a reason's text: "（嘉兴办法第十五条）" here, nothing where the seed is
        silent."""
        zh, en = self.basis.get(rule, ("", ""))
        cited = text("text.basis", zh=zh, en=en)
        return {"basis_zh": cited.zh if zh else "", "basis_en": cited.en if en else ""}

    def sla_days(self, name: str) -> int:
        return self.sla[name]

    def publicity_for(self, procedure: str) -> PublicityRules:
        """Each procedure's publicity length: registration (e.g. Shanghai arts. 12–13, Ordos art. 10
        "at least 5") and methodology filing (Jiaxing art. 10) are set separately."""
        reg = self.registration
        if procedure == "issuance":
            days = self.issuance.publicity_days
            return PublicityRules(days=days, days_max=days, publication_day_counts=reg.publication_day_counts)
        if procedure == "methodology_filing":
            days = self.methodology.publicity_days
            return PublicityRules(days=days, days_max=days, publication_day_counts=reg.publication_day_counts)
        return PublicityRules(days=reg.publicity_days, days_max=reg.publicity_days_max,
                              publication_day_counts=reg.publication_day_counts)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


DEFAULTS = "_defaults.toml"


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, table by table (a key the defaults lack is still refused by the model)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def load_profiles(directory: Path) -> dict[str, Profile]:
    """Every `*.toml` of a directory over its `_defaults.toml`: a new jurisdiction is one file."""
    defaults = tomllib.loads((directory / DEFAULTS).read_text(encoding="utf-8"))
    profiles: dict[str, Profile] = {}
    for path in sorted(directory.glob("[!_]*.toml")):
        try:
            profile = Profile.model_validate(_merged(defaults, tomllib.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
        if profile.code in profiles:
            raise ValueError(f"two profiles claim code {profile.code}")
        profiles[profile.code] = profile
    return profiles


@cache
def all_profiles() -> dict[str, Profile]:
    """The profiles in force: `states/jurisdictions/`, or the directory `CARBON_PROFILES` names."""
    return load_profiles(Path(os.environ.get("CARBON_PROFILES") or PROFILE_DIR))


def get_profile(code: str) -> Profile | None:
    return all_profiles().get(code)
