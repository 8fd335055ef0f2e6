"""Key parameters kept current (Jiaxing art. 11, seeds/003_4691f5d268057b21.txt: 方法学开发所涉及的碳排放因子等
关键参数应尽可能采用国家相关主管部门公开的数据，并及时进行更新、公示).

Our reading: "及时" needs a measure, which the seed leaves to the authority; the profile states it as the
age a parameter's source may reach (`methodology.parameter_max_age_days`, Jiaxing: 365 days, the yearly
rhythm in which the national grid emission factor is published). A parameter whose source date is older
than that, or that has no date, is due for confirmation or update, and the methodology's public page says
so. Where a profile sets no age (the other seeds say nothing), nothing is marked. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any


def stale_parameters(parameters: Iterable[Mapping[str, Any]], today: date, max_age_days: int | None) -> list[str]:
    """The names of the parameters whose source is older than `max_age_days` on `today` (or undated)."""
    if max_age_days is None:
        return []
    oldest = today - timedelta(days=max_age_days)
    stale = []
    for p in parameters:
        raw = p.get("source_date")
        try:
            when = date.fromisoformat(str(raw)) if raw else None
        except ValueError:
            when = None
        if when is None or when < oldest:
            stale.append(str(p.get("name", "")))
    return stale
