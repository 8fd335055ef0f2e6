"""Every reason a scenario batch's row can be refused for (states/scenarios.ROW_REASONS) is worded in the
catalogue in Chinese and English, as the API's refusals and the refused-rows CSV show it (issue 17)."""

from __future__ import annotations

from states.messages import CATALOGUE
from states.scenarios import PII_PATTERNS, ROW_REASONS


def test_every_row_reason_has_its_words_in_both_languages() -> None:
    for code in ROW_REASONS:
        zh, en = CATALOGUE[f"reason.scenario_{code}"]
        assert zh and en and zh != en, code
        assert "{" not in zh + en, code  # a row's reason takes no parameters
    for code in PII_PATTERNS:  # the privacy refusals cite the articles they rest on
        zh, en = CATALOGUE[f"reason.scenario_{code}"]
        assert "上海办法第二十二条" in zh and "Shanghai art. 22" in en
