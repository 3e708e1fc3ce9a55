"""Serving picks up a changed store folder: `shopbot import` (or an editor, or a sync job)
writes the files, and the next message is answered from them, with no restart."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bot.knowledge.grounding import ShopKnowledge
from bot.knowledge.shop import load_shop

log = logging.getLogger(__name__)

Fingerprint = frozenset[tuple[str, int, int]]


def fingerprint(folder: Path) -> Fingerprint:
    """Every file's name, size and modification time: any write changes it."""
    found = set()
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                stat = path.stat()
                found.add((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns))
        except OSError:  # removed while we looked: the next look sees the new state
            continue
    return frozenset(found)


async def watch_store(folder: Path, knowledge: ShopKnowledge, every_s: float = 2.0) -> None:
    """Reload when the folder changes and has then stayed the same for one more look (a copy
    half done is not loaded)."""
    seen = await asyncio.to_thread(fingerprint, folder)
    while True:
        await asyncio.sleep(every_s)
        now = await asyncio.to_thread(fingerprint, folder)
        if now == seen:
            continue
        await asyncio.sleep(every_s)
        settled = await asyncio.to_thread(fingerprint, folder)
        if settled != now:
            continue  # still being written; look again next round
        shop = await asyncio.to_thread(load_shop, folder)
        if not shop.offered:
            log.warning("store folder %s changed but has no offered products now; keeping the previous one", folder)
        else:
            await asyncio.to_thread(knowledge.replace, shop)
            log.info("store folder reloaded:\n%s", shop.summary())
        seen = settled
