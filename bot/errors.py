"""Errors a command raises to tell the user something: the tree's error handler shows the text.

Subclassing :class:`discord.app_commands.AppCommandError` lets the error reach the handler
as itself (anything else arrives wrapped in ``CommandInvokeError`` and counts as a bug).
"""

from __future__ import annotations

from discord import app_commands


class UserFacingError(app_commands.AppCommandError):
    """A problem the user can do something about; ``str(error)`` is one sentence for them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotInCourse(UserFacingError):
    """The command was used in a channel that belongs to no course."""


class UnknownLesson(UserFacingError):
    """No lesson has the name the user gave."""


class NothingToShow(UserFacingError):
    """The lesson exists but has nothing of the kind asked for (no transcript, say)."""
