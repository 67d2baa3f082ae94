"""Working days in mainland China: weekends off, public holidays off, make-up working days (调休) on.

The exceptions to Monday-to-Friday live in the holiday calendar table (pools.HolidayCalendar), seeded
from the chinesecalendar package and extended by administrators when the State Council publishes the
next year's schedule. A date the table does not list follows the weekday rule.

Recycling counts *full* days: neither the day of the last activity nor today count, so a record last
touched on Wednesday afternoon has had one full working day (Thursday) by Friday.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

CALENDAR = "calendar"
WORKING = "working"
MODES = (CALENDAR, WORKING)

ONE_DAY = datetime.timedelta(days=1)


class WorkCalendar:
    """Reads the holiday table one year at a time and keeps what it read: make one per job or request."""

    def __init__(self, exceptions: dict[datetime.date, bool] | None = None):
        self._exceptions: dict[datetime.date, bool] = dict(exceptions or {})
        self._years: set[int] = set()
        self._fixed = exceptions is not None  # given explicitly (tests): never read the table

    def _load(self, year: int) -> None:
        if self._fixed or year in self._years:
            return
        from pools.models import HolidayCalendar

        rows = HolidayCalendar.objects.filter(date__year=year).values_list("date", "is_workday")
        self._exceptions.update(dict(rows))
        self._years.add(year)

    def is_workday(self, day: datetime.date) -> bool:
        self._load(day.year)
        listed = self._exceptions.get(day)
        if listed is not None:
            return listed
        return day.weekday() < 5

    def add_working_days(self, start: datetime.date, n: int) -> datetime.date:
        """The n-th working day after `start` (before it when n < 0); `start` itself never counts; n=0 is start."""
        if n == 0:
            return start
        step = ONE_DAY if n > 0 else -ONE_DAY
        remaining = abs(n)
        day = start
        while remaining:
            day += step
            if self.is_workday(day):
                remaining -= 1
        return day

    def working_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """Working days d with start <= d < end (negative when end < start), like numpy's busday_count."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start
        while day < end:
            if self.is_workday(day):
                count += 1
            day += ONE_DAY
        return count

    def cutoff(self, n: int, mode: str = CALENDAR, *, now: datetime.datetime | None = None) -> datetime.datetime:
        """The moment before which the last activity must lie for a record to be due after n full days.

        Calendar mode: midnight n days before today. Working mode: midnight of the n-th working day
        before today. A record last active before that moment has had at least n full (working) days.
        """
        if mode not in MODES:
            raise ValueError(f"unknown day count {mode!r}")
        today = timezone.localdate(now or timezone.now())
        if mode == CALENDAR:
            day = today - datetime.timedelta(days=n)
        else:
            day = self.add_working_days(today, -n)
        return start_of_day(day)

    def due_date(self, activity: datetime.datetime, n: int, mode: str = CALENDAR) -> datetime.date:
        """The first day on which a record last active at `activity` is due (its nightly sweep recycles it)."""
        if mode not in MODES:
            raise ValueError(f"unknown day count {mode!r}")
        day = timezone.localdate(activity) if timezone.is_aware(activity) else activity.date()
        if mode == CALENDAR:
            return day + datetime.timedelta(days=n + 1)
        return self.add_working_days(day, n) + ONE_DAY


def start_of_day(day: datetime.date) -> datetime.datetime:
    """Local midnight at the start of `day`, as an aware datetime."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def is_workday(day: datetime.date) -> bool:
    return WorkCalendar().is_workday(day)


def add_working_days(start: datetime.date, n: int) -> datetime.date:
    """The n-th working day after `start` (before it when n < 0); `start` itself never counts."""
    return WorkCalendar().add_working_days(start, n)


def working_days_between(start: datetime.date, end: datetime.date) -> int:
    """Working days d with start <= d < end."""
    return WorkCalendar().working_days_between(start, end)


def recycle_cutoff(n: int, mode: str = CALENDAR, *, now: datetime.datetime | None = None) -> datetime.datetime:
    """The datetime before which the last activity must lie for a record to be due after n (working) days."""
    return WorkCalendar().cutoff(n, mode, now=now)


def due_date(activity: datetime.datetime, n: int, mode: str = CALENDAR) -> datetime.date:
    """The day a record last active at `activity` becomes due after n (working) days."""
    return WorkCalendar().due_date(activity, n, mode)
