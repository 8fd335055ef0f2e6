"""Entry points that run work on a schedule. Today: the embedded scheduler that sweeps due timers.
The orchestration issue adds the Prefect flows (dispatch, sweep, campaigns) here."""
