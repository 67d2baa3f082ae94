"""ChangeLog.note_is_own_words: added in place. Django's own AddField would rebuild the whole history table
on SQLite (millions of rows on a big install); a column with a constant default is a plain ALTER TABLE on
both databases (PostgreSQL stores such a default without rewriting the table)."""

from django.db import migrations, models


def add_column(apps, schema_editor):
    bool_type = "boolean DEFAULT false" if schema_editor.connection.vendor == "postgresql" else "bool DEFAULT 0"
    schema_editor.execute(f"ALTER TABLE core_changelog ADD COLUMN note_is_own_words {bool_type} NOT NULL")


def drop_column(apps, schema_editor):
    schema_editor.execute("ALTER TABLE core_changelog DROP COLUMN note_is_own_words")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_lead_flow"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(add_column, drop_column)],
            state_operations=[
                migrations.AddField(
                    model_name="changelog",
                    name="note_is_own_words",
                    field=models.BooleanField(db_default=False, default=False),
                ),
            ],
        ),
    ]
