"""Prefect flows (dispatch, sweep, campaigns) and the embedded scheduler that runs them.

Prefect reads its settings at import: analytics off before any flow module imports it.
"""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
