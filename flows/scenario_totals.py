"""`scenario-totals`: a scenario's per-user, per-day reductions computed on a Dask cluster (issue 17,
"Engines": the computation the embedded DuckDB run does, scaled out), driven from Prefect through
prefect-dask's `DaskTaskRunner`.

The flow submits one task to the cluster; the task takes a client to the whole cluster
(`get_dask_client`) and runs `services.procedures.scenarios.totals.user_day_totals(engine="dask")`, whose
partial aggregations run on every worker over the Parquet row groups (the files must be on storage every
worker reads). By default the runner starts a local cluster; `DASK_SCHEDULER_ADDRESS` names an existing
one (e.g. `tcp://dask-scheduler:8786`). The flow keeps no case waiting: it computes and returns figures."""

from __future__ import annotations

import asyncio
import os
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect_dask.task_runners import DaskTaskRunner
from prefect_dask.utils import get_dask_client

from services.procedures.scenarios.totals import user_day_totals
from states.scenarios import activities_of


def task_runner() -> DaskTaskRunner:
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    return DaskTaskRunner(address=address) if address else DaskTaskRunner(
        cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "dashboard_address": None})


@task(name="scenario-user-day-totals", task_run_name="user-day totals {start}..{end}")
def totals_on_the_cluster(records: list[str], quantification: dict[str, Any], registered: list[dict[str, Any]],
                          start: date, end: date, out: str, consents: list[str] | None) -> dict[str, Any]:
    with get_dask_client() as client:
        totals = user_day_totals([Path(p) for p in records], activities=activities_of(quantification),
                                 registered=registered, start=start, end=end, out=Path(out),
                                 consents=[Path(p) for p in consents] if consents is not None else None,
                                 engine="dask", client=client)
    return {"records": totals.records, "used": totals.used, "excluded": totals.excluded, "capped": totals.capped,
            "users": totals.users, "total_g": totals.total_g,
            "per_day": {d.isoformat(): g for d, g in totals.per_day.items()}}


@flow(name="scenario-totals", flow_run_name="scenario totals {start}..{end}",
      # the ignore below: prefect-dask's task runner is typed for Prefect's older base class
      task_runner=task_runner())  # type: ignore[arg-type]
async def scenario_totals_flow(records: list[str], quantification: dict[str, Any], registered: list[dict[str, Any]],
                               start: date, end: date, out: str, consents: list[str] | None = None
                               ) -> dict[str, Any]:
    future = totals_on_the_cluster.submit(records, quantification, registered, start, end, out, consents)
    return await asyncio.to_thread(future.result)
