"""Key parameters kept current (Jiaxing art. 11, seeds/003_4691f5d268057b21.txt: 方法学开发所涉及的碳排放因子等
关键参数应尽可能采用国家相关主管部门公开的数据，并及时进行更新、公示).

Our reading: "及时" needs a measure, which the seed leaves to the authority; the profile states it as the
age a parameter's source may reach (`methodology.parameter_max_age_days`, Jiaxing: 365 days, the yearly
rhythm in which the national grid emission factor is published). A parameter whose source date is older
than that, or that has no date, is due for confirmation or update, and the methodology's public page says
so, and the review centre gets a task (states/parameter_review.py) to confirm it — the source is still the
latest the national authorities publish, so the parameter counts as current from that day — or to update
it (new value, source and date; the old one kept in the parameter's history, all on the public page:
更新、公示). Where a profile sets no age (the other seeds say nothing), nothing is marked. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from states.messages import Reason, reason


def stale_parameters(parameters: Iterable[Mapping[str, Any]], today: date, max_age_days: int | None) -> list[str]:
    """The names of the parameters whose source is older than `max_age_days` on `today` (or undated)."""
    if max_age_days is None:
        return []
    oldest = today - timedelta(days=max_age_days)
    stale = []
    for p in parameters:
        when = current_since(p)
        if when is None or when < oldest:
            stale.append(str(p.get("name", "")))
    return stale


def _day(raw: Any) -> date | None:
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def current_since(parameter: Mapping[str, Any]) -> date | None:
    """Since when a parameter is known current: its source's date, or the day the review centre confirmed
    that source is still the latest the national authorities publish (`confirmed_on`), whichever is later."""
    days = [d for d in (_day(parameter.get("source_date")), _day(parameter.get("confirmed_on"))) if d is not None]
    return max(days) if days else None


def update_reasons(source_date: date, today: date, max_age_days: int | None) -> list[Reason]:
    """An update brings a source that is current: dated no later than today, and within the profile's age
    (an older one is no update: confirm it instead, saying why it is still the latest)."""
    if source_date > today:
        return [reason("parameter_source_future", field="source_date", date=source_date.isoformat())]
    if max_age_days is not None and source_date < today - timedelta(days=max_age_days):
        return [reason("parameter_source_still_stale", field="source_date", date=source_date.isoformat(),
                       days=max_age_days)]
    return []
