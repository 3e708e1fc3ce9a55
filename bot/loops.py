"""For background loops that retry on errors until cancelled."""

from __future__ import annotations

import asyncio


def stop_if_cancelled(error: BaseException) -> None:
    """Re-raise the cancellation a library turned into another error on the way up.

    A client cut off mid-call by cancel() may report a lost connection instead (redis-py does,
    under load): a loop that retries on errors would then swallow its own cancellation and run
    on after shutdown. Python 3.11 keeps the request on the task (`cancelling()`)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error
