"""The ``seminar`` command line: run, check, preview, import, schedule, export, grades, roster,
db, sync.

Every command turns a known problem (a broken config or lesson file, a missing token) into
sentences on stderr and exit code 1; no traceback reaches the teacher.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.core.config import (
    DEFAULT_API_BASE,
    ConfigError,
    CourseSettings,
    Settings,
    load_settings,
)
from bot.core.lessons import Lesson, LessonError, load_lessons
from bot.core.lms import FORMATS, ITEMS, MOODLE_KEYS

DEFAULT_CONFIG = Path("config.yaml")


class UsageError(Exception):
    """A command was given something it cannot use; the message says what to fix."""


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config))


def _lessons(settings: Settings) -> dict[str, Lesson]:
    return load_lessons(settings.lessons.folder)


def _checked_lessons(settings: Settings) -> dict[str, Lesson]:
    """The lessons, when the config and they pass every check ``seminar check`` makes."""
    from bot.core.checks import check_references

    lessons = _lessons(settings)
    problems = check_references(settings, lessons)
    if problems:
        raise ConfigError(problems)
    return lessons


def cmd_check(args: argparse.Namespace) -> int:
    """Load the config and every lesson; print every problem, or a short summary."""
    problems: list[str] = []
    settings: Settings | None = None
    lessons: dict[str, Lesson] = {}
    try:
        settings = _settings(args)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if settings is not None:
        try:
            lessons = _lessons(settings)
        except LessonError as exc:
            problems.extend(exc.problems)
        else:
            from bot.core.checks import check_references

            problems.extend(check_references(settings, lessons))
    if problems:
        print(f"Found {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    assert settings is not None
    from bot.core.checks import advice

    print(f"Config OK: {len(settings.courses)} course(s), {len(lessons)} lesson(s).")
    for key, course in settings.courses.items():
        print(f"  course {key}: {course.name} (guild {course.guild_id}, "
              f"channel {course.channel_id}, {course.timezone})")
    for slug, lesson in lessons.items():
        print(f"  lesson {slug}: {lesson.title} ({len(lesson.questions)} question(s), "
              f"{len(lesson.resources)} reading(s))")
    for line in advice(settings, lessons):
        print(f"  note: {line}")
    if getattr(args, "online", False):
        return _check_online(settings, lessons)
    return 0


def _check_online(settings: Settings, lessons: dict[str, Lesson]) -> int:
    """Ask Discord whether each course's server is set up; print every problem at once."""
    import asyncio

    from bot.client.run import OnlineTrouble, online_check
    from bot.core.config import read_token
    from storage.migrate import MigrationError

    token = read_token(settings)
    try:
        general, by_course = asyncio.run(online_check(settings, token, lessons))
    except (OnlineTrouble, MigrationError) as exc:
        raise UsageError(str(exc)) from None
    problems = general + [p for found in by_course.values() for p in found]
    if not problems:
        print(f"Online: every course's server is set up ({len(by_course)} course(s)): "
              "channels, roles, permissions and intents.")
        return 0
    print(f"Online: {len(problems)} problem(s) to fix in Discord:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def _init_arguments(parser: argparse.ArgumentParser) -> None:
    """``seminar init``'s flags: every question has one."""
    parser.add_argument("pages", nargs="*", metavar="PAGE",
                        help="lesson pages (copied from the web) to import first")
    parser.add_argument("--force", action="store_true", help="replace an existing config")
    parser.add_argument("--no-input", dest="interactive", action="store_false",
                        default=sys.stdin.isatty(),
                        help="ask nothing: every answer comes from a flag or its default")
    parser.add_argument("--token-env", default="DISCORD_TOKEN", metavar="VAR",
                        help="the environment variable holding the bot token")
    parser.add_argument("--api-base", default=DEFAULT_API_BASE, metavar="URL",
                        help="Discord's REST address (a proxy or a test emulator)")
    parser.add_argument("--gateway-url", metavar="URL", help="Discord's gateway address")
    parser.add_argument("--wait", type=float, default=900, metavar="SECONDS",
                        help="how long to wait for the bot to be added to a server")
    parser.add_argument("--server", metavar="NAME|ID")
    parser.add_argument("--class-channel", metavar="NAME|ID")
    parser.add_argument("--teachers-channel", metavar="NAME|ID")
    parser.add_argument("--teacher-role", metavar="NAME|ID")
    parser.add_argument("--student-role", metavar="NAME|ID")
    parser.add_argument("--course", metavar="KEY", help="the course's short key")
    parser.add_argument("--course-name", metavar="NAME")
    parser.add_argument("--timezone", metavar="ZONE", help="an IANA name, e.g. Europe/Paris")
    parser.add_argument("--weekdays", metavar="DAYS", help='e.g. "tue thu"')
    parser.add_argument("--time", metavar="HH:MM")
    parser.add_argument("--start", metavar="YYYY-MM-DD")
    parser.add_argument("--end", metavar="YYYY-MM-DD")
    parser.add_argument("--skip", metavar="DATES", help='e.g. "2026-11-26 2026-11-27"')
    parser.add_argument("--lessons-folder", default="prompts", metavar="DIR",
                        help="where lessons are kept, next to the config (default prompts)")


def cmd_init(args: argparse.Namespace) -> int:
    """Write a working config.yaml by asking Discord and the teacher: no ids to copy."""
    from rich.console import Console

    from bot.client.setup import InitError, init

    token = os.environ.get(args.token_env, "").strip()
    if not token:
        raise UsageError(
            f"No bot token in the environment variable {args.token_env}. Create the bot "
            "application (https://discord.com/developers/applications → New Application → "
            f"Bot → Reset Token), then `export {args.token_env}='the-token'` and run "
            "`seminar init` again.")
    try:
        return init(args, token, Console(highlight=False))
    except InitError as exc:
        raise UsageError(str(exc)) from None


def cmd_preview(args: argparse.Namespace) -> int:
    """Print what the lesson post will show."""
    from bot.core.render import preview_text

    settings = _settings(args)
    lessons = _lessons(settings)
    lesson = lessons.get(args.lesson)
    if lesson is None:
        known = ", ".join(sorted(lessons)) or "none"
        raise UsageError(f"no lesson named {args.lesson!r} (lessons: {known})")
    print(preview_text(lesson))
    return 0


def _import_folder(args: argparse.Namespace) -> str:
    """Where imported lessons go: ``-o``, else the config's lessons folder, else ./prompts."""
    if args.output is not None:
        return str(args.output)
    if Path(args.config).exists() or args.config != str(DEFAULT_CONFIG):
        return str(_settings(args).lessons.folder)
    return "prompts"


def cmd_import(args: argparse.Namespace) -> int:
    """Turn lesson pages copied from the web into lesson files."""
    from bot.core.importer import PageImportError, import_page, slug_for
    from bot.core.lessons import dump_lesson
    from bot.core.yamlfile import FileProblem, read_text

    output = _import_folder(args)
    failed = 0
    printed = 0
    for page in args.pages:
        path = Path(page)
        try:
            text = read_text(path, "page")
        except FileProblem as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        try:
            result = import_page(text, slug=args.slug or slug_for(text, path))
        except PageImportError as exc:
            for problem in exc.problems:
                print(f"{path}: {problem}", file=sys.stderr)
            failed += 1
            continue
        text_out = dump_lesson(result.lesson)
        target = Path(output) / f"{result.lesson.slug}.yaml"
        if output != "-" and target.exists() and not args.force:
            print(f"{target} already exists: not overwritten (use --force to replace it)",
                  file=sys.stderr)
            failed += 1
            continue
        for warning in result.warnings:
            print(f"{path}: {warning}", file=sys.stderr)
        if output == "-":
            # Several lessons on standard output are several YAML documents.
            sys.stdout.write(("---\n" if printed else "") + text_out)
            printed += 1
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text_out, encoding="utf-8")
        except OSError as exc:
            print(f"{target}: cannot write the lesson file ({exc.strerror or exc})",
                  file=sys.stderr)
            failed += 1
            continue
        print(f"wrote {target}")
    return 1 if failed else 0


def _verdicts(settings: Settings, keys: list[str]) -> dict[str, Any]:
    """Each course's last online check kept in the database (none when there is none)."""
    import asyncio

    from bot.client.server_check import stored_verdicts
    from bot.gradebook import ExportError, check_database_file

    try:
        check_database_file(settings.database.url)
    except ExportError:
        return {}
    return asyncio.run(stored_verdicts(settings.database.url, keys))


def cmd_schedule(args: argparse.Namespace) -> int:
    """Print each course's upcoming posts (or, with --all, every post) in its local time."""
    import datetime as dt

    from bot.core.calendar import format_local, occurrences
    from bot.core.posting_rules import verdict_line

    settings = _settings(args)
    if args.course is not None and args.course not in settings.courses:
        known = ", ".join(sorted(settings.courses)) or "none"
        raise UsageError(f"no course named {args.course!r} in {args.config} (courses: {known})")
    if not settings.courses:
        print(f"No courses in {args.config}: add one under 'courses' (see config.example.yaml).")
        return 0
    lessons = _lessons(settings)
    now = dt.datetime.now(dt.UTC)
    keys = [args.course] if args.course is not None else list(settings.courses)
    verdicts = _verdicts(settings, keys)
    for index, key in enumerate(keys):
        course = settings.courses[key]
        everything = occurrences(key, course)
        shown = everything if args.all else [o for o in everything if o.post_at > now]
        if index:
            print()
        what = "post(s)" if args.all else "upcoming post(s)"
        print(f"{key}: {course.name} ({course.timezone}), {len(shown)} {what}")
        if not everything:
            print("  nothing scheduled: add calendar entries or a weekly pattern to this course")
        elif not shown:
            print(f"  none left: the last post was {format_local(everything[-1].local_post_at)} "
                  "(--all lists every post)")
        for occurrence in shown:
            lesson = lessons.get(occurrence.lesson)
            title = lesson.title if lesson is not None else "(no lesson file with this name)"
            due = occurrence.local_due_at
            line = (f"  {format_local(occurrence.local_post_at)}  {occurrence.lesson}  {title}"
                    f"  due {format_local(due) if due is not None else 'not set'}")
            if args.all and occurrence.post_at <= now:
                line += "  (past)"
            print(line)
            if occurrence.shifted:
                print(f"      ({occurrence.scheduled:%H:%M} does not exist that day: the clocks "
                      f"go forward, so it posts at {occurrence.local_post_at:%H:%M})")
        if any(o.post_at > now for o in everything):
            print(f"  {verdict_line(verdicts.get(key))}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Start the bot."""
    from bot.client.run import run_bot
    from bot.core.config import read_token

    settings = _settings(args)
    token = read_token(settings)
    _checked_lessons(settings)  # fail fast on a broken lesson file or calendar
    return run_bot(settings, token, sync=args.sync)


def cmd_sync(args: argparse.Namespace) -> int:
    """Push the slash commands to every course's server now, then stop."""
    from bot.client.run import sync_commands
    from bot.core.config import read_token

    settings = _settings(args)
    token = read_token(settings)
    _checked_lessons(settings)
    return sync_commands(settings, token)


def cmd_db(args: argparse.Namespace) -> int:
    """Manage the database: ``upgrade`` brings its tables up to date."""
    from storage.migrate import MigrationError, head_revision, upgrade

    settings = _settings(args)
    try:
        upgrade(settings.database.url)
    except MigrationError as exc:
        raise UsageError(str(exc)) from None
    print(f"Database up to date (revision {head_revision()}).")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a course's gradebook (or one student's own data) from the database."""
    import asyncio

    from bot.core.lms import ExportProblem
    from bot.gradebook import ExportError, check_database_file, export_from_database

    settings = _settings(args)
    course = _course(settings, args)
    if args.student is not None and args.lesson is not None:
        raise UsageError("--student exports everything about one student: leave out --lesson")
    if args.student is not None and args.format != "csv":
        raise UsageError("--student writes one student's records as CSV: leave out --format")
    try:
        check_database_file(settings.database.url)
        export = asyncio.run(export_from_database(
            settings.database.url, args.course, course, lesson=args.lesson,
            student=args.student, titles=_titles(settings), file_format=args.format,
            items=args.items, moodle_key=args.match_by))
    except (ExportError, ExportProblem) as exc:
        raise UsageError(str(exc)) from None
    rows = export.rows
    if args.output == "-":
        sys.stdout.buffer.write(export.data)
        sys.stdout.buffer.flush()
        if export.left_out is not None:
            print(f"seminar: {export.left_out_rows} member(s) are not in this file (not on the "
                  "roster, or without the id it needs): write to a file with -o to get their "
                  "list beside it", file=sys.stderr)
        return 0
    output = Path(args.output)
    left_out = output.with_name(f"{output.stem}.not-on-roster.csv")
    try:
        output.write_bytes(export.data)
        if export.left_out is not None:
            left_out.write_bytes(export.left_out)
    except OSError as exc:
        raise UsageError(f"{exc.filename or args.output}: cannot write the file "
                         f"({exc.strerror or exc})") from None
    what = (f"{rows} recorded repl{'y' if rows == 1 else 'ies'} of student {args.student}"
            if args.student is not None else f"{rows} student(s)")
    print(f"wrote {args.output}: {what}")
    if export.left_out is not None:
        print(f"wrote {left_out}: {export.left_out_rows} member(s) this file cannot carry, "
              "with the reason (link them with /roster link, then export again)")
    if export.unlinked:
        print(f"  {export.unlinked} student(s) of the roster have not linked their Discord "
              "account yet (/roster show lists them)")
    if args.student is None and args.format == "csv":
        print("  spreadsheets: import the user_id column as Text so the ids stay exact")
    return 0


def _course(settings: Settings, args: argparse.Namespace) -> CourseSettings:
    course = settings.courses.get(args.course)
    if course is None:
        known = ", ".join(sorted(settings.courses)) or "none"
        raise UsageError(f"no course named {args.course!r} in {args.config} (courses: {known})")
    return course


def _titles(settings: Settings) -> dict[str, str]:
    """Lesson titles by name, for score lines (names alone when a lesson file is broken)."""
    try:
        return {slug: lesson.title for slug, lesson in _lessons(settings).items()}
    except LessonError:
        return {}


def cmd_grades(args: argparse.Namespace) -> int:
    """Print every student whose grade a new policy would change; change nothing."""
    import asyncio

    from bot.core.config import load_policy
    from bot.core.grading import number
    from bot.gradebook import ExportError, check_database_file, what_if

    settings = _settings(args)
    course = _course(settings, args)
    policy = load_policy(Path(args.policy))
    titles = _titles(settings)
    try:
        check_database_file(settings.database.url)
        changed, graded = asyncio.run(what_if(settings.database.url, args.course, course,
                                              policy, titles=titles))
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    if not changed:
        print(f"No grade changes: under {args.policy} each of the {graded} student(s) of "
              f"{args.course} keeps the same total. Nothing was changed.")
        return 0
    print(f"{len(changed)} of {graded} student(s) of {args.course} would get another total "
          f"under {args.policy} (nothing was changed; to adopt it, copy it into the course's "
          "grading: section of the config):")
    width = max(len("student"), *(len(f"{name} ({user})") for user, name, _, _ in changed))
    print(f"  {'student':<{width}}  {'now':>13}  {'new policy':>13}")
    for user, name, old, new in changed:
        print(f"  {f'{name} ({user})':<{width}}  "
              f"{number(old.total) + '/' + number(old.possible):>13}  "
              f"{number(new.total) + '/' + number(new.possible):>13}")
    return 0


FIELD_NAMES = {"name": "name", "lms_id": "LMS id", "sis_id": "SIS id", "login": "login",
               "email": "e-mail", "section": "section"}


def cmd_roster(args: argparse.Namespace) -> int:
    """Import a course's roster from the file the school's LMS exports."""
    import asyncio

    from bot.core.roster import RosterError
    from bot.gradebook import import_roster

    settings = _settings(args)
    _course(settings, args)
    path = Path(args.file)
    try:
        roster, outcome = asyncio.run(import_roster(settings.database.url, args.course, path))
    except RosterError as exc:
        raise ConfigError(exc.problems) from None
    changes = [f"{outcome.added} new", f"{outcome.updated} updated"]
    if outcome.returned:
        changes.append(f"{outcome.returned} back")
    changes.append(f"{outcome.unchanged} unchanged")
    print(f"Imported the roster of {args.course} from {path} ({roster.kind}): "
          f"{len(roster.students)} student(s): {', '.join(changes)}.")
    if outcome.left:
        print(f"  {outcome.left} student(s) no longer in the file: kept with their records, "
              "marked as left.")
    used = ", ".join(f"{heading} -> {FIELD_NAMES[field]}"
                     for field, heading in roster.columns.items())
    print(f"  Columns read: {used}.")
    return 0


def _student_id(text: str) -> int:
    from bot.core.limits import MAX_SNOWFLAKE

    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_SNOWFLAKE:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Discord user id (a number such as 123456789012345678; in "
            "Discord, turn on Developer Mode and use 'Copy User ID')")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seminar", description="Seminar: a Discord bot that runs class discussions."
    )
    parser.add_argument(
        "--config", default=str(DEFAULT_CONFIG),
        help="the config file (default: config.yaml)",
    )
    # Every command also takes --config after its name (`seminar check --config FILE`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS,
                        help="the config file (default: config.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    run = command("run", help="start the bot (token from the environment)")
    run.add_argument("--sync", action="store_true",
                     help="sync slash commands to Discord even if they did not change")
    run.set_defaults(func=cmd_run)

    sync = command("sync", help="push the slash commands to every course's server now")
    sync.set_defaults(func=cmd_sync)

    init_ = command("init", help="write a working config.yaml: asks Discord for the server's "
                                 "channels and roles by name (every answer is also a flag)")
    _init_arguments(init_)
    init_.set_defaults(func=cmd_init)

    check = command("check", help="check the config and every lesson file")
    check.add_argument("--online", action="store_true",
                       help="also ask Discord: servers, channels, roles, the bot's permissions "
                            "in each channel, the privileged intents (needs the token)")
    check.set_defaults(func=cmd_check)

    preview = command("preview", help="print what a lesson post will show")
    preview.add_argument("lesson", help="the lesson's name (its file name without .yaml)")
    preview.set_defaults(func=cmd_preview)

    imp = command("import", help="turn lesson pages copied from the web into lessons")
    imp.add_argument("pages", nargs="+", metavar="PAGE.txt")
    imp.add_argument("-o", "--output", default=None,
                     help="folder for the lesson files, or - to print (default: the config's "
                          "lessons folder, else prompts)")
    imp.add_argument("--slug", help="the lesson's name (default: from the title)")
    imp.add_argument("--force", action="store_true", help="overwrite an existing lesson file")
    imp.set_defaults(func=cmd_import)

    schedule = command("schedule", help="print upcoming posts in each course's local time")
    schedule.add_argument("--course", metavar="KEY", help="only this course")
    schedule.add_argument("--all", action="store_true",
                          help="every post of the term, past ones too")
    schedule.set_defaults(func=cmd_schedule)

    export = command(
        "export", help="write a course's gradebook CSV, or one student's data, from the database")
    export.add_argument("--course", required=True, metavar="KEY", help="the course's key")
    export.add_argument("--lesson", metavar="SLUG", help="only this lesson")
    export.add_argument("--student", type=_student_id, metavar="ID",
                        help="everything recorded about this student's replies (their data)")
    export.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the file to write, or - for standard output")
    export.add_argument("--format", choices=list(FORMATS), default="csv",
                        help="; ".join(f"{name}: {what}" for name, what in FORMATS.items()))
    export.add_argument("--items", choices=list(ITEMS), default="total",
                        help="canvas, moodle, oneroster: one grade item for the course total "
                             "(default) or one per lesson")
    export.add_argument("--match-by", choices=list(MOODLE_KEYS), default="email",
                        help="moodle: the user field Moodle matches students by (default "
                             "email)")
    export.set_defaults(func=cmd_export)

    grades = command("grades", help="preview a new grading policy: whose grade would change")
    grades.add_argument("--course", required=True, metavar="KEY", help="the course's key")
    grades.add_argument("--policy", required=True, metavar="FILE",
                        help="a YAML file with the new grading: settings")
    grades.set_defaults(func=cmd_grades)

    roster = command("roster", help="import a course's roster from the school's LMS")
    roster.add_argument("action", choices=["import"],
                        help="import: read the roster file (Canvas's gradebook export, or a "
                             "CSV with names and student ids or logins)")
    roster.add_argument("file", metavar="FILE", help="the roster file (CSV)")
    roster.add_argument("--course", required=True, metavar="KEY", help="the course's key")
    roster.set_defaults(func=cmd_roster)

    db = command("db", help="manage the database (db upgrade)")
    db.add_argument("action", choices=["upgrade"],
                    help="upgrade: create or update the tables (run automatically at start)")
    db.set_defaults(func=cmd_db)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seminar`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "import" and args.slug and len(args.pages) > 1:
        parser.error("--slug names one lesson: give one page with it")
    try:
        result: int = args.func(args)
        sys.stdout.flush()
    except (ConfigError, LessonError) as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped early (`seminar grades | head`): nothing more to say. What is
        # still buffered goes nowhere, so that Python's own flush at exit has no pipe to fail.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
