from django.db import migrations

from search.backends import POSTGRES_SETUP, POSTGRES_TEARDOWN, SQLITE_SETUP, SQLITE_TEARDOWN


def setup(apps, schema_editor):
    statements = SQLITE_SETUP if schema_editor.connection.vendor == "sqlite" else POSTGRES_SETUP
    for sql in statements:
        schema_editor.execute(sql)


def teardown(apps, schema_editor):
    statements = SQLITE_TEARDOWN if schema_editor.connection.vendor == "sqlite" else POSTGRES_TEARDOWN
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]
    operations = [migrations.RunPython(setup, teardown)]
