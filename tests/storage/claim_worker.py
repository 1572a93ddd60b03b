"""A separate process that races to claim lesson posts (used by the claim tests).

Usage: python -m tests.storage.claim_worker URL CLAIMANT COUNT SCHEDULED_AT_ISO
Prints ``ready`` once connected, waits for a line on stdin, claims ``lesson-0`` ..
``lesson-{COUNT-1}`` concurrently, then prints the lessons it won as a JSON list.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys

from storage.engine import create_engine, create_sessionmaker
from storage.repository import Repository


async def race(url: str, claimant: str, count: int, scheduled_at: dt.datetime) -> list[str]:
    """Claim every lesson at once; the lessons this process won."""
    engine = create_engine(url)
    try:
        repo = Repository(create_sessionmaker(engine))
        await repo.posts.get(0)  # connect before the race, so both start together
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        lessons = [f"lesson-{i}" for i in range(count)]
        due = scheduled_at + dt.timedelta(days=7)
        results = await asyncio.gather(
            *(repo.posts.claim("race", lesson, scheduled_at, due, claimant) for lesson in lessons)
        )
        return [lesson for lesson, won in zip(lessons, results, strict=True) if won is not None]
    finally:
        await engine.dispose()


def main() -> None:
    """Run one racer from the command line."""
    url, claimant, count, scheduled = sys.argv[1:5]
    won = asyncio.run(race(url, claimant, int(count), dt.datetime.fromisoformat(scheduled)))
    print(json.dumps(won), flush=True)


if __name__ == "__main__":
    main()
