"""When a schedule fires: cron in the schedule's own time zone, answered in UTC.

Pure functions of their arguments (no clock, no database), so every rule is testable at
explicit instants. Fire times are wall-clock times in the schedule's zone; across a
daylight-saving change that gives two rules, chosen so a run is never doubled:

- a wall time the clock skips (spring forward, e.g. 02:30 in New York on 2026-03-08)
  runs once, shifted by the gap (at 03:30 local);
- a wall time that happens twice (fall back, e.g. 01:30 on 2026-11-01) runs once, at
  its first occurrence.

A fire time produced twice by these rules (a ``*/15`` schedule whose 02:30 lands on the
real 03:30) is one run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from shared.errors import InvalidInput
from shared.models import MissedPolicy

# Wide enough that a fire time moved by any real-world offset change stays in the window.
_SLACK = timedelta(hours=3)
_HORIZON = timedelta(days=366 * 8)  # "0 0 29 2 1" (29 February on a Monday) fires this rarely


def validate_cron(cron: str) -> str:
    """A standard 5-field expression (minute hour day month weekday); raises InvalidInput."""
    fields = cron.split()
    if len(fields) != 5:
        raise InvalidInput("'cron' must have 5 fields: minute hour day-of-month month day-of-week", field="cron")
    if not croniter.is_valid(" ".join(fields)):
        raise InvalidInput(f"'cron' is not a valid cron expression: {cron!r}", field="cron")
    try:
        croniter(" ".join(fields), datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError as exc:
        raise InvalidInput(f"'cron' never fires: {cron!r}", field="cron") from exc
    return " ".join(fields)


def zone(name: str) -> ZoneInfo:
    """An IANA zone by name; raises InvalidInput for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"'timezone' must be an IANA time zone such as 'Europe/Berlin', not {name!r}",
                           field="timezone") from exc


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("schedule arithmetic needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def fire_times(cron: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time t with ``start < t <= end``, in UTC, ascending, without duplicates."""
    start, end, local = _utc(start), _utc(end), zone(tz)
    if end <= start:
        return []
    lo = (start - _SLACK).astimezone(local).replace(tzinfo=None)
    hi = (end + _SLACK).astimezone(local).replace(tzinfo=None)
    walls = croniter(cron, lo)
    found: set[datetime] = set()
    while True:
        try:
            wall = walls.get_next(datetime)
        except CroniterBadDateError:  # no further match for years
            break
        if wall > hi:
            break
        # fold=0: a skipped wall time takes the offset before the change (shifted forward by
        # the gap); a repeated one is its first occurrence.
        moment = wall.replace(tzinfo=local, fold=0).astimezone(UTC)
        if start < moment <= end:
            found.add(moment)
    return sorted(found)


def next_run(cron: str, tz: str, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (UTC), or None if there is none for years."""
    after = _utc(after)
    span = timedelta(days=1)
    while span <= _HORIZON * 2:
        found = fire_times(cron, tz, after, after + span)
        if found:
            return found[0]
        span *= 2
    return None


def last_run(cron: str, tz: str, since: datetime, now: datetime) -> datetime | None:
    """The latest fire time t with ``since < t <= now``, or None."""
    since, now = _utc(since), _utc(now)
    span = timedelta(days=1)
    while True:
        start = max(since, now - span)
        found = fire_times(cron, tz, start, now)
        if found:
            return found[-1]
        if start == since:
            return None
        span *= 2


def due_runs(cron: str, tz: str, since: datetime, now: datetime, policy: MissedPolicy | str,
             grace: timedelta) -> list[datetime]:
    """The runs to start now for fire times in ``(since, now]`` (``since``: up to where they
    were handled before). At most one run: several fire times due at once means runs were
    missed (beat was down, or the schedule was created with a past backlog), and a tenant
    never wants a burst of identical batches.

    - ``skip``: run the latest fire time only if it is at most ``grace`` late; older ones,
      and a latest one later than that, are dropped.
    - ``catch_up_once``: if any fire time was missed, run once, for the latest.
    """
    policy = MissedPolicy(policy)
    latest = last_run(cron, tz, since, now)
    if latest is None:
        return []
    if policy is MissedPolicy.skip and _utc(now) - latest > grace:
        return []
    return [latest]
