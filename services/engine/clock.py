"""The one clock. Production reads the system time; tests set and move it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._fixed: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._fixed if self._fixed is not None else datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock takes aware datetimes")
        with self._lock:
            self._fixed = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            base = self._fixed if self._fixed is not None else datetime.now(UTC)
            self._fixed = base + delta
            return self._fixed

    @contextmanager
    def then(self, moment: datetime) -> Iterator[None]:
        """Act as of `moment`, then return to the time before (fixed, or the system's): the demo data set
        records what happened weeks before its first run the way it would have happened."""
        with self._lock:
            before = self._fixed
        self.set(moment)
        try:
            yield
        finally:
            with self._lock:
                self._fixed = before

    def release(self) -> None:
        with self._lock:
            self._fixed = None


clock = Clock()
