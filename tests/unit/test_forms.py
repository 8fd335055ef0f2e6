"""Form validation: every reason reported, in both languages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from forms.common import USCC_ALPHABET, uscc_check_char
from forms.organisation import OrganisationRegistration
from forms.registration import ProjectApplication
from services.demo import application, demo_uscc
from services.engine.forms_errors import reasons_from_validation
from states.messages import CATALOGUE


def _Org(uscc: str) -> OrganisationRegistration:
    return OrganisationRegistration(uscc=uscc, name="某某公司")


@pytest.mark.parametrize("code", ["91350100M000100Y43", demo_uscc(1), demo_uscc(250)])
def test_valid_uscc_passes(code: str) -> None:
    assert _Org(uscc=code.lower()).uscc == code


def test_uscc_checksum_known_example() -> None:
    # GB 32100-2015 worked example
    assert uscc_check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize("code,fragment", [
    ("91350100M000100Y44", "校验位"),       # wrong check character
    ("91350100M000100Y4", "18位"),          # too short
    ("91350100M000100I43", "非法字符"),     # I is not in the alphabet
])
def test_invalid_uscc_is_explained_in_both_languages(code: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _Org(uscc=code)
    (r,) = reasons_from_validation(exc.value)
    assert fragment in r.zh and r.en and r.field == "uscc"
    assert " | " not in r.zh and " | " not in r.en


def test_alphabet_excludes_ambiguous_letters() -> None:
    assert not set("IOZSV") & set(USCC_ALPHABET) and len(USCC_ALPHABET) == 31


def test_application_reports_every_error() -> None:
    bad = {**application("SH"), "expected_annual_reduction_tco2e": "-5", "start_date": "2025-05-01",
           "end_date": "2025-01-01", "title": "x" * 201, "kind": "factory", "surprise": 1}
    with pytest.raises(ValidationError) as exc:
        ProjectApplication.model_validate(bad)
    reasons = reasons_from_validation(exc.value, prefix="application")
    fields = {r.field for r in reasons}
    assert {"application.expected_annual_reduction_tco2e", "application.title", "application.kind",
            "application.surprise"} <= fields
    assert all(r.zh and r.en for r in reasons)
    assert any("大于或等于 0" in r.zh for r in reasons)


def test_reversed_dates_are_a_bilingual_reason() -> None:
    with pytest.raises(ValidationError) as exc:
        ProjectApplication.model_validate({**application("SH"), "start_date": "2025-05-01", "end_date": "2025-01-01"})
    (r,) = reasons_from_validation(exc.value)
    assert "早于开始日期" in r.zh and "before the start date" in r.en


def test_every_reason_template_has_both_languages() -> None:
    for key, (zh, en) in CATALOGUE.items():
        assert zh and en, key
