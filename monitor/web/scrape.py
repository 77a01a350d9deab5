"""/metrics: rendered at most once per probe interval, served from a cache.

Rendering the exposition takes the GIL for tens to hundreds of ms at scale
(docs/performance.md), and every scrape used to render it again: ten
clients scraping back to back made probing rounds miss their budget (issue
10.3b). Now one render serves every scrape for `max_age()` seconds (the
probe interval, so no round is missed, at most `MAX_AGE`, so examnet's own
figures stay fresh for a 15 s scrape). Renders run one at a time in a
thread of their own (the HTTP loop keeps answering /healthz meanwhile);
the gzip body Prometheus asks for is compressed once per render; and at
most `MAX_SCRAPES` scrapes are served at once, the rest get 503.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

MAX_AGE = 15.0
MIN_AGE = 1.0
MAX_SCRAPES = 8
GZIP_LEVEL = 6  # zlib's default: 10x smaller than plain text, ~60 ms for 8 MB


@dataclass(frozen=True, slots=True)
class Exposition:
    body: bytes
    rendered_at: float  # monotonic
    gzipped: bytes | None = None


class BusyError(RuntimeError):
    """Too many scrapes at once."""


class Scrape:
    def __init__(self, render: Callable[[], bytes], max_age: Callable[[], float]) -> None:
        self._render = render
        self._max_age = max_age
        self._last: Exposition | None = None
        self._lock = asyncio.Lock()  # bound to the HTTP loop at its first use
        self._active = 0
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="examnet-scrape")
        self.renders = 0

    async def get(self, gzipped: bool) -> bytes:
        """The exposition (gzip-compressed if asked), rendered again only when too old."""
        if self._active >= MAX_SCRAPES:
            raise BusyError(f"{self._active} scrapes are being served")
        self._active += 1
        try:
            last = await self._fresh()
            if not gzipped:
                return last.body
            return await self._gzipped(last)
        finally:
            self._active -= 1

    async def _fresh(self) -> Exposition:
        async with self._lock:  # one render at a time; the waiting scrapes take its result
            last = self._last
            age = min(MAX_AGE, max(MIN_AGE, self._max_age()))
            if last is None or time.monotonic() - last.rendered_at >= age:
                body = await self._in_worker(self._render)
                last = self._last = Exposition(body, time.monotonic())
                self.renders += 1
            return last

    async def _gzipped(self, last: Exposition) -> bytes:
        if last.gzipped is not None:
            return last.gzipped
        async with self._lock:
            current = self._last
            if current is not None and current.gzipped is not None:
                return current.gzipped
            packed = await self._in_worker(lambda: gzip.compress(last.body, GZIP_LEVEL))
            if current is last:
                self._last = Exposition(last.body, last.rendered_at, packed)
            return packed

    async def _in_worker(self, work: Callable[[], bytes]) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._worker, work)

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
