"""Fill the duplicate-check keys of the leads and accounts that exist before this app (derived data)."""

from django.db import migrations


def fill(apps, schema_editor):
    from dedupe.service import backfill_keys

    backfill_keys(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("dedupe", "0001_initial"),
        ("accounts", "0004_lead_flow"),
        ("leads", "0004_lead_flow"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop, elidable=True)]
