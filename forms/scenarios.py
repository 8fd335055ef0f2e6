"""Forms of the scenario data path (issue 17): commissioning a verifier where the profile has no digital
verification, the individual's lookup token, a transfer of carbon points and a correction."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from forms.common import Comment, Form, Reasoning
from states.scenarios import TOKEN_PATTERN

# a user pseudonym as the enterprise's records carry it (states/scenarios.TOKEN_PATTERN)
Pseudonym = Annotated[str, StringConstraints(strip_whitespace=True, pattern=TOKEN_PATTERN)]
Grams = Annotated[int, Field(gt=0, lt=10**15)]


class VerifierChoice(Form):
    """Shanghai art. 15: the centre organises a technical service agency to verify the period's report."""

    verifier_id: int
    comments: Comment = ""


class ReportVerification(Form):
    """The commissioned verifier's opinion on the period's verification report."""

    opinion: Reasoning


class LookupTokenRequest(Form):
    """The enterprise asks for a user's lookup token (it hands the token to the user; only its hash is kept)."""

    user_id: Pseudonym


class PointsTransfer(Form):
    to_user_id: Pseudonym
    points: Annotated[int, Field(gt=0, lt=10**12)]


class CorrectionUser(Form):
    user_id: Pseudonym
    reduction_g: Grams | None = None  # None: the whole of the user's reduction of the period


class Correction(Form):
    """Ordos art. 11: reductions computed from data an evaluation found anomalous are reversed."""

    evaluation_id: int
    period: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]
    users: list[CorrectionUser] = Field(min_length=1, max_length=100_000)
    reason: Reasoning
