"""Discord's rate limits, as the emulator enforces them when asked to (benchmarks, some tests).

As Discord documents them (developers/docs/topics/rate-limits):

- **Per-route buckets.** Each route, per its *major parameter* (the channel, the guild, or
  the webhook and its token), allows so many requests per window. Every answer says where
  the bucket stands: ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (epoch seconds),
  ``-Reset-After`` (seconds) and ``-Bucket`` (an opaque id).
- **A global limit** per bot: 50 requests a second, over all routes; interaction callbacks
  and webhooks with a token are not counted.
- **Over a limit** the answer is ``429`` with ``{"message", "retry_after", "global"}``,
  ``Retry-After`` and ``X-RateLimit-Scope`` (``user`` or ``global``), and the request does
  nothing.
- **Invalid requests** (401, 403 and 429 answers): more than 10,000 in 10 minutes and every
  request is refused (``429``, scope ``global``) until the 10 minutes have passed.

Discord does not publish each route's numbers (they are learnt from the headers); the
emulator's are the commonly observed ones (:data:`ROUTE_LIMITS`), and tests may change them.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: (method, route pattern) -> (requests, window in seconds); the first match wins.
ROUTE_LIMITS: list[tuple[str, re.Pattern[str], int, float]] = [
    ("POST", re.compile(r"^/channels/\d+/messages$"), 5, 5.0),
    ("PATCH", re.compile(r"^/channels/\d+/messages/\d+$"), 5, 5.0),
    ("DELETE", re.compile(r"^/channels/\d+/messages/\d+$"), 5, 1.0),
    ("GET", re.compile(r"^/channels/\d+/messages$"), 5, 1.0),
    ("POST", re.compile(r"^/channels/\d+/threads$"), 10, 10.0),
    ("POST", re.compile(r"^/channels/\d+/messages/\d+/threads$"), 10, 10.0),
]
DEFAULT_LIMIT = (10, 1.0)
GLOBAL_PER_SECOND = 50
INVALID_LIMIT = 10_000
INVALID_WINDOW = 600.0
# A major parameter anywhere in the path (a guild's commands are under /applications/...).
_MAJOR = re.compile(r"/(channels|guilds)/(\d+)|^/webhooks/(\d+)/([^/]+)")
_ID = re.compile(r"/\d{5,}")


@dataclass
class _Bucket:
    limit: int
    window: float
    remaining: int
    reset_at: float


@dataclass
class RateLimiter:
    """The emulator's rate limits; ``enabled`` off by default (most tests do not need them)."""

    enabled: bool = False
    global_per_second: int = GLOBAL_PER_SECOND
    invalid_limit: int = INVALID_LIMIT
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    limited: int = 0  # 429s answered
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _global_window: float = 0.0
    _global_count: int = 0
    _invalid: list[float] = field(default_factory=list)

    @staticmethod
    def bucket_of(method: str, path: str) -> tuple[str, int, float, bool]:
        """The bucket key, its limit and window, and whether the global limit counts it."""
        route = _ID.sub("/{id}", path)
        major = _MAJOR.search(path)
        major_id = next((g for g in (major.groups() if major else ()) if g and g.isdigit()),
                        "")
        limit, window = DEFAULT_LIMIT
        for verb, pattern, n, seconds in ROUTE_LIMITS:
            if verb == method and pattern.match(path):
                limit, window = n, seconds
                break
        counted = not path.startswith(("/interactions/", "/webhooks/"))
        return f"{method} {route} {major_id}", limit, window, counted

    def check(self, method: str, path: str) -> tuple[dict[str, str], dict[str, Any] | None]:
        """Take a request into its bucket: (headers for the answer, a 429 body or None)."""
        if not self.enabled:
            return {}, None
        now = self.clock()
        self._invalid = [t for t in self._invalid if now - t < INVALID_WINDOW]
        if len(self._invalid) >= self.invalid_limit:
            retry = INVALID_WINDOW - (now - self._invalid[0])
            return self._refused(retry, scope="global", headers={}, banned=True)
        key, limit, window, counted = self.bucket_of(method, path)
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            bucket = self._buckets[key] = _Bucket(limit, window, limit, now + window)
        reset_after = max(0.0, bucket.reset_at - now)
        headers = {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Reset": f"{self.wall() + reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(key.rsplit(" ", 1)[0].encode()).hexdigest()[:16],
        }
        if counted:
            if now - self._global_window >= 1.0:
                self._global_window, self._global_count = now, 0
            if self._global_count >= self.global_per_second:
                retry = 1.0 - (now - self._global_window)
                return self._refused(retry, scope="global", headers={})
        if bucket.remaining <= 0:
            headers["X-RateLimit-Remaining"] = "0"
            return self._refused(reset_after, scope="user", headers=headers)
        bucket.remaining -= 1
        if counted:
            self._global_count += 1
        headers["X-RateLimit-Remaining"] = str(bucket.remaining)
        return headers, None

    def _refused(self, retry_after: float, *, scope: str, headers: dict[str, str],
                 banned: bool = False) -> tuple[dict[str, str], dict[str, Any]]:
        self.limited += 1
        retry_after = max(retry_after, 0.001)
        # Discord's 429s come through its API gateway ("Via"); a client takes a 429 without
        # it for a Cloudflare ban (discord.py does), which is the invalid-request lock-out.
        headers = {**headers, "Retry-After": str(max(1, round(retry_after))),
                   "X-RateLimit-Scope": scope}
        if not banned:
            headers["Via"] = "1.1 google"
        if scope == "global":
            headers["X-RateLimit-Global"] = "true"
        return headers, {"message": "You are being rate limited.",
                         "retry_after": round(retry_after, 3), "global": scope == "global"}

    def answered(self, status: int) -> None:
        """Count an invalid request (401, 403, 429) toward the 10-minute limit."""
        if self.enabled and status in (401, 403, 429):
            self._invalid.append(self.clock())
