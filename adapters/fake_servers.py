"""How the fake platform servers (the Telegram Bot API, the Slack Web API) run for the tests
and the benchmarks: an aiohttp app on 127.0.0.1, port 0, in the caller's loop or on a loop of
its own in a thread (for a `shopbot` subprocess, or to time calls as they arrive)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager

from aiohttp import web


@asynccontextmanager
async def serve_aiohttp(app: web.Application) -> AsyncIterator[str]:
    """Yields the base URL, e.g. http://127.0.0.1:43121."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextmanager
def in_thread(serve: Callable[[], AbstractAsyncContextManager[str]]) -> Iterator[str]:
    """`serve()` on its own event loop in a thread; yields what it yields (its URL)."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[str] = concurrent.futures.Future()
    stopping: list[asyncio.Event] = []

    async def run() -> None:
        stop = asyncio.Event()
        stopping.append(stop)
        async with serve() as url:
            ready.set_result(url)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(stopping[0].set)
        thread.join(timeout=10)
        loop.close()
