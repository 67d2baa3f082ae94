"""The scheduler: ONE process that puts periodic background jobs on the task queue; a task worker runs them.

    python manage.py scheduler                 # run until stopped (systemd, supervisor, a container)
    python manage.py scheduler --list          # the schedule and the next run of each job
    python manage.py scheduler --run recycle   # enqueue one job now and exit (on demand)
    python manage.py scheduler --once --at 2026-11-27T01:00   # enqueue the jobs due in that minute, exit

The schedule is `settings.TIDE_SCHEDULE` when set, else `DEFAULT_SCHEDULE`: a list of
{"name", "task" (dotted path of a django_tasks task), and "at": "HH:MM" (daily) or "every": minutes}.
Times are wall-clock times in settings.TIME_ZONE (Asia/Shanghai). The scheduler only enqueues: with the
database queue `manage.py db_worker --queue-name '*'` runs the jobs, with TIDE_TASKS=redis
`manage.py rqworker default imports` does. Run exactly one scheduler per installation, or each job is
enqueued once per scheduler. A job whose time passes while the scheduler is down is not made up for,
unless you pass --catch-up (then it runs once at start-up).
"""

from __future__ import annotations

import datetime
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.module_loading import import_string

DEFAULT_SCHEDULE = [
    {"name": "recycle", "task": "pools.jobs.recycle_due_records", "at": "01:00"},
    {"name": "reminders", "task": "pools.jobs.send_recycling_reminders", "at": "08:00"},
    {"name": "resume-imports", "task": "imports.jobs.resume_imports", "every": 1},
    {"name": "import-files", "task": "imports.jobs.remove_orphan_files", "at": "03:30"},
]
TICK_SECONDS = 30


def schedule() -> list[dict]:
    entries = getattr(settings, "TIDE_SCHEDULE", None) or DEFAULT_SCHEDULE
    for entry in entries:
        if not entry.get("name") or not entry.get("task") or not (entry.get("at") or entry.get("every")):
            raise CommandError(f"Schedule entry {entry!r} needs a name, a task and 'at' or 'every'.")
        if entry.get("at"):
            _time_of(entry)
    return entries


def _time_of(entry) -> datetime.time:
    try:
        return datetime.time.fromisoformat(entry["at"])
    except ValueError:
        raise CommandError(f"Schedule entry {entry['name']!r}: 'at' must be HH:MM.") from None


def occurrences(entry: dict, start: datetime.datetime, end: datetime.datetime) -> list[datetime.datetime]:
    """The entry's scheduled moments t with start < t <= end (local wall-clock times)."""
    found = []
    day = timezone.localtime(start).date()
    last_day = timezone.localtime(end).date()
    while day <= last_day:
        midnight = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        if entry.get("at"):
            moments = [timezone.make_aware(datetime.datetime.combine(day, _time_of(entry)))]
        else:
            step = datetime.timedelta(minutes=int(entry["every"]))
            moments = [midnight + step * k for k in range(int(datetime.timedelta(days=1) / step))]
        found += [t for t in moments if start < t <= end]
        day += datetime.timedelta(days=1)
    return found


def next_run(entry: dict, after: datetime.datetime) -> datetime.datetime:
    moments = occurrences(entry, after, after + datetime.timedelta(days=1, minutes=1))
    return min(moments)


class Command(BaseCommand):
    help = "Put periodic background jobs (recycling sweep, reminders…) on the task queue on schedule."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Enqueue the jobs due in the current minute and exit.")
        parser.add_argument("--at", help="With --once: pretend it is this time (ISO 8601; local time if no offset).")
        parser.add_argument("--run", metavar="NAME", help="Enqueue the named job now and exit.")
        parser.add_argument("--list", action="store_true", help="Show the schedule and exit.")
        parser.add_argument("--catch-up", action="store_true", help="At start-up, enqueue jobs missed earlier today.")
        parser.add_argument("--tick", type=int, default=TICK_SECONDS, help="Seconds between checks (default 30).")

    def handle(self, *args, **options):
        entries = schedule()
        by_name = {e["name"]: e for e in entries}
        if options["list"]:
            now = timezone.now()
            for entry in entries:
                when = timezone.localtime(next_run(entry, now)).strftime("%Y-%m-%d %H:%M")
                self.stdout.write(f"{entry['name']:<12} {entry['task']:<45} next {when}")
            return
        if options["run"]:
            entry = by_name.get(options["run"])
            if entry is None:
                raise CommandError(f"No job named {options['run']!r}; known: {', '.join(by_name)}.")
            self.enqueue(entry)
            return
        if options["once"]:
            now = self.parse_at(options["at"]) if options["at"] else timezone.now()
            for entry in entries:
                if occurrences(entry, now - datetime.timedelta(seconds=60), now):
                    self.enqueue(entry)
            return
        self.loop(entries, tick=max(1, options["tick"]), catch_up=options["catch_up"])

    def parse_at(self, text: str) -> datetime.datetime:
        try:
            value = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise CommandError("--at must be an ISO 8601 date and time, e.g. 2026-11-27T01:00") from None
        return value if timezone.is_aware(value) else timezone.make_aware(value)

    def enqueue(self, entry: dict) -> None:
        try:
            result = import_string(entry["task"]).enqueue()
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the scheduler
            self.stderr.write(f"{timezone.localtime():%Y-%m-%d %H:%M:%S} {entry['name']}: could not enqueue: {exc}")
            return
        self.stdout.write(f"{timezone.localtime():%Y-%m-%d %H:%M:%S} enqueued {entry['name']} ({result.id})")

    def loop(self, entries, *, tick: int, catch_up: bool) -> None:
        running = True

        def stop(signum, frame):
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        last = timezone.now()
        if catch_up:
            midnight = timezone.make_aware(datetime.datetime.combine(timezone.localdate(last), datetime.time.min))
            for entry in entries:
                if entry.get("at") and occurrences(entry, midnight - datetime.timedelta(seconds=1), last):
                    self.enqueue(entry)
        self.stdout.write(f"Scheduler started: {', '.join(e['name'] for e in entries)}")
        while running:
            for _second in range(max(1, tick)):  # short naps so a stop signal ends the process at once
                if not running:
                    break
                time.sleep(1)
            if not running:
                break
            now = timezone.now()
            if now <= last:  # the clock went back: wait for it to catch up
                continue
            for entry in entries:
                if occurrences(entry, last, now):  # once per entry, even after a long pause
                    self.enqueue(entry)
            last = now
        self.stdout.write("Scheduler stopped.")
