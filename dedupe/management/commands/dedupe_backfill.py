"""Fill the duplicate-check keys of existing leads and accounts in bulk (rows created without signals)."""

from django.core.management.base import BaseCommand

from core.choices import ObjectType
from dedupe.service import backfill_keys


class Command(BaseCommand):
    help = "Fill match_name and the abbreviation keys of every lead and account (safe to re-run)."

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=[ObjectType.ACCOUNT, ObjectType.LEAD], help="one object type only")
        parser.add_argument("--batch", type=int, default=5000, help="rows per transaction")
        parser.add_argument("--missing", action="store_true", help="only rows whose keys are still empty")

    def handle(self, *args, only=None, batch=5000, missing=False, verbosity=1, **options):
        types = [only] if only else [ObjectType.ACCOUNT, ObjectType.LEAD]
        out = self.stdout if verbosity > 1 else None
        counts = backfill_keys(object_types=types, batch=batch, missing_only=missing, out=out)
        for object_type, c in counts.items():
            self.stdout.write(f"{object_type}: {c['updated']:,} keys updated, {c['name_keys']:,} abbreviation keys")
