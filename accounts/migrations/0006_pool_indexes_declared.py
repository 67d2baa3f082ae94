"""Declare the pool indexes of migration 0005 in the model, and create them where they went missing.

0005 created them in the database only. On SQLite, a later AlterField of the table (leads 0006) rebuilds
it from the migration state and silently drops indexes the state does not know, so databases created
since then lacked them: the recycling sweep scanned the whole pool and the claim list filtered every
pooled record. Now the state knows them; the database gets each one that is missing, nothing else.
"""

from django.db import migrations, models

INDEXES = [
    models.Index(
        fields=["pool", "owner_since"],
        name="account_pool_owned_idx",
        condition=models.Q(deleted_at__isnull=True, owner__isnull=False),
    ),
    models.Index(
        fields=["pool", "-created_at", "-id"],
        name="account_pool_open_idx",
        condition=models.Q(deleted_at__isnull=True, owner__isnull=True),
    ),
]


def create_missing(apps, schema_editor):
    Model = apps.get_model("accounts", "account")
    with schema_editor.connection.cursor() as cursor:
        existing = schema_editor.connection.introspection.get_constraints(cursor, Model._meta.db_table)
    for index in INDEXES:
        if index.name not in existing:
            schema_editor.add_index(Model, index)


def drop(apps, schema_editor):
    Model = apps.get_model("accounts", "account")
    for index in INDEXES:
        schema_editor.remove_index(Model, index)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_pool_recycling"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create_missing, drop)],
            state_operations=[migrations.AddIndex(model_name="account", index=index) for index in INDEXES],
        ),
    ]
