"""The bot's own small state (the hash of each guild's last synced command set), by key."""

from __future__ import annotations

from sqlalchemy import select

from storage.base import Store
from storage.models import BotState
from storage.records import utcnow


class StateStore(Store):
    """Values the bot keeps between runs, by key."""

    async def get(self, key: str) -> str | None:
        """The value the bot stored under ``key``, or None."""
        async with self._sessions() as session:
            value: str | None = await session.scalar(
                select(BotState.value).where(BotState.key == key)
            )
            return value

    async def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any earlier value."""
        stmt = self._insert(BotState).values(key=key, value=value, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt)
