"""The scheduler enqueues the pool jobs at their times; the jobs and `recycle_now` run the same actions."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from core.management.commands.scheduler import DEFAULT_SCHEDULE, occurrences
from core.models import Notification
from leads.models import Lead
from pools.tests.conftest import at

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default"]}}
DUMMY = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend", "QUEUES": ["default"]}}


def run(*args):
    out = io.StringIO()
    call_command("scheduler", *args, stdout=out, stderr=out)
    return out.getvalue()


def enqueued():
    from django_tasks import default_task_backend

    return [r.task.module_path for r in default_task_backend.results]


@pytest.fixture
def dummy_queue(settings):
    settings.TASKS = DUMMY
    from django_tasks import default_task_backend

    default_task_backend.clear()
    yield
    default_task_backend.clear()


@pytest.mark.django_db
def test_once_enqueues_what_is_due_in_that_minute(dummy_queue):
    assert "enqueued recycle" in run("--once", "--at", "2026-11-27T01:00:20")
    assert enqueued() == ["pools.jobs.recycle_due_records"]
    run("--once", "--at", "2026-11-27T02:00")
    run("--once", "--at", "2026-11-27T07:59:59")
    assert len(enqueued()) == 1
    run("--once", "--at", "2026-11-27T08:00:30+08:00")
    assert enqueued()[-1] == "pools.jobs.send_recycling_reminders"
    run("--once", "--at", "2026-11-27T00:00:30Z")  # 08:00:30 in Shanghai
    assert len(enqueued()) == 3


@pytest.mark.django_db
def test_run_on_demand_and_list(dummy_queue):
    run("--run", "reminders")
    assert enqueued() == ["pools.jobs.send_recycling_reminders"]
    assert "next" in run("--list")
    with pytest.raises(CommandError):
        run("--run", "nope")
    with pytest.raises(CommandError):
        run("--once", "--at", "yesterday")


@pytest.mark.django_db
def test_a_custom_schedule_with_intervals(settings, dummy_queue):
    settings.TIDE_SCHEDULE = [{"name": "often", "task": "pools.jobs.send_recycling_reminders", "every": 15}]
    run("--once", "--at", "2026-11-27T10:15:10")
    run("--once", "--at", "2026-11-27T10:20:00")
    assert len(enqueued()) == 1
    settings.TIDE_SCHEDULE = [{"name": "broken", "task": "x"}]
    with pytest.raises(CommandError):
        run("--list")


def test_occurrences_fire_once_per_window():
    recycle = DEFAULT_SCHEDULE[0]
    start = at("2026-11-26", 0)
    assert occurrences(recycle, start, start + datetime.timedelta(hours=2)) == [at("2026-11-26", 1)]
    assert occurrences(recycle, at("2026-11-26", 1), at("2026-11-26", 3)) == []  # t > start
    three_days = occurrences(recycle, start, start + datetime.timedelta(days=3))
    assert len(three_days) == 3


@pytest.mark.django_db
def test_the_scheduled_sweep_recycles(world, settings):
    settings.TASKS = IMMEDIATE
    world.rule(days=30)
    lead = world.lead(owner=world.rep, owner_since=at("2025-01-01"))
    run("--once", "--at", "2026-11-27T01:00")
    assert Lead.all_objects.get(pk=lead.pk).owner_id is None


@pytest.mark.django_db
def test_reminder_job_and_recycle_now_command(world, settings):
    settings.TASKS = IMMEDIATE
    from django.utils import timezone

    from pools import jobs

    world.rule(days=30)
    soon = world.lead(owner=world.rep, owner_since=timezone.now() - datetime.timedelta(days=30))
    late = world.lead("早该回收", owner=world.rep, owner_since=at("2025-01-01"))
    result = jobs.send_recycling_reminders.enqueue()
    assert result.return_value >= 1 and Notification.objects.filter(user=world.rep).exists()
    out = io.StringIO()
    call_command("recycle_now", "--dry-run", stdout=out)
    assert "华东线索公海 / 30 天未跟进: 1 due" in out.getvalue()
    call_command("recycle_now", "--pool", str(world.lead_pool.pk), stdout=out)
    assert "1 recycled" in out.getvalue()
    assert Lead.all_objects.get(pk=late.pk).owner_id is None
    assert Lead.all_objects.get(pk=soon.pk).owner_id == world.rep.pk
