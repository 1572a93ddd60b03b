"""Posting rules: catch-up after downtime, nonces, forum tags, what the teacher is told."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core import posting_rules
from bot.core.calendar import Occurrence
from bot.core.config import CatchUp

UTC = dt.UTC
NOON = dt.datetime(2026, 9, 7, 12, 0, tzinfo=UTC)


def late_by(**delta: float) -> posting_rules.CatchUpDecision:
    return posting_rules.decide_catch_up(NOON, NOON + dt.timedelta(**delta), CatchUp())


def test_a_post_a_moment_behind_is_on_time() -> None:
    for decision in (late_by(seconds=0), late_by(seconds=30), late_by(minutes=5)):
        assert decision.action == "post"
        assert not decision.late


def test_a_post_within_the_window_is_posted_late() -> None:
    decision = late_by(hours=3)
    assert decision.action == "post"
    assert decision.late
    assert decision.lateness == dt.timedelta(hours=3)


def test_a_post_beyond_the_window_is_skipped_with_a_reason() -> None:
    decision = late_by(hours=13)
    assert decision.action == "skip"
    assert decision.reason == ("missed while the bot was offline (13 hours late, more than the "
                               "12 hours catch_up allows)")
    # Exactly at the limit is no longer "less than 12 hours late".
    assert late_by(hours=12).action == "skip"


def test_skip_mode_skips_any_late_post() -> None:
    decision = posting_rules.decide_catch_up(NOON, NOON + dt.timedelta(minutes=20),
                                       CatchUp(mode="skip", max_late_hours=48))
    assert decision.action == "skip"
    assert decision.reason is not None and "catch_up mode is 'skip'" in decision.reason


def test_a_post_scheduled_after_now_counts_as_on_time() -> None:
    decision = posting_rules.decide_catch_up(NOON, NOON - dt.timedelta(seconds=2), CatchUp())
    assert decision == posting_rules.CatchUpDecision("post", late=False, lateness=dt.timedelta(0))


@given(minutes=st.integers(min_value=0, max_value=60 * 24 * 30),
       max_hours=st.floats(min_value=0, max_value=24 * 14, allow_nan=False),
       mode=st.sampled_from(["post", "skip"]))
def test_catch_up_posts_only_inside_the_window(minutes: int, max_hours: float, mode: str) -> None:
    catch_up = CatchUp(mode=mode, max_late_hours=max_hours)  # type: ignore[arg-type]
    lateness = dt.timedelta(minutes=minutes)
    decision = posting_rules.decide_catch_up(NOON, NOON + lateness, catch_up)
    if lateness <= posting_rules.ON_TIME_GRACE:
        assert decision.action == "post" and not decision.late
    elif mode == "post" and lateness < dt.timedelta(hours=max_hours):
        assert decision.action == "post" and decision.late
    else:
        assert decision.action == "skip" and decision.reason


def test_lookback_is_the_window_but_at_least_a_week() -> None:
    assert posting_rules.lookback(CatchUp()) == dt.timedelta(days=7)
    assert posting_rules.lookback(CatchUp(max_late_hours=24 * 10)) == dt.timedelta(days=10)


def test_nonces_are_deterministic_short_and_distinct() -> None:
    first = posting_rules.send_nonce(42, "lesson:0")
    assert first == posting_rules.send_nonce(42, "lesson:0")
    assert len(first) <= 25
    others = {posting_rules.send_nonce(42, "lesson:1"), posting_rules.send_nonce(42, "q0"),
              posting_rules.send_nonce(43, "lesson:0")}
    assert first not in others and len(others) == 3


@given(post_id=st.integers(min_value=1, max_value=2**63), part=st.text(max_size=200))
def test_every_nonce_fits_discords_limit(post_id: int, part: str) -> None:
    assert 1 <= len(posting_rules.send_nonce(post_id, part)) <= posting_rules.NONCE_LIMIT


def test_pick_tag_prefers_a_tag_named_for_the_post() -> None:
    tags = ["Off-topic", "Lesson", "Discussion question"]
    assert posting_rules.pick_tag(tags, "question") == 2
    assert posting_rules.pick_tag(tags, "lesson") == 1
    assert posting_rules.pick_tag(["Week 1", "Week 2"], "question") == 0
    assert posting_rules.pick_tag([], "question") is None


@pytest.mark.parametrize(("delta", "text"), [
    (dt.timedelta(seconds=20), "1 minute"),
    (dt.timedelta(minutes=45), "45 minutes"),
    (dt.timedelta(hours=1, minutes=30), "1.5 hours"),
    (dt.timedelta(hours=13), "13 hours"),
    (dt.timedelta(days=3, hours=2), "3 days"),
])
def test_hours_text(delta: dt.timedelta, text: str) -> None:
    assert posting_rules.hours_text(delta) == text


def test_sentences_for_the_teacher_say_what_happened_and_what_to_do() -> None:
    refused = posting_rules.permission_sentence("#history-101", ["Send Messages"], "week-1")
    assert refused == ("I am missing the 'Send Messages' permission in #history-101. Ask a "
                       "server admin to give it to me. Once that is fixed, use `/schedule post "
                       "week-1` to post it.")
    two = posting_rules.permission_sentence("#x", ["Create Public Threads", "Read Message History"],
                                      "week-1")
    assert "'Create Public Threads', 'Read Message History' permissions" in two
    assert "give them to me" in two
    gone = posting_rules.unknown_channel_sentence(5, "history-101", "week-1")
    assert "channel_id of course 'history-101'" in gone
    skipped = posting_rules.skipped_sentence("Week 1", "week-1", NOON, "it was too late")
    assert skipped.startswith("“Week 1” was due to be posted <t:")
    assert "`/schedule post week-1`" in skipped
    assert posting_rules.late_note(NOON) == (f"Posted late: this lesson was scheduled for "
                                       f"<t:{int(NOON.timestamp())}:F>, while I was offline.")


def test_schedule_overview_lists_upcoming_and_recent_posts() -> None:
    zone = ZoneInfo("America/New_York")
    soon = Occurrence("c", "week-2", NOON, NOON + dt.timedelta(days=7), zone,
                      NOON.astimezone(zone).replace(tzinfo=None), "entry")
    recent = [
        posting_rules.PostLine("week-1", NOON - dt.timedelta(days=7), "posted", None, True,
                         "https://discord.com/channels/1/2/3"),
        posting_rules.PostLine("week-0", NOON - dt.timedelta(days=14), "failed",
                         "I am missing the 'Send Messages' permission in #x.", False, None),
    ]
    text = posting_rules.schedule_overview("History 101", [(soon, "skipped")], recent,
                                     {"week-2": "Week Two", "week-1": "Week One"})
    lines = text.splitlines()
    assert lines[0] == "**History 101: upcoming posts**"
    assert lines[1].startswith(f"• <t:{int(NOON.timestamp())}:F>: Week Two (`week-2`), due ")
    assert lines[1].endswith(": skipped")
    assert "Week One: posted late (https://discord.com/channels/1/2/3)" in text
    assert "week-0: failed: I am missing the 'Send Messages' permission in #x." in text
    empty = posting_rules.schedule_overview("H", [], [], {})
    assert "Nothing more is scheduled" in empty and "Nothing has been posted yet." in empty
