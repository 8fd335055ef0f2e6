"""`campaigns`: the annual issuance campaign of each profile whose window is open today, and the scenario
issuance campaign (one case per registered scenario and closed period, Ordos art. 15, Shanghai art. 15).

It opens an issuance case for every registered, unsuspended project that has none for the vintage
(idempotent: running it twice opens nothing twice); owners are notified through the outbox; the
cases' applicant tasks fall due when the window closes, so the sweep reminds them, and their window
timer expires them after (Beijing's application deadline). In Beijing the same run opens the year's
revenue audits (class 1) and operation reports (class 2), each with its due task and deadline timer; and
every run opens the review centre's task for each key parameter grown stale (Jiaxing art. 11)."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, tags, task

from flows.common import database
from services.engine.clock import clock
from services.procedures import issuance, methodologies, supervision
from services.procedures.scenarios.issuance import run_scenario_campaign
from states.profiles import all_profiles


@task(name="open-issuance-cases", task_run_name="open cases {jurisdiction} {vintage}")
async def open_cases(jurisdiction: str, vintage: int) -> dict[str, int]:
    return await asyncio.to_thread(issuance.run_campaign, database(), jurisdiction, vintage)


@flow(name="campaign", flow_run_name="campaign issuance {jurisdiction} {vintage}")
async def campaign_flow(jurisdiction: str, vintage: int) -> dict[str, Any]:
    return {"jurisdiction": jurisdiction, "vintage": vintage, **await open_cases(jurisdiction, vintage)}


@task(name="open-revenue-audits", task_run_name="revenue audits {jurisdiction} {year}")
async def open_audits(jurisdiction: str, year: int) -> dict[str, int]:
    return await asyncio.to_thread(supervision.open_revenue_audits, database(), jurisdiction, year)


@task(name="open-operation-reports", task_run_name="operation reports {jurisdiction} {year}")
async def open_operation_reports(jurisdiction: str, year: int) -> dict[str, int]:
    return await asyncio.to_thread(supervision.open_operation_reports, database(), jurisdiction, year)


@task(name="open-parameter-reviews", task_run_name="parameter reviews")
async def open_parameter_reviews() -> dict[str, int]:
    return await asyncio.to_thread(methodologies.open_parameter_reviews, database(), clock.now())


@task(name="open-scenario-issuance-cases", task_run_name="scenario issuance {jurisdiction}")
async def open_scenario_cases(jurisdiction: str) -> dict[str, int]:
    """One case per registered scenario and closed period (its report attached): what tests call too."""
    return await asyncio.to_thread(run_scenario_campaign, database(), jurisdiction)


@flow(name="scenario-campaign", flow_run_name="scenario issuance {jurisdiction}")
async def scenario_campaign_flow(jurisdiction: str) -> dict[str, Any]:
    return {"jurisdiction": jurisdiction, **await open_scenario_cases(jurisdiction)}


@flow(name="campaigns", flow_run_name="campaigns ({reason})")
async def campaigns_flow(reason: str = "daily") -> list[dict[str, Any]]:
    results = []
    for jurisdiction, vintage in await asyncio.to_thread(issuance.due_campaigns, database(), clock.now()):
        with tags("issuance", jurisdiction, f"vintage:{vintage}"):
            result = await campaign_flow(jurisdiction, vintage)
        if all_profiles()[jurisdiction].revenue_audit.enabled:  # Beijing: the year's revenue audits too
            result["revenue_audits"] = await open_audits(jurisdiction, vintage)
        if all_profiles()[jurisdiction].operation_report.enabled:  # Beijing: class-2 projects report how they ran
            result["operation_reports"] = await open_operation_reports(jurisdiction, vintage)
        results.append(result)
    # Jiaxing art. 11: every key parameter grown stale gets the review centre's task (once while it is open)
    results.append({"parameter_reviews": await open_parameter_reviews()})
    # scenarios issue per period (monthly, quarterly or annual by profile): each morning opens what closed
    for jurisdiction in all_profiles():
        with tags("scenario_issuance", jurisdiction):
            results.append(await scenario_campaign_flow(jurisdiction))
    return results
