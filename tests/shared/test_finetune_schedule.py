"""The nightly fine-tune's due time, per tenant, at explicit instants: its own local hour in its
own time zone, once per local day across daylight-saving changes, never when disabled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from shared.errors import InvalidInput
from shared.finetune import last_slot, next_slot, nightly_due, schedule_of
from shared.models import Tenant

NY = "America/New_York"
BERLIN = "Europe/Berlin"
SHANGHAI = "Asia/Shanghai"
BEAT = timedelta(minutes=10)  # how often beat asks (Settings.finetune_check_seconds)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def beat_runs(hour: int, tz: str, start: datetime, end: datetime, enabled: bool = True) -> list[datetime]:
    """Every run beat starts between ``start`` and ``end``, asking every ten minutes, for a
    tenant that last ran at ``start`` and whose reviewers send a correction every minute (so
    each night has something new)."""
    runs: list[datetime] = []
    now = start
    while now < end:
        last_run = runs[-1] if runs else start  # it ran just before the window
        if nightly_due(now, hour, last_run, now - timedelta(minutes=1), timezone=tz, enabled=enabled):
            runs.append(now)
        now += BEAT
    return runs


def test_a_utc_tenant_runs_at_its_hour_every_day() -> None:
    assert beat_runs(2, "UTC", utc(2026, 11, 24, 12), utc(2026, 11, 27, 12)) == [
        utc(2026, 11, 25, 2), utc(2026, 11, 26, 2), utc(2026, 11, 27, 2)]


def test_a_shanghai_tenant_runs_at_its_local_hour() -> None:
    # 03:00 in Shanghai (UTC+8, no DST) is 19:00 UTC the day before.
    assert beat_runs(3, SHANGHAI, utc(2026, 11, 24, 12), utc(2026, 11, 27, 12)) == [
        utc(2026, 11, 24, 19), utc(2026, 11, 25, 19), utc(2026, 11, 26, 19)]
    last = utc(2026, 11, 24, 19, 5)
    assert not nightly_due(utc(2026, 11, 25, 18, 59), 3, last, utc(2026, 11, 25, 10), timezone=SHANGHAI)
    assert nightly_due(utc(2026, 11, 25, 19), 3, last, utc(2026, 11, 25, 10), timezone=SHANGHAI)


def test_berlin_spring_forward_a_skipped_hour_runs_once_when_the_clock_jumps() -> None:
    # 2026-03-29 02:00 CET does not exist (the clock goes to 03:00 CEST at 01:00 UTC).
    assert beat_runs(2, BERLIN, utc(2026, 3, 27, 12), utc(2026, 3, 30, 12)) == [
        utc(2026, 3, 28, 1), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0)]
    # 03:00 is the first hour of the new offset: 01:00 UTC, then 02:00 UTC the day before.
    assert beat_runs(3, BERLIN, utc(2026, 3, 27, 12), utc(2026, 3, 30, 12)) == [
        utc(2026, 3, 28, 2), utc(2026, 3, 29, 1), utc(2026, 3, 30, 1)]


def test_berlin_fall_back_a_repeated_hour_runs_once_at_its_first_occurrence() -> None:
    # 2026-10-25 02:00 happens twice: CEST (00:00 UTC), then CET (01:00 UTC).
    runs = beat_runs(2, BERLIN, utc(2026, 10, 23, 12), utc(2026, 10, 26, 12))
    assert runs == [utc(2026, 10, 24, 0), utc(2026, 10, 25, 0), utc(2026, 10, 26, 1)]
    # asked during the second 02:00, with new corrections: still the same local day's run
    assert not nightly_due(utc(2026, 10, 25, 1, 30), 2, utc(2026, 10, 25, 0), utc(2026, 10, 25, 1, 20),
                           timezone=BERLIN)


def test_new_york_spring_forward_and_fall_back() -> None:
    # 2026-03-08 02:00 EST does not exist (03:00 EDT at 07:00 UTC): one run, at the jump.
    assert beat_runs(2, NY, utc(2026, 3, 6, 12), utc(2026, 3, 9, 12)) == [
        utc(2026, 3, 7, 7), utc(2026, 3, 8, 7), utc(2026, 3, 9, 6)]
    # 2026-11-01 01:00 happens twice (EDT 05:00 UTC, EST 06:00 UTC): one run, at the first.
    assert beat_runs(1, NY, utc(2026, 10, 30, 12), utc(2026, 11, 2, 12)) == [
        utc(2026, 10, 31, 5), utc(2026, 11, 1, 5), utc(2026, 11, 2, 6)]


@pytest.mark.parametrize("tz", ["UTC", SHANGHAI, BERLIN, NY, "Australia/Lord_Howe", "America/Santiago"])
def test_every_hour_of_a_whole_year_runs_exactly_once_per_local_day(tz: str) -> None:
    """Slots step forward one local day at a time, DST or not: never two in one local day,
    none skipped."""
    from zoneinfo import ZoneInfo

    local = ZoneInfo(tz)
    for hour in range(24):
        moment, days = utc(2026, 1, 1), []
        for _ in range(366):
            moment = next_slot(moment, hour, tz)
            days.append(moment.astimezone(local).date())
        assert all(b - a == timedelta(days=1) for a, b in pairwise(days)), (tz, hour)


def test_slots_are_instants_in_utc() -> None:
    assert next_slot(utc(2026, 1, 15, 12), 9, BERLIN) == utc(2026, 1, 16, 8)  # CET
    assert next_slot(utc(2026, 7, 15, 12), 9, BERLIN) == utc(2026, 7, 16, 7)  # CEST
    assert next_slot(utc(2026, 7, 16, 7), 9, BERLIN) == utc(2026, 7, 17, 7)  # strictly after
    assert last_slot(utc(2026, 7, 16, 7), 9, BERLIN) == utc(2026, 7, 16, 7)  # at or before
    assert last_slot(utc(2026, 7, 16, 6, 59), 9, BERLIN) == utc(2026, 7, 15, 7)


def test_only_new_corrections_make_a_night_due() -> None:
    night = utc(2026, 11, 26, 2, 30)
    assert nightly_due(night, 3, None, utc(2026, 11, 20), timezone=BERLIN)  # never ran: due at its hour
    assert not nightly_due(night, 3, None, utc(2026, 11, 26, 2, 10), timezone=BERLIN)  # first correction after it
    assert not nightly_due(night, 3, None, None, timezone=BERLIN)  # nothing to learn from
    # last night's run saw every correction: nothing new, not due
    assert not nightly_due(night, 3, utc(2026, 11, 25, 2), utc(2026, 11, 25, 1), timezone=BERLIN)
    assert nightly_due(night, 3, utc(2026, 11, 25, 2), utc(2026, 11, 25, 9), timezone=BERLIN)


def test_a_disabled_tenant_is_never_due() -> None:
    assert beat_runs(2, BERLIN, utc(2026, 10, 23, 12), utc(2026, 10, 26, 12), enabled=False) == []
    assert not nightly_due(utc(2026, 11, 26, 3), 2, None, utc(2026, 11, 26, 1), enabled=False)


def test_naive_database_times_are_read_as_utc() -> None:
    """SQLite returns stored timestamps without a zone."""
    last_run = datetime(2026, 11, 25, 2, 5)
    assert nightly_due(utc(2026, 11, 26, 2), 2, last_run, datetime(2026, 11, 25, 10))
    assert not nightly_due(utc(2026, 11, 26, 1, 59), 2, last_run, datetime(2026, 11, 25, 10))


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="IANA"):
        nightly_due(utc(2026, 11, 26, 2), 2, utc(2026, 11, 25, 2), utc(2026, 11, 25, 9), timezone="Mars/Olympus")


def test_a_tenant_without_a_time_uses_the_deployment_hour_in_utc() -> None:
    default = schedule_of(Tenant(name="a"), 2)
    assert (default.hour, default.timezone, default.enabled, default.default) == (2, "UTC", True, True)
    berlin = schedule_of(Tenant(name="b", finetune_hour=3, finetune_timezone=BERLIN, finetune_enabled=False), 2)
    assert (berlin.hour, berlin.timezone, berlin.enabled, berlin.default) == (3, BERLIN, False, False)
    hour_only = schedule_of(Tenant(name="c", finetune_hour=23), 2)
    assert (hour_only.hour, hour_only.timezone, hour_only.default) == (23, "UTC", False)
