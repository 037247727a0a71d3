"""Waiting for something the programs do in their own time, with a deadline and a clear message
instead of a fixed sleep."""
from __future__ import annotations

import http.client
import time

import requests


def wait_until(fn, timeout: float = 30.0, what: str = "", *, interval: float = 0.05, detail=None):
    """Calls fn until it returns something truthy, and returns that. Connection and parse errors
    count as "not yet"; an AssertionError raised by fn fails at once. After `timeout` seconds,
    raises AssertionError naming `what`, the last value or error, and `detail()` if given."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = value
        except (OSError, ValueError, KeyError, IndexError, http.client.HTTPException,
                requests.RequestException) as e:  # not ready yet
            last = repr(e)
        if time.monotonic() > deadline:
            extra = f"\n{detail()}" if detail else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}{extra}")
        time.sleep(interval)
