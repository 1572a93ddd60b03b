"""What a user is told when a command fails: the errors commands raise, the one handler.

A command raises :class:`UserFacingError` (or a subclass) to tell the user something; it
subclasses :class:`discord.app_commands.AppCommandError` so that it reaches the tree's
handler as itself (anything else arrives wrapped in ``CommandInvokeError`` and counts as a
bug: logged with its context, the user gets a short apology, never a traceback).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeGuard

import discord
from discord import app_commands

from bot.client.permissions import missing_for

if TYPE_CHECKING:
    from bot.client.bot import SeminarBot

log = logging.getLogger(__name__)

SERVER_TROUBLE = "Discord had a problem answering just now: please try the command again."
# Discord's code for "Interaction has already been acknowledged": an answer whose reply was
# lost (a 5xx after Discord had taken it) and was sent again by discord.py's retry.
ALREADY_ACKNOWLEDGED = 40060
APOLOGY = (
    "Sorry, something went wrong on my side. Please try again in a moment; if it keeps "
    "happening, tell your teacher (the details are in the bot's log)."
)


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


def _forbidden_sentence(interaction: discord.Interaction[Any]) -> str:
    missing = missing_for(interaction)
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        return (f"I can't do that here: I need the {names} permission(s) in this channel. "
                "Please ask a server admin to give them to me.")
    return ("Discord did not let me do that in this channel: please ask a server admin to "
            "check my permissions here.")


def user_message(interaction: discord.Interaction[Any], error: Exception) -> str | None:
    """The sentence a user sees for a known error, or ``None`` when it is a bug."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError):
        return str(error)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only in a server channel, not in direct messages."
    if isinstance(error, app_commands.BotMissingPermissions):
        names = ", ".join(f"'{p.replace('_', ' ').title()}'" for p in error.missing_permissions)
        return f"I need the {names} permission(s) in this channel to do that."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} second(s)."
    if isinstance(error, app_commands.CheckFailure):
        text = str(error)
        return text if text and not text.startswith("The check functions") else (
            "You can't use this command here.")
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand {error.value!r}: please pick one of the suggestions."
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return ("This command was just updated and Discord hasn't caught up yet: please "
                "try again in a minute.")
    if isinstance(error, discord.Forbidden):
        return _forbidden_sentence(interaction)
    return None


def _already_acknowledged(error: BaseException) -> TypeGuard[discord.HTTPException]:
    """Whether Discord refused an answer because an earlier one, reply lost, was taken."""
    return isinstance(error, discord.HTTPException) and error.code == ALREADY_ACKNOWLEDGED


class SeminarTree(app_commands.CommandTree["SeminarBot"]):
    """The command tree, with one error handler for every slash command."""

    async def on_error(
        self, interaction: discord.Interaction[SeminarBot], error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        context = (f"/{command} (guild {interaction.guild_id}, channel {interaction.channel_id},"
                   f" user {interaction.user.id})")
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        text = user_message(interaction, error)
        if text is not None:
            log.info("Command %s: told the user: %s", context, text)
        elif isinstance(original, discord.DiscordServerError) or _already_acknowledged(original):
            # Discord's own trouble: worth a line in the log, not a traceback.
            log.warning("Command %s: Discord answered %s %s: %s", context,
                        original.status, original.code, original.text)
            text = SERVER_TROUBLE
        else:
            log.error("Command %s failed", context, exc_info=original)
            text = APOLOGY
        await send_ephemeral(interaction, text)


async def send_ephemeral(interaction: discord.Interaction[Any], text: str) -> None:
    """Tell the user ``text`` privately, whether or not the interaction was answered yet."""
    try:
        if not interaction.response.is_done():
            try:
                await interaction.response.send_message(text, ephemeral=True)
                return
            except discord.HTTPException as exc:
                if not _already_acknowledged(exc):
                    raise
                # Discord took an earlier answer whose reply was lost: follow that one up.
        await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException as exc:
        # The interaction may have expired, or Discord is down: the log is all we have.
        log.warning("Could not tell user %s about an error (%s %s): %s",
                    interaction.user.id, exc.status, exc.code, exc.text)
    except Exception as exc:  # the last resort must not raise (while shutting down, say)
        log.warning("Could not tell user %s about an error: %r", interaction.user.id, exc)

