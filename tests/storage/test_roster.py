"""A course's roster in the database: imports, students who leave and come back, links."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.core.roster import parse_roster
from storage.roster import ImportOutcome
from tests.databases import TestDatabase
from tests.storage.test_replies import ALICE, BOB, T0

DAY = dt.timedelta(days=1)


def students(text: str):  # type: ignore[no-untyped-def]
    return parse_roster("Name,SIS User ID,Section\n" + text).students


async def test_a_second_import_updates_keeps_who_left_and_welcomes_them_back(
    database: TestDatabase,
) -> None:
    repo = database.repo
    first = await repo.roster.import_students(
        "hist", students("Ann,S1,A\nBen,S2,A\nCat,S3,B\n"), now=T0)
    assert first == ImportOutcome(added=3)
    assert await repo.roster.link("hist", "sis:S2", BOB)
    # Ben changes section, Cat leaves the class, Dan joins.
    second = await repo.roster.import_students(
        "hist", students("Ann,S1,A\nBen,S2,B\nDan,S4,A\n"), now=T0 + DAY)
    assert second == ImportOutcome(added=1, updated=1, left=1, unchanged=1)
    rows = await repo.roster.of_course("hist")
    assert [(r.name, r.section, r.user_id, r.left_at) for r in rows] == [
        ("Ann", "A", None, None), ("Ben", "B", BOB, None), ("Dan", "A", None, None),
        ("Cat", "B", None, T0 + DAY)]  # kept, marked, listed last
    assert [r.name for r in await repo.roster.of_course("hist", present_only=True)] == [
        "Ann", "Ben", "Dan"]
    # Cat is back: present again, nothing lost.
    third = await repo.roster.import_students(
        "hist", students("Ann,S1,A\nBen,S2,B\nCat,S3,B\nDan,S4,A\n"), now=T0 + 2 * DAY)
    assert third == ImportOutcome(returned=1, unchanged=3)
    assert all(r.left_at is None for r in await repo.roster.of_course("hist"))
    assert await repo.roster.of_course("geo") == []  # another course's roster is its own


async def test_a_member_is_linked_to_one_student_of_a_course(database: TestDatabase) -> None:
    repo = database.repo
    await repo.roster.import_students("hist", students("Ann,S1,A\nBen,S2,A\n"), now=T0)
    assert await repo.roster.link("hist", "sis:S1", ALICE)
    assert await repo.roster.link("hist", "sis:S2", ALICE)  # linking again moves the link
    assert {r.key: r.user_id for r in await repo.roster.of_course("hist")} == {
        "sis:S1": None, "sis:S2": ALICE}
    assert not await repo.roster.link("hist", "sis:S9", ALICE)  # not on the roster
    assert await repo.roster.link("hist", "sis:S2", None)
    assert {r.user_id for r in await repo.roster.of_course("hist")} == {None}


async def test_a_student_claims_a_roster_row_once_and_never_anothers(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await repo.roster.import_students("hist", students("Ann,S1,A\nBen,S2,A\nCat,S3,A\n"),
                                      now=T0)
    await repo.roster.import_students("hist", students("Ann,S1,A\nBen,S2,A\n"), now=T0 + DAY)
    assert await repo.roster.claim("hist", "sis:S1", ALICE) == "linked"
    assert await repo.roster.claim("hist", "sis:S1", ALICE) == "linked"  # the same, again
    assert await repo.roster.claim("hist", "sis:S1", BOB) == "taken"
    assert await repo.roster.claim("hist", "sis:S2", ALICE) == "already"
    assert await repo.roster.claim("hist", "sis:S3", BOB) == "gone"  # Cat left the class
    assert await repo.roster.claim("hist", "sis:S9", BOB) == "gone"
    record = await repo.roster.of_member("hist", ALICE)
    assert record is not None and record.key == "sis:S1"
    assert await repo.roster.of_member("hist", BOB) is None
    assert await repo.roster.unlink_member("hist", ALICE) == "sis:S1"
    assert await repo.roster.unlink_member("hist", ALICE) is None


async def test_two_members_claiming_one_student_at_once_link_one(database: TestDatabase) -> None:
    repo = database.repo
    await repo.roster.import_students("hist", students("Ann,S1,A\nBen,S2,A\n"), now=T0)
    for _ in range(5):
        outcomes = await asyncio.gather(repo.roster.claim("hist", "sis:S1", ALICE),
                                        repo.roster.claim("hist", "sis:S1", BOB))
        assert sorted(outcomes) == ["linked", "taken"]
        # One member claiming two students at once ends linked to one of them.
        await repo.roster.link("hist", "sis:S1", None)
        both = await asyncio.gather(repo.roster.claim("hist", "sis:S1", ALICE),
                                    repo.roster.claim("hist", "sis:S2", ALICE))
        assert sorted(both) == ["already", "linked"]
        assert sum(r.user_id == ALICE for r in await repo.roster.of_course("hist")) == 1
        for key in ("sis:S1", "sis:S2"):
            await repo.roster.link("hist", key, None)


async def test_students_who_left_are_purged_with_the_courses_records(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await repo.roster.import_students("hist", students("Ann,S1,A\nBen,S2,A\n"), now=T0)
    await repo.roster.import_students("hist", students("Ann,S1,A\n"), now=T0 + DAY)
    await repo.purge_older_than("hist", T0 + DAY)  # Ben left at T0 + 1 day: not before it
    assert len(await repo.roster.of_course("hist")) == 2
    await repo.purge_older_than("hist", T0 + 2 * DAY)
    assert [r.name for r in await repo.roster.of_course("hist")] == ["Ann"]
