"""Background jobs of the duplicate check."""

from django_tasks import task


@task()
def backfill_keys_job(object_types: list[str] | None = None) -> dict:
    """Fill the duplicate-check keys after a bulk load (an import that used bulk_create)."""
    from core.choices import ObjectType

    from .service import backfill_keys

    return backfill_keys(object_types=tuple(object_types or (ObjectType.ACCOUNT, ObjectType.LEAD)))
