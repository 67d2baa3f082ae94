"""Background jobs of the public pools; `manage.py scheduler` enqueues them (sweep at night, reminders in
the morning) and the task worker runs them. Both are idempotent: running one twice changes nothing more."""

from django_tasks import task

from . import actions


@task()
def recycle_due_records(pool_ids: list[int] | None = None) -> dict[str, int]:
    """Send records that their pool's rules find due back to the pool."""
    counts = actions.recycle_due_records(pool_ids=pool_ids)
    return {str(pool_id): n for pool_id, n in counts.items()}


@task()
def send_recycling_reminders() -> int:
    """Remind owners (and managers, where the pool says so) of records about to be recycled."""
    return actions.send_recycling_reminders()
