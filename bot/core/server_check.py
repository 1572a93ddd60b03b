"""The online check: is each course's server set up so that every step of Seminar works?

Pure: no discord.py. :mod:`bot.client.server_check` reads what Discord says (the server, its
channels and roles, the bot's permissions in each channel, the application's intents) into
the records below; :func:`course_problems` and :func:`app_problems` say what is wrong, each
problem with what to click in Discord to fix it. A problem with one course says nothing of
another.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot.core.config import CourseSettings

ChannelKind = Literal["text", "forum", "announcement", "voice", "category", "other"]

#: Discord's names for the permissions Seminar uses, by discord.py's attribute name.
PERMISSION_NAMES: dict[str, str] = {
    "view_channel": "View Channel",
    "read_message_history": "Read Message History",
    "send_messages": "Send Messages",
    "send_messages_in_threads": "Send Messages in Threads",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "create_public_threads": "Create Public Threads",
    "create_private_threads": "Create Private Threads",
    "manage_threads": "Manage Threads",
}
#: Their bits (Discord's permission flags), for the invite link.
PERMISSION_BITS: dict[str, int] = {
    "view_channel": 1 << 10, "send_messages": 1 << 11, "embed_links": 1 << 14,
    "attach_files": 1 << 15, "read_message_history": 1 << 16, "manage_threads": 1 << 34,
    "create_public_threads": 1 << 35, "create_private_threads": 1 << 36,
    "send_messages_in_threads": 1 << 38,
}
#: Everything the invite asks for: every permission any step needs, and nothing more.
INVITE_PERMISSIONS = sum(PERMISSION_BITS.values())
INVITE_SCOPES = ("bot", "applications.commands")
DEVELOPER_PORTAL = "https://discord.com/developers/applications"


def invite_link(application_id: int) -> str:
    """The link that adds the bot to a server with exactly what Seminar needs."""
    return (f"https://discord.com/oauth2/authorize?client_id={application_id}"
            f"&scope={'+'.join(INVITE_SCOPES)}&permissions={INVITE_PERMISSIONS}")


@dataclass(frozen=True, slots=True)
class ChannelSeen:
    """A channel of the server: its name, kind, and the bot's permissions in it."""

    id: int
    name: str
    kind: ChannelKind
    permissions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ServerSeen:
    """A server as the bot sees it."""

    id: int
    name: str
    channels: Mapping[int, ChannelSeen] = field(default_factory=dict)
    roles: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AppSeen:
    """The bot application: its id, and whether its privileged intents are on."""

    id: int
    members_intent: bool
    message_content_intent: bool


def class_channel_needs(course: CourseSettings, answer_first: bool) -> dict[str, str]:
    """The permissions each step needs in the class channel, with the step."""
    needs = {
        "view_channel": "see the class channel",
        "send_messages": "post lessons",
        "embed_links": "show the lesson in its post",
        "read_message_history": "catch up on replies written while it was away",
        "create_public_threads": "open a thread per question",
        "send_messages_in_threads": "write in the question threads",
        "attach_files": "send long questions and transcripts as files",
    }
    if course.lock_at_due:
        needs["manage_threads"] = "lock the threads at the due time (lock_at_due)"
    if answer_first:
        needs["create_private_threads"] = "open the private threads of answer-first lessons"
        needs["manage_threads"] = "let students into an answer-first thread once they answer"
    return needs


TEACHER_CHANNEL_NEEDS = {"view_channel": "see the teachers' channel",
                         "send_messages": "tell the teachers what happened"}


def _where(channel: ChannelSeen, server: ServerSeen) -> str:
    return f"#{channel.name} in {server.name}"


def course_problems(key: str, course: CourseSettings, server: ServerSeen | None, *,
                    answer_first: bool | None = None) -> list[str]:
    """Everything that would fail for a course, each with the fix; [] when all is set.

    ``server`` is None when the bot is not in the course's server (or may not see it).
    ``answer_first``: whether any of its lessons is posted answer-first (default: the
    course's own setting).
    """
    if server is None:
        return [f"course {key}: the bot is not in the server {course.guild_id} (guild_id): "
                "invite it with the link `seminar init` prints, or correct guild_id (right-click "
                "the server's icon → Copy Server ID)"]
    problems: list[str] = []
    private = course.answer_first if answer_first is None else answer_first
    checks: list[tuple[str, int | None, str, dict[str, str]]] = [
        ("channel_id", course.channel_id, "class channel", class_channel_needs(course, private)),
        ("teacher_channel_id", course.teacher_channel_id, "teachers' channel",
         TEACHER_CHANNEL_NEEDS),
    ]
    for setting, channel_id, what, needs in checks:
        if channel_id is None:
            continue
        channel = server.channels.get(channel_id)
        if channel is None:
            problems.append(
                f"course {key}: the {what} ({setting}: {channel_id}) is not a channel of "
                f"{server.name} any more: it was deleted or is out of the bot's sight. Pick "
                "the channel again (`seminar init`), or right-click it → Copy Channel ID "
                "and put that id in the config")
            continue
        allowed: tuple[ChannelKind, ...] = (("text", "forum", "announcement")
                                            if setting == "channel_id" else
                                            ("text", "announcement"))
        if channel.kind not in allowed:
            problems.append(
                f"course {key}: the {what} #{channel.name} is a {channel.kind} channel; it "
                f"must be a {' or '.join(allowed[:2])} channel. Choose another one for "
                f"{setting}")
            continue
        if setting == "channel_id" and private and channel.kind == "forum":
            problems.append(
                f"course {key}: answer-first lessons need private threads, which a forum "
                f"(#{channel.name}) does not have: use a text channel, or answer_first: false")
        missing = [PERMISSION_NAMES[p] for p in needs if p not in channel.permissions]
        if missing:
            reasons = "; ".join(f"{PERMISSION_NAMES[p]}: to {why}" for p, why in needs.items()
                                if p not in channel.permissions)
            problems.append(
                f"course {key}: in {_where(channel, server)} the bot lacks "
                f"{', '.join(repr(m) for m in missing)} ({reasons}). In Discord: right-click "
                f"#{channel.name} → Edit Channel → Permissions → add the bot's role (Seminar) "
                f"and allow {'them' if len(missing) > 1 else 'it'}; or Server Settings → Roles "
                "→ the bot's role")
    for setting, role_id in (("teacher_role_id", course.teacher_role_id),
                             ("student_role_id", course.student_role_id)):
        if role_id is not None and role_id not in server.roles:
            problems.append(
                f"course {key}: the role {setting}: {role_id} is not a role of {server.name} "
                "any more (deleted?). Pick the role again (`seminar init`), or Server "
                "Settings → Roles → right-click the role → Copy Role ID")
    return problems


def app_problems(app: AppSeen) -> list[str]:
    """The privileged intents Seminar needs and the application lacks, with the fix."""
    missing = [name for name, on in (("Server Members Intent", app.members_intent),
                                     ("Message Content Intent", app.message_content_intent))
               if not on]
    if not missing:
        return []
    return [f"the application's {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
            f"off: open {DEVELOPER_PORTAL}, choose the application, open Bot, switch on "
            f"{' and '.join(missing)} under Privileged Gateway Intents, and save"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The online check of one course, as stored for ``seminar schedule``."""

    checked_at: dt.datetime
    problems: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"checked_at": self.checked_at.isoformat(),
                           "problems": list(self.problems)})

    @classmethod
    def from_json(cls, text: str) -> Verdict | None:
        try:
            data = json.loads(text)
            return cls(dt.datetime.fromisoformat(data["checked_at"]),
                       tuple(str(p) for p in data["problems"]))
        except (ValueError, KeyError, TypeError):
            return None

    def line(self) -> str:
        """One line for the schedule: can the next lesson be posted as configured?"""
        when = self.checked_at.strftime("%Y-%m-%d %H:%M UTC")
        if not self.problems:
            return f"ready to post: the server was checked {when} and all is set"
        return (f"would fail as configured (checked {when}): "
                + " · ".join(p.split(": ", 1)[-1] for p in self.problems))


def verdict_key(course_key: str) -> str:
    """The bot-state key under which a course's last online check is kept."""
    return f"online-check:{course_key}"
