"""The Prefect automation that marks a lost flow run crashed (Prefect's "zombie flows" recipe).

A flow run sends a heartbeat event every `HEARTBEAT_SECONDS` (`PREFECT_FLOWS_HEARTBEAT_FREQUENCY`, set
by `services.cli worker` for itself and its runs; Prefect's minimum is 30). When a run's heartbeat stops
without a final state for `SILENCE`, the server sets it CRASHED: its deployment's concurrency slot is
freed at once (a run killed with its worker used to stay "Running" and hold the slot for 5 minutes), and
the next sweep reports it as an incident. `ensure()` creates the automation once (by name).
"""

from __future__ import annotations

import logging
from datetime import timedelta

log = logging.getLogger("carbon.worker")
NAME = "carbon: crash silent flow runs"
HEARTBEAT_SECONDS = 30
SILENCE = timedelta(seconds=45)


def ensure() -> bool:
    """Create the automation unless it exists; True when created."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    try:
        # sync_compatible: called from synchronous code it runs, and returns the Automation, not a coroutine
        # the ignore below: sync_compatible: from synchronous code it runs and returns the Automation
        Automation.read(name=NAME)  # type: ignore[unused-coroutine]
        return False
    except ValueError:
        pass
    Automation(
        name=NAME,
        description="A flow run whose heartbeat stopped without a final state is marked crashed.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1, within=SILENCE),
        actions=[ChangeFlowRunState(name=None, force=False, state=StateType.CRASHED,
                                    message=f"No heartbeat for {SILENCE.total_seconds():.0f} s: its process was lost")],
    ).create()
    log.info("automation %r created", NAME)
    return True
