"""Digital verification of a scenario's period (Ordos art. 15: 接入碳普惠平台的减排场景减排量优先以数字化方式
核证), the rules with no I/O: which inputs a period reads, what is excluded and why, how the figures are
shaped and what the report's digest covers.

Which records a period counts (decided here; no seed fixes it, Ordos art. 14 only says the data comes
daily and Shanghai art. 22 that it must be traceable):
- A record counts in the period of its activity date, if its batch arrived by the period's last day plus
  the profile's `late_days` (the cut-off). The period's inputs are therefore the accepted files of the
  batches whose business date lies in [start, end + late_days].
- A record that arrives after the cut-off of its activity's period (back-dated) is not counted anywhere:
  it is excluded as `back_dated` in the report of the period its batch's business date falls in, so every
  accepted record appears in exactly one report.
- Late records (intake's flag: activity more than `late_days` before the batch) that arrive by the cut-off
  count, and are counted as late.
- A record id seen twice among the period's records: intake refuses duplicates within and across batches,
  so the files were not all written by it; verification refuses the period (`scenario_duplicate_records`)
  rather than count a reduction twice or guess which copy is true (Shanghai art. 22: data true, traceable).
- Consent (Ordos art. 13: 须获得用户充分授权): a record counts only if the user's consent in force on its
  activity date is `granted`: the latest consent event with an effective date not after it; when a user
  has both a grant and a withdrawal on the same date the withdrawal wins (the authorisation must be clear).
  Consent feeds received by the cut-off are read. Records without it are excluded as `no_consent`.
- Caps: a user's quantity of an activity on a day above the methodology's `cap_per_user_day` is capped at
  it (the plausible part counts; the capped user-days are reported); no seed fixes caps, Ordos art. 7 asks for
  accurate quantification and art. 11 for correcting what comes from anomalous data, so the excess is
  corrected away rather than the user's whole day refused.
- Parameters: the methodology's registered parameter in force on the activity date
  (states.scenarios.parameter_in_force); a day with none in force is excluded as `no_parameter`, and a
  formula that is undefined there (division by zero) as `formula_undefined`.
- Anomalies (Ordos art. 11): days whose total lies far above the scenario's own history
  (states.scenarios.anomalous_days) are flagged for the review centre, not removed: the finding, if any,
  is the correction's to make.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from states.scenarios import Activity, Period, parameter_in_force

# What verification leaves out of the period's figures, in report order (each has `reason.scenario_<code>`)
VERIFY_EXCLUSIONS = ("back_dated", "no_consent", "no_parameter", "formula_undefined")
PII_REASONS = ("pii_phone", "pii_id_card", "pii_email")


def input_window(period: Period, late_days: int) -> tuple[date, date]:
    """Business dates of the batches a period reads: its own and those within the late window after it."""
    return period.start, period.end + timedelta(days=late_days)


def history_window(period: Period, history_days: int) -> tuple[date, date]:
    """Days before the period its anomalies are measured against (what had arrived before it began)."""
    return period.start - timedelta(days=history_days), period.start - timedelta(days=1)


def parameters_used(activities: Mapping[str, Activity], registered: Sequence[Mapping[str, object]],
                    days: Sequence[date]) -> dict[str, dict[str, list[dict[str, object]]]]:
    """Per activity and bound name, the values in force over `days` as runs: [{from, to, name, value}]
    (value None: none in force). Recorded in the report and covered by its digest."""
    out: dict[str, dict[str, list[dict[str, object]]]] = {}
    for activity in sorted(activities.values(), key=lambda a: a.type):
        per: dict[str, list[dict[str, object]]] = {}
        for local, name in sorted(activity.bind.items()):
            runs: list[dict[str, object]] = []
            for day in days:
                value = parameter_in_force(registered, name, day)
                if runs and runs[-1]["value"] == value:
                    runs[-1]["to"] = day.isoformat()
                else:
                    runs.append({"from": day.isoformat(), "to": day.isoformat(), "name": name, "value": value})
            per[local] = runs
        out[activity.type] = per
    return out


def pii_counts(rejections: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Rows refused at intake as personal identifiers (Shanghai art. 22), per kind, over some batches."""
    out = dict.fromkeys(PII_REASONS, 0)
    for r in rejections:
        for code in PII_REASONS:
            out[code] += int(r.get(code, 0))
    return out


def summed(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counts:
        for key, n in c.items():
            out[key] = out.get(key, 0) + int(n)
    return dict(sorted(out.items()))


def day_series(days: Sequence[date], rows: Mapping[date, Mapping[str, int]]) -> list[dict[str, object]]:
    """One entry per day of the period (zeros where no data came), for the report's charts."""
    return [{"day": d.isoformat(), "records": int(rows.get(d, {}).get("records", 0)),
             "users": int(rows.get(d, {}).get("users", 0)), "reduction_g": int(rows.get(d, {}).get("reduction_g", 0))}
            for d in days]


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def report_digest(figures: Mapping[str, Any], quantification: Mapping[str, Any], users_sha256: str) -> str:
    """SHA-256 over the canonical JSON of the input files' hashes, the parameters used, the quantification,
    the figures and the per-user file: the same inputs and parameters give the same digest on any engine.
    (`figures` carries the inputs and the parameters under its `inputs` and `parameters` keys.)"""
    return hashlib.sha256(canonical({"inputs": figures["inputs"], "parameters": figures["parameters"],
                                     "quantification": quantification, "users_sha256": users_sha256,
                                     "figures": {k: v for k, v in figures.items()
                                                 if k not in ("inputs", "parameters")}})).hexdigest()


MAX_DAILY_BARS = 62  # up to two months are charted day by day; longer periods by calendar month


def chart_series(days: Sequence[Mapping[str, Any]], anomalies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The report's per-day series as chart bars: one per day for a month or a quarter's shorter periods,
    else one per calendar month (a year's 365 bars would be unreadable); a bar is anomalous when one of its
    days is (Ordos art. 11)."""
    flagged = {str(a["day"]) for a in anomalies}
    if len(days) <= MAX_DAILY_BARS:
        return [{"label": str(d["day"]), "first": str(d["day"]), "last": str(d["day"]),
                 "reduction_g": int(d["reduction_g"]), "records": int(d["records"]),
                 "anomalous": str(d["day"]) in flagged} for d in days]
    months: dict[str, dict[str, Any]] = {}
    for d in days:
        day = str(d["day"])
        bar = months.setdefault(day[:7], {"label": day[:7], "first": day, "last": day, "reduction_g": 0,
                                          "records": 0, "anomalous": False})
        bar["last"] = day
        bar["reduction_g"] += int(d["reduction_g"])
        bar["records"] += int(d["records"])
        bar["anomalous"] = bar["anomalous"] or day in flagged
    return list(months.values())
