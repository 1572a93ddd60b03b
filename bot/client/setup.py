"""``seminar init``: from a bot token to a working ``config.yaml``, without copying an id.

It asks Discord who the bot is, prints the invite link (exactly the scopes and permissions
Seminar needs), waits until the bot is in a server, then offers that server's channels and
roles by name, a time zone (the machine's suggested, any IANA name accepted), and a first
weekly calendar; it imports the lesson pages it was given, writes the config with comments,
and ends with the same checks as ``seminar check --online``.

Interactive in a terminal (rich's prompts: numbered choices, defaults in brackets); every
answer is also a flag, so that it runs unattended (``--no-input``: a missing answer is an
error naming its flag).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import discord
from rich.console import Console
from rich.prompt import Prompt

from bot.client.run import OnlineTrouble, rest_client
from bot.client.server_check import check_online
from bot.core.config import DEFAULT_API_BASE, ConfigError, Settings, parse_settings
from bot.core.config_writer import WEEKDAYS, InitAnswers, Picked, config_text
from bot.core.lessons import Lesson, LessonError, dump_lesson, load_lessons
from bot.core.server_check import invite_link

T = TypeVar("T")
POLL_SECONDS = 3.0


class InitError(Exception):
    """``seminar init`` cannot go on; the message says what to do."""


@dataclass
class Asker:
    """Asks in a terminal, or takes the flag's value; refuses a missing one when unattended."""

    interactive: bool
    console: Console

    def choose(self, what: str, options: Sequence[tuple[str, T]], given: str | None, flag: str,
               *, optional: bool = False, match: Callable[[str, T], bool]) -> T | None:
        """One of ``options`` (label, value): the flag's (by id or name), or picked by number."""
        if given is not None:
            wanted = given.strip().lstrip("#@").casefold()
            for label, value in options:
                if match(wanted, value) or label.lstrip("#@").casefold() == wanted:
                    return value
            names = ", ".join(label for label, _ in options) or "none"
            raise InitError(f"{flag} {given!r} is not one of them (the choices: {names})")
        if not self.interactive:
            if optional:
                return None
            names = ", ".join(label for label, _ in options) or "none"
            raise InitError(f"{what}: give {flag} (the choices: {names})")
        if not options:
            if optional:
                return None
            raise InitError(f"{what}: there is none to choose from")
        self.console.print(f"\n[bold]{what}[/bold]")
        for number, (label, _) in enumerate(options, 1):
            self.console.print(f"  {number}) {label}")
        choices = [str(n) for n in range(1, len(options) + 1)]
        if optional:
            self.console.print("  0) none")
            choices.insert(0, "0")
        picked = Prompt.ask("Number", choices=choices, default="1", console=self.console,
                            show_choices=False)
        return None if picked == "0" else options[int(picked) - 1][1]

    def text(self, what: str, given: str | None, flag: str, *, default: str | None = None,
             check: Callable[[str], T]) -> T:
        """A typed answer, checked by ``check`` (a ValueError is its sentence); asked again
        until it is right in a terminal."""
        if given is not None:
            try:
                return check(given)
            except ValueError as exc:
                raise InitError(f"{flag} {given!r}: {exc}") from None
        if not self.interactive:
            if default is not None:
                return check(default)
            raise InitError(f"{what}: give {flag}")
        while True:
            answer = Prompt.ask(what, default=default, console=self.console)
            try:
                return check(answer or "")
            except ValueError as exc:
                self.console.print(f"[red]{exc}[/red]")


# --- checks for typed answers ------------------------------------------------------------------


def zone(text: str) -> str:
    try:
        ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not an IANA time zone name; for example Europe/Paris or "
                         "America/New_York") from None
    return text.strip()


def weekdays(text: str) -> list[str]:
    days = [d[:3].casefold() for d in text.replace(",", " ").split()]
    wrong = [d for d in days if d not in WEEKDAYS]
    if not days or wrong:
        raise ValueError(f"name weekdays as {', '.join(WEEKDAYS)} (for example: tue thu)")
    return list(dict.fromkeys(days))


def clock(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("write a time as HH:MM, for example 09:00") from None


def date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("write a date as YYYY-MM-DD, for example 2026-09-07") from None


def dates(text: str) -> list[dt.date]:
    return [date(part) for part in text.replace(",", " ").split()]


def key(text: str) -> str:
    cleaned = text.strip()
    if not cleaned or not all(c.isalnum() or c in "-_" for c in cleaned) or len(cleaned) > 50:
        raise ValueError("use letters, digits, - and _ (at most 50), for example history-101")
    return cleaned


def suggested_zone() -> str:
    """The machine's time zone, if it has an IANA name; else UTC."""
    try:
        from tzlocal import get_localzone_name

        name = get_localzone_name()
        return zone(name) if name else "UTC"
    except Exception:
        return "UTC"


# --- the steps -----------------------------------------------------------------------------------


async def _server(client: discord.Client, asker: Asker, given: str | None,
                  wait: float) -> discord.Guild:
    """The server to set up: the one named, the only one, or one picked; waits for an invite."""
    assert client.user is not None
    info = await client.application_info()
    asker.console.print(f"The bot is [bold]{client.user}[/bold] (application {info.id}).")
    asker.console.print(f"Invite it to your server with:\n  {invite_link(info.id)}")
    waited = 0.0
    guilds = [g async for g in client.fetch_guilds(limit=200)]
    while not guilds:
        if waited >= wait:
            raise InitError("the bot is in no server yet: open the invite link above, add it "
                            "to your server, and run `seminar init` again")
        if waited == 0:
            asker.console.print("Waiting until the bot has been added to a server "
                                "(Ctrl+C to stop)...")
        await asyncio.sleep(POLL_SECONDS)
        waited += POLL_SECONDS
        guilds = [g async for g in client.fetch_guilds(limit=200)]
    options = [(g.name, g) for g in guilds]
    picked = (guilds[0] if len(guilds) == 1 and given is None else
              asker.choose("The server", options, given, "--server",
                           match=lambda w, g: str(g.id) == w))
    assert picked is not None
    return await client.fetch_guild(picked.id)


def _named(kinds: Sequence[discord.ChannelType],
           channels: Sequence[discord.abc.GuildChannel]) -> list[tuple[str, Picked]]:
    return [(f"#{c.name}" + (" (forum)" if c.type == discord.ChannelType.forum else ""),
             Picked(c.id, c.name)) for c in sorted(channels, key=lambda c: c.position)
            if c.type in kinds]


def _by_id(wanted: str, picked: Picked) -> bool:
    return str(picked.id) == wanted or picked.name.casefold() == wanted


async def ask_everything(client: discord.Client, args: argparse.Namespace, asker: Asker,
                         lessons: Sequence[str]) -> InitAnswers:
    """Every answer of the config, from the flags or the terminal."""
    guild = await _server(client, asker, args.server, args.wait)
    channels = await guild.fetch_channels()
    text_like = (discord.ChannelType.text, discord.ChannelType.news)
    class_channel = asker.choose("The class channel (lessons are posted there)",
                                 _named((*text_like, discord.ChannelType.forum), channels),
                                 args.class_channel, "--class-channel", match=_by_id)
    assert class_channel is not None
    teachers = asker.choose("The teachers' channel (the bot tells teachers what happened)",
                            [o for o in _named(text_like, channels)
                             if o[1].id != class_channel.id],
                            args.teachers_channel, "--teachers-channel", optional=True,
                            match=_by_id)
    roles = [(f"@{r.name}", Picked(r.id, r.name)) for r in sorted(
        guild.roles, key=lambda r: -r.position) if not r.is_default() and not r.managed]
    teacher_role = asker.choose("The teachers' role", roles, args.teacher_role,
                                "--teacher-role", optional=True, match=_by_id)
    student_role = asker.choose("The students' role",
                                [o for o in roles if teacher_role is None
                                 or o[1].id != teacher_role.id],
                                args.student_role, "--student-role", optional=True,
                                match=_by_id)
    course_key = asker.text("The course's short key", args.course, "--course",
                            default=key_from(class_channel.name), check=key)
    course_name = asker.text("The course's name", args.course_name, "--course-name",
                             default=class_channel.name.replace("-", " ").title(),
                             check=lambda t: t.strip() or _empty())
    timezone = asker.text("Time zone", args.timezone, "--timezone", default=suggested_zone(),
                          check=zone)
    today = dt.datetime.now(ZoneInfo(timezone)).date()
    days = asker.text("Lesson days (mon tue wed thu fri sat sun)", args.weekdays,
                      "--weekdays", default="mon", check=weekdays)
    at = asker.text("Posting time (HH:MM, in that time zone)", args.time, "--time",
                    default="09:00", check=clock)
    start = asker.text("First day (YYYY-MM-DD)", args.start, "--start",
                       default=today.isoformat(), check=date)
    end = asker.text("Last day (YYYY-MM-DD)", args.end, "--end",
                     default=(start + dt.timedelta(weeks=15)).isoformat(), check=date)
    if end < start:
        raise InitError(f"the last day {end} is before the first {start}")
    skip = asker.text("Days without a lesson (YYYY-MM-DD, space separated; Enter for none)",
                      args.skip, "--skip", default="", check=dates)
    return InitAnswers(
        course_key=course_key, course_name=course_name,
        server=Picked(guild.id, guild.name), class_channel=class_channel,
        teachers_channel=teachers, teacher_role=teacher_role, student_role=student_role,
        timezone=timezone, weekdays=days, time=at, start=start, end=end, skip=skip,
        lessons=list(lessons), lessons_folder=args.lessons_folder,
        token_env=args.token_env,
        api_base=args.api_base if args.api_base != DEFAULT_API_BASE else None,
        gateway_url=args.gateway_url)


def _empty() -> str:
    raise ValueError("it cannot be empty")


def key_from(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.casefold())
    return cleaned.strip("-")[:50] or "course"


def import_pages(pages: Sequence[str], folder: Path, console: Console) -> list[str]:
    """Import lesson pages into the lessons folder (never overwriting); their names."""
    from bot.core.importer import PageImportError, import_page, slug_for
    from bot.core.yamlfile import FileProblem, read_text

    slugs: list[str] = []
    for page in pages:
        path = Path(page)
        try:
            text = read_text(path, "page")
            result = import_page(text, slug=slug_for(text, path))
        except FileProblem as exc:
            raise InitError(str(exc)) from None
        except PageImportError as exc:
            raise InitError(f"{path}: " + "; ".join(exc.problems)) from None
        target = folder / f"{result.lesson.slug}.yaml"
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            target.write_text(dump_lesson(result.lesson), encoding="utf-8")
        console.print(f"Imported {path} as lesson {result.lesson.slug} ({target}).")
        for warning in result.warnings:
            console.print(f"  note: {warning}")
        slugs.append(result.lesson.slug)
    return slugs


def _lessons_in(folder: Path) -> dict[str, Lesson]:
    if not folder.exists():
        return {}
    try:
        return load_lessons(folder)
    except LessonError as exc:
        raise InitError("the lessons folder has broken files: " + "; ".join(exc.problems)
                        ) from None


def init(args: argparse.Namespace, token: str, console: Console) -> int:
    """Run ``seminar init``; the exit code. The file is written only once every answer is in
    and the text passes the config's checks."""
    output = Path(args.config)
    if output.exists() and not args.force:
        raise InitError(f"{output} already exists: not overwritten (use --force to replace "
                        "it, or --config to write another file)")
    folder = output.parent / args.lessons_folder
    imported = import_pages(args.pages, folder, console)
    found = _lessons_in(folder)
    order = imported + sorted((s for s in found if s not in imported),
                              key=lambda s: (found[s].published, s))
    if not order:
        raise InitError(f"there is no lesson yet in {folder}: give lesson pages to import "
                        "(`seminar init page.txt`), or add lesson files there first")
    answers, text, problems = asyncio.run(_ask(args, token, console, order, found, output))
    output.write_text(text, encoding="utf-8")
    console.print(f"\nWrote {output}: course {answers.course_key} in "
                  f"{answers.server.name}, lessons on {' '.join(answers.weekdays)} at "
                  f"{answers.time:%H:%M} ({answers.timezone}), {len(order)} lesson(s).")
    if problems:
        console.print(f"[yellow]{len(problems)} problem(s) to fix in Discord first:[/yellow]")
        for problem in problems:
            console.print(f"  - {problem}")
        console.print("Then run `seminar check --online`, and `make run` to start the bot.")
        return 1
    console.print("The server is set up: channels, roles, permissions and intents. "
                  "Next: `make run` (or `seminar run`) starts the bot.")
    return 0


async def _ask(args: argparse.Namespace, token: str, console: Console, order: list[str],
               found: dict[str, Lesson], output: Path,
               ) -> tuple[InitAnswers, str, list[str]]:
    """Ask Discord and the teacher; the answers, the config's text, the online problems."""
    asker = Asker(interactive=args.interactive, console=console)
    probe = parse_settings({"discord": {"token_env": args.token_env, "api_base": args.api_base,
                                        **({"gateway_url": args.gateway_url}
                                           if args.gateway_url else {})}})
    try:
        async with rest_client(probe, token) as client:
            answers = await ask_everything(client, args, asker, order)
            text = config_text(answers)
            settings = _validated(text, output)
            general, by_course = await check_online(client, settings, found)
    except OnlineTrouble as exc:
        raise InitError(str(exc)) from None
    return answers, text, general + [p for found_ in by_course.values() for p in found_]


def _validated(text: str, output: Path) -> Settings:
    """The settings the text gives, resolved like the file would be; never a broken file."""
    import yaml

    try:
        data = yaml.safe_load(text)
        folder = data["lessons"]["folder"]
        data["lessons"]["folder"] = str(output.parent / folder)
        return parse_settings(data)
    except ConfigError as exc:  # a bug of ours, not the teacher's: say it plainly
        raise InitError("the config I was about to write does not pass the checks: "
                        + "; ".join(exc.problems)) from None
