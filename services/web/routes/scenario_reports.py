"""A scenario's digital verification (Ordos art. 15) for the review centre and the approver: the reports of its
periods (`/scenarios/{id}/verification`), a form to verify a period (review centre, officer) and each report
(`/scenarios/{id}/reports/{report_id}`): counts, charts drawn on the server, rejections and exclusions by
reason, anomalies, the parameters used and the input files' hashes.

Reads are `services.queries.scenario_reports` (the API's), the command `verification.command` (the API's),
so the page and the API cannot disagree.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from services.api.deps import get_db
from services.engine.errors import CommandError
from services.procedures.scenarios import verification
from services.queries import scenario_reports as reads
from services.queries.schemas import plain
from services.web.charts import Bar, bar_chart
from services.web.deps import CheckedForm, SignedIn, form_dict, form_key
from services.web.pages import lang_of, render
from states.messages import Reason, text
from states.profiles import get_profile
from states.scenario_verification import chart_series
from states.scenarios import MIN_HISTORY_DAYS

router = APIRouter(include_in_schema=False)


def _kg(grams: int) -> str:
    return f"{grams / 1000:,.1f}"


def charts(figures: dict[str, Any], lang: str) -> list[tuple[str, Any]]:
    """The reductions and the records of the period as bar charts (anomalous days in the warning colour and
    marked ⚠); the page's tables carry the same figures."""
    def said(key: str, **params: Any) -> str:
        return text(key, **params).said_in(lang)

    series = chart_series(figures["days"], figures["anomalies"])
    daily = len(series) == len(figures["days"])
    unit = {"unit": said("chart.scenario_day" if daily else "chart.scenario_month"),
            "unit_en": "day" if daily else "month"}
    few = len(series) <= 12  # a value written on each bar only when there is room for it
    reductions, records = [], []
    for s in series:
        kg, tip = _kg(s["reduction_g"]), {"first": s["first"], "last": s["last"]}
        label = s["label"][-2:] if daily else s["label"]
        warn = said("chart.scenario_anomaly") if s["anomalous"] else ""
        reductions.append(Bar(label, s["reduction_g"] / 1000, kg if few or s["anomalous"] else "",
                              said("chart.scenario_bar", value=kg, unit="kg", **tip) + warn,
                              note="⚠" if s["anomalous"] else "", marked=s["anomalous"]))
        records.append(Bar(label, float(s["records"]), str(s["records"]) if few else "",
                           said("chart.scenario_bar", value=s["records"], unit="", **tip)))
    total_kg = _kg(sum(s["reduction_g"] for s in series))
    titles = said("chart.scenario_reductions"), said("chart.scenario_records")
    return [
        (titles[0], bar_chart("chart-reductions", titles[0], said("chart.scenario_reductions_described",
                                                                   total=total_kg, **unit), reductions, unit="kg")),
        (titles[1], bar_chart("chart-records", titles[1], said("chart.scenario_records_described",
                                                                total=sum(s["records"] for s in series), **unit),
                              records)),
    ]


def _list(request: Request, signed: Any, project_id: int, status: int = 200,
          values: dict[str, str] | None = None, reasons: list[Reason] | None = None) -> Response:
    with get_db(request).read() as session:
        project = reads.readable_scenario(session, signed.actor, project_id)
        listed = plain(reads.reports(session, signed.actor, project_id))
    profile = get_profile(project.jurisdiction)
    may_run = any(signed.actor.holds(r, project.jurisdiction) for r in verification.RUNS)
    return render(request, "scenario_reports.html", status_code=status, project=project, reports=listed["items"],
                  may_run=may_run, period_kind=profile.scenarios.period if profile else "monthly",
                  values=values or {}, reasons=reasons or [])


@router.get("/scenarios/{project_id}/verification")
def reports_page(project_id: int, request: Request, signed: SignedIn) -> Response:
    return _list(request, signed, project_id)


@router.post("/scenarios/{project_id}/verification")
async def run(project_id: int, request: Request, signed: SignedIn, form: CheckedForm) -> Response:
    period = str(form_dict(form).get("period") or "").strip()
    try:
        _, body = await run_in_threadpool(partial(verification.command, get_db(request), signed.actor, project_id,
                                                  period, "duckdb", form_key(form)))
    except CommandError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _list(request, signed, project_id, exc.status, {"period": period}, exc.reasons)
    return RedirectResponse(f"/scenarios/{project_id}/reports/{body['report_id']}", status_code=303)


@router.get("/scenarios/{project_id}/reports/{report_id}")
def report_page(project_id: int, report_id: int, request: Request, signed: SignedIn) -> Response:
    with get_db(request).read() as session:
        report = plain(reads.report(session, signed.actor, project_id, report_id))
    return render(request, "scenario_report.html", r=report, f=report["figures"],
                  charts=charts(report["figures"], lang_of(request)), kg=_kg, min_history_days=MIN_HISTORY_DAYS)
