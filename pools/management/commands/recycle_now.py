"""Run the recycling sweep (and, if asked, the reminders) now, without waiting for the scheduler."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from pools import actions
from pools.models import Pool


class Command(BaseCommand):
    help = "Send records that their pool's rules find due back to the pool, now."

    def add_arguments(self, parser):
        parser.add_argument("--pool", type=int, action="append", help="Only this pool (id); repeatable.")
        parser.add_argument("--dry-run", action="store_true", help="Count what is due; change nothing.")
        parser.add_argument("--reminders", action="store_true", help="Also send the reminders.")
        parser.add_argument("--enqueue", action="store_true", help="Put the jobs on the task queue instead.")

    def handle(self, *args, **options):
        pool_ids = options["pool"]
        if options["enqueue"]:
            from pools import jobs

            jobs.recycle_due_records.enqueue(pool_ids=pool_ids)
            if options["reminders"]:
                jobs.send_recycling_reminders.enqueue()
            self.stdout.write("Enqueued.")
            return
        if options["dry_run"]:
            now = timezone.now()
            pools = Pool.objects.filter(is_active=True)
            if pool_ids:
                pools = pools.filter(pk__in=pool_ids)
            for pool in pools.order_by("id"):
                for rule in pool.rules.filter(is_active=True).order_by("id"):
                    due = actions.due_queryset(pool, rule, now=now).count()
                    self.stdout.write(f"{pool.name} / {rule.name}: {due} due")
            return
        started = timezone.now()
        counts = actions.recycle_due_records(pool_ids=pool_ids)
        seconds = (timezone.now() - started).total_seconds()
        for pool_id, count in counts.items():
            self.stdout.write(f"pool {pool_id}: {count} recycled")
        self.stdout.write(f"{sum(counts.values())} recycled in {seconds:.2f} s")
        if options["reminders"]:
            self.stdout.write(f"{actions.send_recycling_reminders()} reminder(s) sent")
