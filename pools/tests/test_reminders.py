"""Reminders before recycling (once per record, owner and due date) and the rep's due list."""

import datetime

import pytest
from freezegun import freeze_time

from core.models import Notification
from pools import actions
from pools.models import Pool, RecyclingReminder
from pools.tests.conftest import at

MORNING = at("2026-11-26", 8)


@pytest.fixture
def due_soon(world):
    """30 days without follow-up, reminders 3 days ahead: two leads go back on 28 and 29 Nov, one later."""
    world.rule(days=30)
    return {
        "28th": world.lead("周六回收", owner=world.rep, owner_since=at("2026-10-28", 10)),
        "29th": world.lead("周日回收", owner=world.rep, owner_since=at("2026-10-29", 10)),
        "later": world.lead("下月回收", owner=world.rep, owner_since=at("2026-11-01", 10)),
    }


@pytest.mark.django_db
def test_owner_is_reminded_once_with_the_date(world, due_soon):
    assert actions.send_recycling_reminders(now=MORNING) == 2
    titles = sorted(Notification.objects.filter(user=world.rep).values_list("title", flat=True))
    assert titles == [
        "“周六回收” goes back to the pool “华东线索公海” on 2026-11-28",
        "“周日回收” goes back to the pool “华东线索公海” on 2026-11-29",
    ]
    note = Notification.objects.filter(user=world.rep, title__contains="周六").get()
    assert note.kind == "pool_recycle_reminder" and note.url == f"/leads/{due_soon['28th'].pk}/"
    # The next run, and the next morning, remind nobody again about the same dates.
    assert actions.send_recycling_reminders(now=MORNING) == 0
    assert actions.send_recycling_reminders(now=at("2026-11-27", 8)) == 0
    assert Notification.objects.filter(user=world.rep).count() == 2
    assert RecyclingReminder.objects.count() == 2


@pytest.mark.django_db
def test_a_new_due_date_is_a_new_reminder(world, due_soon):
    actions.send_recycling_reminders(now=MORNING)
    lead = due_soon["28th"]
    type(lead).all_objects.filter(pk=lead.pk).update(last_followup_at=at("2026-10-30", 9))  # followed up
    assert actions.send_recycling_reminders(now=at("2026-11-28", 8)) == 1  # now due on 30 Nov
    assert (
        Notification.objects.filter(
            user=world.rep, title__contains="周六回收” goes back to the pool “华东线索公海” on 2026-11-30"
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_reminder_days_are_per_pool(world, due_soon):
    Pool.objects.filter(pk=world.lead_pool.pk).update(reminder_days=2)
    assert actions.send_recycling_reminders(now=MORNING) == 1  # only the 28th
    Pool.objects.filter(pk=world.lead_pool.pk).update(reminder_days=0)
    assert actions.send_recycling_reminders(now=at("2026-11-27", 8)) == 0


@pytest.mark.django_db
def test_manager_is_reminded_when_the_pool_says_so(world, due_soon):
    world.rep.manager = world.boss
    world.rep.save()
    actions.send_recycling_reminders(now=MORNING)
    assert not Notification.objects.filter(user=world.boss).exists()
    RecyclingReminder.objects.all().delete()
    Notification.objects.all().delete()
    Pool.objects.filter(pk=world.lead_pool.pk).update(remind_manager=True)
    assert actions.send_recycling_reminders(now=MORNING) == 4
    boss_titles = list(Notification.objects.filter(user=world.boss).values_list("title", flat=True))
    assert len(boss_titles) == 2 and all(t.startswith("Rep: ") for t in boss_titles)


@pytest.mark.django_db
def test_many_records_on_one_day_make_one_notification(world):
    world.rule(days=30)
    for i in range(12):
        world.lead(f"批量{i}", owner=world.rep, owner_since=at("2026-10-28", 9))
    assert actions.send_recycling_reminders(now=MORNING) == 1
    note = Notification.objects.get(user=world.rep)
    assert note.title == "12 records go back to the pool “华东线索公海” on 2026-11-28"
    assert note.url == "/pools/due/" and note.body.endswith("…")
    assert RecyclingReminder.objects.count() == 12


@pytest.mark.django_db
def test_reminders_sent_in_chinese_read_in_english_and_back(world, org, web_for):
    """The scheduler writes in the site's language; the owner and his manager read in theirs, plural
    titles and the manager's copy ("owner: …") included."""
    from django.utils import translation

    world.rep.manager = world.boss
    world.rep.save(update_fields=["manager"])
    world.lead_pool.remind_manager = True
    world.lead_pool.save(update_fields=["remind_manager"])
    world.rule(days=30)
    for i in range(3):
        world.lead(f"批量{i}", owner=world.rep, owner_since=at("2026-10-28", 9))
    with translation.override("zh-hans"):
        assert actions.send_recycling_reminders(now=MORNING) == 2
    assert "将于 2026-11-28" in Notification.objects.get(user=world.rep).title  # stored in Chinese
    for user in (world.rep, world.boss):
        page = web_for(user).get("/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "3 records go back to the pool “华东线索公海” on 2026-11-28" in page
        assert "Follow up, or ask to have them locked, to keep them: 批量" in page
    managers = web_for(world.boss).get("/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Rep: 3 records go back" in managers


@pytest.mark.django_db
def test_reminder_dates_follow_working_days_and_grades(world):
    world.rule(world.account_pool, days=5, day_count="working", grade_days={"A": 20})
    plain = world.account("普通", owner=world.rep, owner_since=at("2026-09-28", 9))
    key = world.account("重点", owner=world.rep, owner_since=at("2026-09-28", 9), grade="A")
    items = actions.due_items(pools=[world.account_pool], horizon_days=60, now=at("2026-09-29", 8))
    dates = {i.object_id: i.due_date for i in items}
    # After Mon 28 Sep: Tue 29, Wed 30, (Oct 1–7 off) Thu 8, Fri 9, Sat 10 → due Sunday 11 Oct.
    assert dates[plain.pk] == datetime.date(2026, 10, 11)
    assert dates[key.pk] > dates[plain.pk]


@pytest.mark.django_db
def test_rep_sees_his_due_list(world, due_soon, api_for, web_for):
    world.lead("别人的", owner=world.rep2, owner_since=at("2026-10-28", 10))
    with freeze_time("2026-11-26T09:00:00+08:00"):
        r = api_for(world.rep).get("/pools/due", {"within_days": 3})
        assert r.status_code == 200
        assert [(i["title"], i["due_date"]) for i in r.json_body["results"]] == [
            ("周六回收", "2026-11-28"),
            ("周日回收", "2026-11-29"),
        ]
        assert r.json_body["results"][0]["url"] == f"/leads/{due_soon['28th'].pk}/"
        assert len(api_for(world.rep).get("/pools/due", {"within_days": 7}).json_body["results"]) == 3
        assert api_for(world.rep).get("/pools/due", {"within_days": 999}).status_code == 422
        page = web_for(world.rep).get("/pools/due/?days=3").content.decode()
        assert "周六回收" in page and "2026-11-28" in page and "下月回收" not in page and "别人的" not in page


@pytest.mark.django_db
def test_due_list_leaves_out_exempt_records(world, api_for):
    world.rule(days=30)
    world.lead("锁定", owner=world.rep, owner_since=at("2026-10-28", 10), is_locked=True)
    with freeze_time("2026-11-26T09:00:00+08:00"):
        assert api_for(world.rep).get("/pools/due").json_body["results"] == []
