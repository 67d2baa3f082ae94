from django.db import migrations

# A plain B2B stage list; business types with their own stages come later.
STAGES = [
    ("初步接洽", 10, "open"),
    ("需求确认", 25, "open"),
    ("方案报价", 50, "open"),
    ("商务谈判", 75, "open"),
    ("赢单", 100, "won"),
    ("输单", 0, "lost"),
]


def add_stages(apps, schema_editor):
    Stage = apps.get_model("opportunities", "Stage")
    if Stage.objects.exists():
        return
    for order, (name, probability, status) in enumerate(STAGES, start=1):
        Stage.objects.create(name=name, probability=probability, sort_order=order * 10, status=status)


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0002_initial")]
    operations = [migrations.RunPython(add_stages, migrations.RunPython.noop)]
