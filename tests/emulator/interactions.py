"""What a user sees after an interaction: the response, its edits and the followups."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .model import FLAG_EPHEMERAL, FLAG_LOADING, WAIT_TIMEOUT

if TYPE_CHECKING:
    from .state import State

# Interaction types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
# Callback types.
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9


@dataclass(eq=False)
class ResponseMessage:
    """A message the bot showed in answer to an interaction (possibly ephemeral)."""

    id: int
    channel_id: int
    payload: dict[str, Any]
    state: State = field(repr=False)
    deleted: bool = False
    edits: int = 0

    @property
    def content(self) -> str:
        """The message text."""
        return str(self.payload.get("content") or "")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """The message embeds, as the bot sent them."""
        return list(self.payload.get("embeds") or [])

    @property
    def components(self) -> list[dict[str, Any]]:
        """The message components (action rows with buttons, selects...)."""
        return list(self.payload.get("components") or [])

    @property
    def flags(self) -> int:
        """The message flags."""
        return int(self.payload.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user sees this message."""
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether this is still a "thinking..." placeholder of a deferred response."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def attachments(self) -> list[dict[str, Any]]:
        """The attached files: each payload plus its bytes under ``content``."""
        files = []
        for attachment in self.payload.get("attachments") or []:
            stored = self.state.attachments.get(int(attachment["id"]))
            files.append({**attachment, "content": stored.content if stored else b""})
        return files

    def buttons(self) -> list[dict[str, Any]]:
        """Every button on the message, in order."""
        return [c for c in _walk(self.components) if c.get("type") == 2]


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for component in components:
        found.append(component)
        found.extend(_walk(component.get("components") or []))
        for key in ("accessory", "component"):
            child = component.get(key)
            if isinstance(child, dict):
                found.extend(_walk([child]))
    return found


class InteractionResult:
    """Everything the user sees from one interaction, updated live as the bot answers.

    `type` is the callback type of the bot's first response (None until it answers).
    `original` is the message that response created or updated; `followups` the messages
    sent later through the interaction webhook. `content`, `embeds`, `components`,
    `attachments` and `ephemeral` describe `original`.
    """

    def __init__(self, *, id: int, token: str, kind: int, guild_id: int | None,
                 channel_id: int, user_id: int, payload: dict[str, Any],
                 deadline: float | None, notify: Callable[[], None]) -> None:
        self.id = id
        self.token = token
        self.kind = kind
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.user_id = user_id
        self.payload = payload
        self.created = time.monotonic()
        self.deadline = deadline
        self.type: int | None = None
        self.original: ResponseMessage | None = None
        self.followups: list[ResponseMessage] = []
        self.choices: list[dict[str, Any]] | None = None
        self.modal: dict[str, Any] | None = None
        self.duplicate_callbacks = 0
        self.error: str | None = None
        self.source_message_id: int | None = None
        self._timeline: list[ResponseMessage] = []
        self._original_edited = False
        self._changed = asyncio.Event()
        self._notify = notify

    def __repr__(self) -> str:
        return (f"<InteractionResult type={self.type} ephemeral={self.ephemeral} "
                f"content={self.content!r} followups={len(self.followups)} error={self.error!r}>")

    # ---- what the user sees ----------------------------------------------------------------

    @property
    def ephemeral(self) -> bool:
        """Whether the response is visible only to the user who acted."""
        return self.original.ephemeral if self.original is not None else False

    @property
    def content(self) -> str | None:
        """Text of the response message (None when there is none)."""
        return self.original.content if self.original is not None else None

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """Embeds of the response message."""
        return self.original.embeds if self.original is not None else []

    @property
    def components(self) -> list[dict[str, Any]]:
        """Components of the response message."""
        return self.original.components if self.original is not None else []

    @property
    def attachments(self) -> list[dict[str, Any]]:
        """Files of the response message, with their bytes under ``content``."""
        return self.original.attachments if self.original is not None else []

    @property
    def failed(self) -> bool:
        """Whether the user saw "This interaction failed" (no response in time)."""
        return self.error is not None

    @property
    def settled(self) -> bool:
        """Whether the user sees a final answer (not just "thinking..."), or it failed."""
        if self.failed:
            return True
        if self.type is None:
            return False
        if self.type == DEFERRED_CHANNEL_MESSAGE:
            return self._original_edited or bool(self.followups)
        return True

    def final(self) -> ResponseMessage | None:
        """The message the user saw change last (a response, an edit of it, or a followup)."""
        visible = [m for m in self._timeline if not m.deleted]
        return visible[-1] if visible else None

    def messages(self) -> list[ResponseMessage]:
        """The response and the followups, oldest first, without deleted ones."""
        found = [self.original] if self.original is not None else []
        found += [m for m in self.followups if m is not self.original]
        return [m for m in found if not m.deleted]

    # ---- waiting ---------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[InteractionResult], bool],
                       timeout: float = WAIT_TIMEOUT) -> InteractionResult:
        """Wait until predicate(self) holds; raise TimeoutError saying what was seen."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate(self):
            remaining = end - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"interaction never reached the expected state: {self!r}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))
            self.check_deadline()
        return self

    async def wait_settled(self, timeout: float = WAIT_TIMEOUT) -> InteractionResult:
        """Wait until the user sees a final answer (see `settled`)."""
        return await self.wait_for(lambda r: r.settled, timeout)

    def check_deadline(self) -> None:
        """Mark the interaction failed if the bot did not respond within Discord's 3 s."""
        if (self.type is None and self.error is None and self.deadline is not None
                and time.monotonic() - self.created > self.deadline):
            self.error = "This interaction failed (no response within the deadline)"
            self.changed()

    def changed(self) -> None:
        """Wake waiters after the bot did something to this interaction."""
        self._changed.set()
        self._notify()

    # ---- recording (used by the REST handlers) ---------------------------------------------

    def record(self, message: ResponseMessage, *, original: bool, edit: bool = False) -> None:
        """Note that the bot created or edited a visible message of this interaction."""
        if original:
            self.original = message
            if edit:
                self._original_edited = True
        if edit:
            message.edits += 1
        if message in self._timeline:
            self._timeline.remove(message)
        self._timeline.append(message)
        self.changed()

