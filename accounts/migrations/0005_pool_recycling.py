"""Indexes for public pools: the recycling sweep (a pool's owned records by ownership age) and the
pool's claim list (its unowned records, newest first); owned records without `owner_since` get their
creation time, the best estimate of when their owner got them.

The indexes exist in the database only (SeparateDatabaseAndState): accounts/models.py is not the pools
engineer's file. Declaring them in Account.Meta.indexes later needs this operation turned into plain
AddIndex operations, nothing else.
"""

from django.db import migrations, models
from django.db.models import F, Q


def backfill_owner_since(apps, schema_editor):
    Model = apps.get_model("accounts", "Account")
    Model._base_manager.filter(owner__isnull=False, owner_since__isnull=True).update(owner_since=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_lead_flow"),
        ("pools", "0002_pool_rules_and_logs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddIndex(
                    model_name="account",
                    index=models.Index(
                        fields=["pool", "owner_since"],
                        name="account_pool_owned_idx",
                        condition=Q(deleted_at__isnull=True, owner__isnull=False),
                    ),
                ),
                migrations.AddIndex(
                    model_name="account",
                    index=models.Index(
                        fields=["pool", "-created_at", "-id"],
                        name="account_pool_open_idx",
                        condition=Q(deleted_at__isnull=True, owner__isnull=True),
                    ),
                ),
            ],
            state_operations=[],
        ),
        migrations.RunPython(backfill_owner_since, migrations.RunPython.noop),
    ]
