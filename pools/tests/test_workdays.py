"""China's working days from the holiday table: holidays off, make-up days (调休) on, unknown years Mon–Fri."""

import datetime

import pytest

from core import workdays
from pools.models import HolidayCalendar
from pools.tests.conftest import at

D = datetime.date


@pytest.mark.django_db
def test_the_table_is_seeded_from_the_package():
    national_day = HolidayCalendar.objects.get(date=D(2026, 10, 1))
    assert (national_day.is_workday, national_day.name, national_day.source) == (False, "国庆节", "package")
    assert HolidayCalendar.objects.get(date=D(2026, 10, 10)).is_workday  # Saturday, make-up day
    assert HolidayCalendar.objects.filter(date__year=2004).exists()


@pytest.mark.django_db
def test_holidays_and_make_up_days():
    assert not workdays.is_workday(D(2026, 10, 5))  # Monday in the National Day week
    assert workdays.is_workday(D(2026, 9, 20))  # Sunday, make-up day
    assert workdays.is_workday(D(2026, 2, 14))  # Saturday before the Spring Festival
    assert not workdays.is_workday(D(2026, 2, 16))  # Monday, Spring Festival
    assert not workdays.is_workday(D(2026, 11, 28))  # an ordinary Saturday
    assert workdays.is_workday(D(2027, 1, 1))  # a Friday the package does not know: Mon–Fri rule


@pytest.mark.django_db
def test_add_working_days_across_national_day():
    # Wed 30 Sep → Oct 1–7 off → Thu 8, Fri 9, Sat 10 (make-up) are the next three working days.
    assert workdays.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    assert workdays.add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert workdays.add_working_days(D(2026, 9, 30), 4) == D(2026, 10, 12)
    # The Sunday make-up day 20 Sep counts: Friday 18 Sep + 1 working day is that Sunday.
    assert workdays.add_working_days(D(2026, 9, 18), 1) == D(2026, 9, 20)
    # Backwards over the Spring Festival: Feb 15–23 off, Saturday Feb 14 is a working day.
    assert workdays.add_working_days(D(2026, 2, 24), -1) == D(2026, 2, 14)
    assert workdays.add_working_days(D(2026, 2, 24), 0) == D(2026, 2, 24)


@pytest.mark.django_db
def test_working_days_between():
    assert workdays.working_days_between(D(2026, 10, 1), D(2026, 10, 11)) == 3  # Oct 8, 9, 10
    assert workdays.working_days_between(D(2026, 9, 14), D(2026, 9, 21)) == 6  # Mon–Fri + Sunday 20th
    assert workdays.working_days_between(D(2026, 2, 14), D(2026, 3, 1)) == 6  # Feb 14, 24–27, 28
    assert workdays.working_days_between(D(2026, 11, 23), D(2026, 11, 23)) == 0
    assert workdays.working_days_between(D(2026, 11, 30), D(2026, 11, 23)) == -5


@pytest.mark.django_db
def test_an_admin_entry_changes_the_count():
    assert workdays.working_days_between(D(2027, 2, 1), D(2027, 2, 8)) == 5
    HolidayCalendar.objects.create(date=D(2027, 2, 3), is_workday=False, name="春节")
    HolidayCalendar.objects.create(date=D(2027, 2, 6), is_workday=True, name="春节调休")
    assert workdays.working_days_between(D(2027, 2, 1), D(2027, 2, 8)) == 5  # one off, one on
    assert not workdays.is_workday(D(2027, 2, 3))
    assert workdays.is_workday(D(2027, 2, 6))


@pytest.mark.django_db
def test_cutoff_counts_full_days_only():
    now = at("2026-11-26", 1)  # Thursday, during the nightly sweep
    assert workdays.recycle_cutoff(3, "calendar", now=now) == at("2026-11-23", 0)
    # Three working days before Thursday 26 Nov: Mon 23, Tue 24, Wed 25 → midnight of Monday.
    assert workdays.recycle_cutoff(3, "working", now=now) == at("2026-11-23", 0)
    assert workdays.recycle_cutoff(5, "working", now=now) == at("2026-11-19", 0)
    # After National Day: on Sun 11 Oct, 3 working days back are Sat 10, Fri 9, Thu 8.
    assert workdays.recycle_cutoff(3, "working", now=at("2026-10-11", 1)) == at("2026-10-08", 0)
    assert workdays.recycle_cutoff(4, "working", now=at("2026-10-11", 1)) == at("2026-09-30", 0)


@pytest.mark.django_db
def test_due_date_agrees_with_the_cutoff():
    calendar = workdays.WorkCalendar()
    activity = at("2026-09-30", 15)
    assert calendar.due_date(activity, 3, "working") == D(2026, 10, 11)
    assert calendar.due_date(activity, 3, "calendar") == D(2026, 10, 4)
    # Due on that day, not the day before: the sweep and the reminder use one definition.
    assert activity < calendar.cutoff(3, "working", now=at("2026-10-11", 1))
    assert not activity < calendar.cutoff(3, "working", now=at("2026-10-10", 23))


def test_fixed_exceptions_need_no_database():
    calendar = workdays.WorkCalendar({D(2030, 1, 1): False})
    assert not calendar.is_workday(D(2030, 1, 1))
    assert calendar.add_working_days(D(2029, 12, 31), 1) == D(2030, 1, 2)
    with pytest.raises(ValueError):
        calendar.cutoff(1, "lunar")
