"""Cron in a time zone, at explicit instants: DST gaps and overlaps, and the missed-run policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import InvalidInput
from shared.schedules import due_runs, fire_times, last_run, next_run, validate_cron, zone

NY = "America/New_York"
BERLIN = "Europe/Berlin"
GRACE = timedelta(minutes=5)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_next_run_is_wall_clock_in_the_zone() -> None:
    # 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    assert next_run("0 9 * * *", BERLIN, utc(2026, 1, 15, 12)) == utc(2026, 1, 16, 8)
    assert next_run("0 9 * * *", BERLIN, utc(2026, 7, 15, 12)) == utc(2026, 7, 16, 7)
    # strictly after: a fire time equal to `after` is not the next one
    assert next_run("0 9 * * *", BERLIN, utc(2026, 1, 16, 8)) == utc(2026, 1, 17, 8)


def test_new_york_spring_forward_skipped_time_runs_once_shifted() -> None:
    # 2026-03-08 02:30 does not exist in New York (02:00 EST → 03:00 EDT); it runs at 03:30 EDT.
    runs = fire_times("30 2 * * *", NY, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))
    assert runs == [utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]
    assert next_run("30 2 * * *", NY, utc(2026, 3, 7, 12)) == utc(2026, 3, 8, 7, 30)


def test_spring_forward_never_doubles_a_run() -> None:
    # Every 15 minutes through the gap: the skipped 02:xx times land on real 03:xx times.
    runs = fire_times("*/15 * * * *", NY, utc(2026, 3, 8, 6, 50), utc(2026, 3, 8, 8, 0))
    assert runs == [utc(2026, 3, 8, 7, m) for m in (0, 15, 30, 45)] + [utc(2026, 3, 8, 8, 0)]
    assert len(runs) == len(set(runs))


def test_new_york_fall_back_ambiguous_time_runs_once_first_occurrence() -> None:
    # 2026-11-01 01:30 happens twice (EDT 05:30 UTC, then EST 06:30 UTC); it runs at the first.
    runs = fire_times("30 1 * * *", NY, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12))
    assert runs == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    # checked between the two occurrences: the second is not a new run
    assert next_run("30 1 * * *", NY, utc(2026, 11, 1, 5, 45)) == utc(2026, 11, 2, 6, 30)


def test_berlin_dst_edges() -> None:
    # 2026-03-29 02:30 does not exist in Berlin (02:00 CET → 03:00 CEST): 03:30 CEST = 01:30 UTC.
    assert next_run("30 2 * * *", BERLIN, utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1, 30)
    # 2026-10-25 02:30 happens twice: the first (CEST) is 00:30 UTC.
    assert fire_times("30 2 * * *", BERLIN, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12)) == [utc(2026, 10, 25, 0, 30)]
    # hourly through the fall-back: each wall time once, so 02:30 CET (01:30 UTC) is not run
    hourly = fire_times("30 * * * *", BERLIN, utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))
    assert hourly == [utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30)]


def test_last_run_finds_the_latest_fire_time_in_the_window() -> None:
    assert last_run("0 9 * * 1", BERLIN, utc(2026, 1, 1), utc(2026, 6, 1)) == utc(2026, 5, 25, 7)
    assert last_run("0 9 * * 1", BERLIN, utc(2026, 5, 25, 7), utc(2026, 5, 31)) is None
    assert last_run("0 0 1 1 *", "UTC", utc(2020, 6, 1), utc(2026, 6, 1)) == utc(2026, 1, 1)


def test_on_time_run_is_due_under_both_policies() -> None:
    since, now = utc(2026, 2, 2, 7, 59), utc(2026, 2, 2, 8, 0, 20)  # 09:00 CET, 20 s late
    for policy in ("skip", "catch_up_once"):
        assert due_runs("0 9 * * *", BERLIN, since, now, policy, GRACE) == [utc(2026, 2, 2, 8)]


def test_nothing_due_before_the_fire_time() -> None:
    assert due_runs("0 9 * * *", BERLIN, utc(2026, 2, 2, 7), utc(2026, 2, 2, 7, 59), "catch_up_once", GRACE) == []


def test_missed_runs_skip_drops_them() -> None:
    # beat was down from Monday to Thursday noon: three 09:00 runs were missed
    since, now = utc(2026, 2, 2, 7), utc(2026, 2, 5, 11)
    assert due_runs("0 9 * * *", BERLIN, since, now, "skip", GRACE) == []


def test_missed_runs_catch_up_once_runs_one() -> None:
    since, now = utc(2026, 2, 2, 7), utc(2026, 2, 5, 11)
    assert due_runs("0 9 * * *", BERLIN, since, now, "catch_up_once", GRACE) == [utc(2026, 2, 5, 8)]


def test_skip_still_runs_the_latest_when_it_is_on_time() -> None:
    # every 10 minutes, beat down for an hour, back 2 minutes after a fire time: that one runs
    since, now = utc(2026, 2, 2, 9), utc(2026, 2, 2, 10, 2)
    assert due_runs("*/10 * * * *", "UTC", since, now, "skip", GRACE) == [utc(2026, 2, 2, 10)]


def test_due_run_across_the_new_york_gap() -> None:
    # the shifted 02:30 (07:30 UTC) is due at 07:31 UTC, once, under either policy
    for policy in ("skip", "catch_up_once"):
        assert due_runs("30 2 * * *", NY, utc(2026, 3, 8, 6), utc(2026, 3, 8, 7, 31), policy, GRACE) == [
            utc(2026, 3, 8, 7, 30)]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        next_run("* * * * *", "UTC", datetime(2026, 1, 1))


@pytest.mark.parametrize("cron", ["* * * *", "* * * * * *", "61 * * * *", "0 0 31 2 *", "every day", ""])
def test_bad_cron_is_invalid_input(cron: str) -> None:
    with pytest.raises(InvalidInput):
        validate_cron(cron)


def test_cron_whitespace_is_normalised() -> None:
    assert validate_cron(" 0  9 * * 1-5 ") == "0 9 * * 1-5"


@pytest.mark.parametrize("name", ["Mars/Olympus", "EST5EDT+", "", "../etc/passwd"])
def test_unknown_zone_is_invalid_input(name: str) -> None:
    with pytest.raises(InvalidInput):
        zone(name)
