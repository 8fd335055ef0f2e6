"""Forms of the issuance and retirement procedures, and of the ledger's commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from forms.common import USCC, Comment, Day, Form, Reasoning, ShortText, Tonnes, ordered_dates
from forms.registration import OtherScheme, ProjectApplication
from states.messages import BilingualError

# Serial numbers count whole tonnes: what is issued, moved and retired is an integer tCO2e.
Units = Annotated[int, Field(gt=0, lt=10**12)]


class IssuanceApplication(Form):
    """Opens an issuance case for a registered project — or, in Jiaxing, files the project with its
    first reduction filing (arts. 14–17): then `new_project` describes it and `project_id` is left out."""

    project_id: int | None = Field(None, ge=1)
    new_project: ProjectApplication | None = None
    vintage: int = Field(ge=2000, le=2100, description="the year the reductions belong to")
    title: str = ""  # filled in from the project when the case opens
    # Jiaxing art. 13: the first filing's declarations (the profile's commitments: no statutory obligation,
    # not under the national ETS, unique, inclusive); a filing for a registered project carries none
    commitments: dict[str, bool] = Field(default_factory=dict, max_length=20)

    @model_validator(mode="after")
    def _one_subject(self) -> IssuanceApplication:
        if (self.project_id is None) == (self.new_project is None):
            raise BilingualError.of("one_subject")
        return self


class MonitoringReport(Form):
    """The monitoring and accounting report (Jiaxing art. 14), and the verifier commissioned (art. 15)."""

    period_start: Day
    period_end: Day
    claimed_tco2e: Annotated[Tonnes, Field(gt=0)]
    prepared_by_uscc: USCC = Field(description="who prepared the accounting report (unified social credit code)")
    prepared_by_name: ShortText
    calculation_sheet_sha256: str = Field(pattern=r"^[0-9a-f]{64}$",
                                          description="SHA-256 of the calculation sheet uploaded to the case")
    verifier_id: int = Field(ge=1)
    # Ordos art. 17, Shanghai art. 14: the reductions are not claimed in another voluntary scheme (required
    # where the profile says so: states/double_claim.py); kept with each block issued
    not_claimed_elsewhere: bool | None = Field(
        None, description="I declare these reductions are not filed or issued in another voluntary scheme")

    @model_validator(mode="after")
    def _dates(self) -> MonitoringReport:
        ordered_dates(self.period_start, self.period_end, "monitoring")
        return self


class Verification(Form):
    verified_tco2e: Annotated[Tonnes, Field(gt=0)]
    opinion: Reasoning
    report_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class VerificationDeclined(Form):
    reasons: Reasoning


class IssuanceApproval(Form):
    issued_tco2e: Units
    comments: Comment = ""
    publicity_days: int | None = Field(None, ge=1, le=60)


class HoldReason(Form):
    reason: Reasoning


# `ets_compliance`: 配额履约清缴 in the jurisdiction's own ETS (Shanghai art. 17: class-I reductions only;
# `rules.compliance_use_allowed` refuses it wherever the profile names no methodology tier for it)
RetirementPurpose = Literal["large_event", "own_operations", "voluntary", "ecological_compensation", "ets_compliance"]


class RetirementRequest(Form):
    """Shanghai arts. 17–20, Jiaxing art. 21, Ordos art. 23."""

    amount_tco2e: Units
    purpose: RetirementPurpose
    purpose_detail: ShortText
    # Shanghai art. 20: ecological-damage compensation rests on a court or procuratorate document
    legal_document_ref: ShortText | None = None
    project_id: int | None = Field(None, ge=1, description="retire only units of this project")
    vintage: int | None = Field(None, ge=2000, le=2100)
    serials: str | None = Field(None, max_length=60, description="retire exactly this serial range")

    @model_validator(mode="after")
    def _document(self) -> RetirementRequest:
        if self.purpose == "ecological_compensation" and not self.legal_document_ref:
            raise BilingualError.of("legal_document_required")
        return self


class Transfer(Form):
    """Recorded by the operator after a trade at the exchange (trading itself happens there)."""

    from_account_id: int = Field(ge=1)
    to_account_id: int = Field(ge=1)
    amount_tco2e: Units
    project_id: int | None = Field(None, ge=1)
    vintage: int | None = Field(None, ge=2000, le=2100)
    serials: str | None = Field(None, max_length=60, description="move exactly this serial range")
    reference: ShortText = Field(description="the exchange's trade reference")


class VerifierFiling(Form):
    """An accredited third-party verifier, filed by the authority (Ordos art. 15)."""

    uscc: USCC
    name: ShortText
    scopes: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        min_length=1, max_length=50, description="methodology codes, or 'project' / 'scenario'")
    valid_from: Day
    valid_until: Day

    @model_validator(mode="after")
    def _dates(self) -> VerifierFiling:
        ordered_dates(self.valid_from, self.valid_until, "accreditation")
        return self


class DoubleClaimFinding(Form):
    """An operator's finding that an issued block is claimed in another scheme (Ordos art. 17, Shanghai
    art. 14): the block as issued, the scheme, what was found."""

    serial: str = Field(max_length=60, description="the issued block's serial range, as on the public registry")
    scheme: OtherScheme
    evidence: Reasoning
