"""Recent flow runs, read from the Prefect API for the administrators' view.

Runs a command set off are tagged with its procedure, jurisdiction and case (`flows/embedded.py`), the
annual campaign with its jurisdiction (`flows/campaign.py`): a jurisdiction's administrator sees the
runs tagged with their jurisdictions; the untagged ones (sweeps, scheduled dispatches) are system-wide,
the national administrator's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from services.engine.errors import CommandError
from services.queries.schemas import Public
from states.messages import reason


class PrefectUnavailable(CommandError):
    status, code = 503, "prefect_unavailable"


@dataclass(frozen=True)
class FailedRun:
    """A failed or crashed flow run, as the Prefect API gives it (`failed_runs`): what the incident detector reads."""

    id: str
    name: str
    flow: str
    state: str
    tags: tuple[str, ...]
    at: str | None


class FlowRun(Public):
    id: str
    name: str
    flow: str
    state: str | None = Field(description="Prefect's state type: SCHEDULED, RUNNING, COMPLETED, FAILED…")
    tags: list[str] = Field(description="The procedure, jurisdiction and case a command's run was set off by")
    start: str | None = Field(description="ISO 8601, as Prefect gives it")
    duration_seconds: float | None
    link: str = Field(description="The run in the Prefect UI")


class FlowRunList(Public):
    """Recent flow runs: the finished ones first (completed, failed, crashed, cancelled; newest end first),
    then those running now."""

    prefect_ui: str = Field(description="The Prefect UI the links point into")
    items: list[FlowRun]


def ui_url() -> str:
    api = os.environ.get("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    return os.environ.get("PREFECT_UI_URL", api.removesuffix("/api"))


async def recent_runs(limit: int = 50, jurisdictions: Iterable[str] | None = None) -> FlowRunList:
    """The latest runs; with `jurisdictions`, only the runs tagged with one of them (None: every run)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    FINISHED = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
    ACTIVE = [StateType.RUNNING, StateType.PENDING, StateType.CANCELLING, StateType.PAUSED]
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL

    wanted = None if jurisdictions is None else sorted(jurisdictions)
    if wanted == []:
        return FlowRunList(prefect_ui=ui_url(), items=[])  # an empty filter would be no filter at all
    if not PREFECT_API_URL.value():
        # without one, the client would start a temporary server inside this request
        raise PrefectUnavailable([reason("prefect_not_configured")])
    try:
        async with get_client() as client:
            tags = None if wanted is None else FlowRunFilterTags(any_=wanted)
            # finished runs first (failed and crashed ones among them, newest end first), then what runs now;
            # runs merely scheduled for later are not listed (there is one per schedule tick ahead)
            finished = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                tags=tags, state=FlowRunFilterState(type=FlowRunFilterStateType(any_=FINISHED))),
                limit=limit, sort=FlowRunSort.END_TIME_DESC)
            active = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                tags=tags, state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE))),
                limit=limit, sort=FlowRunSort.START_TIME_DESC)
            runs = [*finished, *active][:limit]
            flows = {f.id: f.name for f in await client.read_flows(limit=200)}
    except Exception as exc:
        raise PrefectUnavailable([reason("prefect_unavailable", error=exc)]) from exc
    base = ui_url()
    return FlowRunList(prefect_ui=base, items=[FlowRun(
        id=str(r.id), name=r.name, flow=flows.get(r.flow_id, str(r.flow_id)),
        state=r.state_type.value if r.state_type else None, tags=list(r.tags or []),
        start=r.start_time.isoformat() if r.start_time else None,
        duration_seconds=r.total_run_time.total_seconds() if r.total_run_time else None,
        link=f"{base}/runs/flow-run/{r.id}") for r in runs])


async def failed_runs(since: datetime, limit: int = 100) -> list[FailedRun]:
    """Flow runs that failed or crashed and were expected to start after `since` (what the incident detector
    reads each sweep). Empty without a configured Prefect API; PrefectUnavailable when it does not answer."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return []
    try:
        async with get_client() as client:
            runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                # the field validates (converts) a datetime into prefect's DateTime, which its type does not say
                expected_start_time=FlowRunFilterExpectedStartTime(after_=since),  # type: ignore[arg-type]
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.FAILED, StateType.CRASHED]))),
                limit=limit, sort=FlowRunSort.EXPECTED_START_TIME_DESC)
            flows = {f.id: f.name for f in await client.read_flows(limit=200)} if runs else {}
    except Exception as exc:
        raise PrefectUnavailable([reason("prefect_unavailable", error=exc)]) from exc
    return [FailedRun(id=str(r.id), name=r.name, flow=flows.get(r.flow_id, str(r.flow_id)),
                      state=r.state_type.value if r.state_type else "FAILED", tags=tuple(r.tags or ()),
                      at=at.isoformat() if (at := r.end_time or r.expected_start_time or r.start_time) else None)
            for r in runs]
