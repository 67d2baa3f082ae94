"""Seed the holiday calendar from the chinesecalendar package (the years it covers)."""

from django.db import migrations


CHINESE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def seed(apps, schema_editor):
    try:
        from chinese_calendar.constants import holidays, workdays
    except ImportError:  # the package is optional at run time: admins can enter the schedule instead
        return
    HolidayCalendar = apps.get_model("pools", "HolidayCalendar")
    known = set(HolidayCalendar.objects.values_list("date", flat=True))
    rows = [
        HolidayCalendar(date=day, is_workday=False, name=CHINESE_NAMES.get(str(name), str(name)), source="package")
        for day, name in holidays.items()
        if day not in known
    ]
    rows += [
        HolidayCalendar(date=day, is_workday=True, name=CHINESE_NAMES.get(str(name), str(name)) + "调休", source="package")
        for day, name in workdays.items()
        if day not in known
    ]
    HolidayCalendar.objects.bulk_create(rows, batch_size=500)


def unseed(apps, schema_editor):
    apps.get_model("pools", "HolidayCalendar").objects.filter(source="package").delete()


class Migration(migrations.Migration):
    dependencies = [("pools", "0002_pool_rules_and_logs")]

    operations = [migrations.RunPython(seed, unseed)]
