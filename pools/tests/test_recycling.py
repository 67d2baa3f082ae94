"""The recycling sweep: every rule kind, grade overrides, working days, exemptions, history, set-based SQL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from core.errors import DomainError
from core.models import ChangeLog
from leads.models import Lead
from pools import actions
from pools.models import ClaimLog, Pool
from pools.tests.conftest import at

NIGHT = at("2026-11-26", 1)  # the nightly sweep on Thursday 26 Nov 2026


def sweep(now=NIGHT, **kw):
    return actions.recycle_due_records(now=now, **kw)


def owner_of(record):
    return type(record).all_objects.values_list("owner_id", flat=True).get(pk=record.pk)


@pytest.mark.django_db
def test_no_followup_rule(world):
    world.rule(days=30)
    idle = world.lead("没人跟进", owner=world.rep, owner_since=at("2026-09-01"))
    followed = world.lead("最近跟进", owner=world.rep, owner_since=at("2026-09-01"), last_followup_at=at("2026-11-20"))
    stale = world.lead("很久前跟进", owner=world.rep, owner_since=at("2026-09-01"), last_followup_at=at("2026-10-01"))
    # Claimed a week ago; the previous owner's old follow-up does not make it due.
    new_owner = world.lead("刚领取", owner=world.rep, owner_since=at("2026-11-19"), last_followup_at=at("2026-08-01"))
    # Full days only: from 26 Oct 23:00 the 30 days 27 Oct–25 Nov have passed; from 27 Oct 00:30, 29.
    edge = world.lead("差一天", owner=world.rep, owner_since=at("2026-10-27", 0).replace(minute=30))
    over = world.lead("刚好到期", owner=world.rep, owner_since=at("2026-10-26", 23))
    assert sweep() == {world.lead_pool.pk: 3, world.account_pool.pk: 0}
    assert owner_of(idle) is None and owner_of(stale) is None and owner_of(over) is None
    assert owner_of(followed) == owner_of(new_owner) == owner_of(edge) == world.rep.pk


@pytest.mark.django_db
def test_recycled_records_land_in_the_pool_with_history(world):
    rule = world.rule(days=30)
    lead = world.lead("没人跟进", owner=world.rep, owner_since=at("2026-09-01"), contact_name="王五")
    version = lead.version
    sweep()
    lead = Lead.all_objects.get(pk=lead.pk)
    assert (lead.owner_id, lead.owner_since, lead.pool_id) == (None, None, world.lead_pool.pk)
    assert lead.pool_entered_at == NIGHT and lead.updated_at == NIGHT
    assert lead.version == version + 1
    entry = ChangeLog.objects.get(object_type="lead", object_id=lead.pk)
    assert (entry.action, entry.actor, entry.at) == ("transfer", None, NIGHT)
    assert entry.object_repr == "没人跟进 · 王五"
    assert entry.changes == [{"field": "owner", "label": "owner", "old": "Rep", "new": ""}]
    assert "30 天未跟进" in entry.note and "华东线索公海" in entry.note
    log = ClaimLog.objects.get(object_id=lead.pk)
    assert (log.action, log.user, log.actor, log.pool, log.rule) == ("recycle", world.rep, None, world.lead_pool, rule)
    # Running again changes nothing: the record is no longer owned.
    assert sweep()[world.lead_pool.pk] == 0
    assert ChangeLog.objects.filter(object_id=lead.pk).count() == 1


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's page cache")
@pytest.mark.django_db
def test_the_sweep_uses_a_small_page_cache_and_gives_the_connection_its_own_back(world, monkeypatch):
    world.rule(days=30)
    world.lead("没人跟进", owner=world.rep, owner_since=at("2026-09-01"))
    sizes = []
    real = actions._sweep_part

    def observed(*args):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            sizes.append(cursor.fetchone()[0])
        return real(*args)

    monkeypatch.setattr(actions, "_sweep_part", observed)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
    assert sweep()[world.lead_pool.pk] == 1
    assert sizes == [-actions.SWEEP_CACHE_KIB]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == before != -actions.SWEEP_CACHE_KIB


@pytest.mark.django_db(transaction=True)
def test_a_backlog_is_recycled_a_chunk_per_transaction(world, monkeypatch):
    """Each chunk commits on its own (the write lock is let go between chunks): a failure in the third
    chunk keeps the first two recycled with their history and pool log, and leaves the rest owned."""
    monkeypatch.setattr(actions, "SWEEP_CHUNK", 2)
    world.rule(days=30)
    leads = [world.lead(f"积压线索{i}", owner=world.rep, owner_since=at("2026-09-01")) for i in range(6)]
    real, chunks = actions._sweep, []

    def failing_third(pool, rule, now, calendar, ids=None):
        chunks.append(list(ids))
        if len(chunks) == 3:
            raise RuntimeError("the worker died")
        return real(pool, rule, now, calendar, ids)

    monkeypatch.setattr(actions, "_sweep", failing_third)
    with pytest.raises(RuntimeError):
        sweep()
    assert chunks == [[leads[0].pk, leads[1].pk], [leads[2].pk, leads[3].pk], [leads[4].pk, leads[5].pk]]
    assert [owner_of(lead) for lead in leads] == [None] * 4 + [world.rep.pk] * 2
    for lead in leads[:4]:
        assert ChangeLog.objects.filter(object_id=lead.pk, action="transfer").count() == 1
        assert ClaimLog.objects.filter(object_id=lead.pk, action="recycle").count() == 1
    assert not ClaimLog.objects.filter(object_id__in=[leads[4].pk, leads[5].pk]).exists()
    monkeypatch.setattr(actions, "_sweep", real)
    assert sweep()[world.lead_pool.pk] == 2  # the next run takes the rest


@pytest.mark.django_db
def test_a_record_followed_up_after_the_due_ids_were_read_stays(world, monkeypatch):
    monkeypatch.setattr(actions, "SWEEP_CHUNK", 1)  # more than a chunk is due: ids first, then chunks
    world.rule(days=30)
    busy = world.lead("刚跟进", owner=world.rep, owner_since=at("2026-09-01"))
    idle = world.lead("没人跟进", owner=world.rep, owner_since=at("2026-09-01"))
    real = actions._due_ids

    def then_a_followup(*args):
        ids = real(*args)
        Lead.objects.filter(pk=busy.pk).update(last_followup_at=at("2026-11-25"))
        return ids

    monkeypatch.setattr(actions, "_due_ids", then_a_followup)
    assert sweep()[world.lead_pool.pk] == 1
    assert owner_of(busy) == world.rep.pk and owner_of(idle) is None
    assert not ChangeLog.objects.filter(object_id=busy.pk, action="transfer").exists()


@pytest.mark.django_db
def test_recycling_starts_the_previous_owners_cooldown(world):
    world.lead_pool.cooldown_days = 10
    world.lead_pool.save()
    world.rule(days=30)
    lead = world.lead(owner=world.rep, owner_since=at("2026-09-01"))
    sweep()
    with pytest.raises(DomainError) as error:
        actions.claim_lead(lead_id=lead.pk, user=world.rep, now=at("2026-11-26", 9))
    assert error.value.code == "cooldown"
    assert actions.claim_lead(lead_id=lead.pk, user=world.rep2, now=at("2026-11-26", 9)).owner == world.rep2


@pytest.mark.django_db
def test_not_converted_rule_never_takes_converted_leads(world):
    world.rule(kind="not_converted", days=60)
    waiting = world.lead("未转化", owner=world.rep, owner_since=at("2026-09-01"), last_followup_at=at("2026-11-25"))
    converted = world.lead("已转化", owner=world.rep, owner_since=at("2026-09-01"), status="converted")
    young = world.lead("刚拿到", owner=world.rep, owner_since=at("2026-10-20"))
    sweep()
    assert owner_of(waiting) is None  # follow-ups do not help: it was not converted in time
    assert owner_of(converted) == owner_of(young) == world.rep.pk


@pytest.mark.django_db
def test_no_opportunity_rule(world):
    world.rule(world.account_pool, kind="no_opportunity", days=30, exempt_open_opportunity=False)
    quiet = world.account("没有商机", owner=world.rep, owner_since=at("2026-08-01"))
    old_deal = world.account("老商机", owner=world.rep, owner_since=at("2026-08-01"))
    world.opportunity(old_deal, status="lost", created_at=at("2026-09-01"))
    new_deal = world.account("新商机", owner=world.rep, owner_since=at("2026-08-01"))
    world.opportunity(new_deal, status="lost", created_at=at("2026-11-10"))
    sweep()
    assert owner_of(quiet) is None and owner_of(old_deal) is None
    assert owner_of(new_deal) == world.rep.pk


@pytest.mark.django_db
def test_not_won_rule(world):
    world.rule(world.account_pool, kind="not_won", days=90, exempt_open_opportunity=False)
    prospect = world.account("还没成交", owner=world.rep, owner_since=at("2026-07-01"))
    customer = world.account("已是客户", owner=world.rep, owner_since=at("2026-07-01"), status="customer")
    winner = world.account("赢单了", owner=world.rep, owner_since=at("2026-07-01"))
    world.opportunity(winner, status="won")
    recent = world.account("新接手", owner=world.rep, owner_since=at("2026-10-01"))
    sweep()
    assert owner_of(prospect) is None
    assert owner_of(customer) == owner_of(winner) == owner_of(recent) == world.rep.pk


@pytest.mark.django_db
def test_days_differ_by_account_grade(world):
    world.rule(world.account_pool, days=30, grade_days={"A": 60})
    since = at("2026-10-12")  # 44 full days before the sweep
    key = world.account("A 级", owner=world.rep, owner_since=since, grade="A")
    ordinary = world.account("B 级", owner=world.rep, owner_since=since, grade="B")
    ungraded = world.account("未分级", owner=world.rep, owner_since=since)
    old_key = world.account("A 级老客户", owner=world.rep, owner_since=at("2026-09-01"), grade="A")
    sweep()
    assert owner_of(key) == world.rep.pk
    assert owner_of(ordinary) is None and owner_of(ungraded) is None and owner_of(old_key) is None


@pytest.mark.django_db
def test_working_days_skip_national_day_and_count_the_make_up_day(world):
    world.rule(days=3, day_count="working")
    before_holiday = world.lead("节前", owner=world.rep, owner_since=at("2026-09-30", 15))
    # Oct 1–7 are off; Oct 8, 9 and Saturday 10 (make-up day) are the three working days.
    assert sweep(at("2026-10-10", 1))[world.lead_pool.pk] == 0
    assert sweep(at("2026-10-11", 1))[world.lead_pool.pk] == 1
    assert owner_of(before_holiday) is None


@pytest.mark.django_db
def test_calendar_days_do_not_wait_for_the_holiday(world):
    world.rule(days=3, day_count="calendar")
    lead = world.lead("节前", owner=world.rep, owner_since=at("2026-09-30", 15))
    assert sweep(at("2026-10-04", 1))[world.lead_pool.pk] == 1
    assert owner_of(lead) is None


@pytest.mark.django_db
def test_sunday_make_up_day_counts_as_working(world):
    world.rule(days=1, day_count="working")
    lead = world.lead("周五跟进", owner=world.rep, owner_since=at("2026-09-18", 16))
    assert sweep(at("2026-09-20", 1))[world.lead_pool.pk] == 0
    assert sweep(at("2026-09-21", 1))[world.lead_pool.pk] == 1  # Sunday 20 Sep was a working day
    assert owner_of(lead) is None


@pytest.mark.django_db
def test_spring_festival_in_working_days(world):
    world.rule(days=2, day_count="working")
    lead = world.lead("春节前", owner=world.rep, owner_since=at("2026-02-13", 17))
    # Sat 14 Feb is a make-up day, 15–23 off, Tue 24 the second working day → due on the 25th.
    assert sweep(at("2026-02-24", 1))[world.lead_pool.pk] == 0
    assert sweep(at("2026-02-25", 1))[world.lead_pool.pk] == 1
    assert owner_of(lead) is None


@pytest.mark.django_db
def test_locked_records_are_exempt_when_the_rule_says_so(world):
    rule = world.rule(days=30)
    locked = world.lead("锁定", owner=world.rep, owner_since=at("2026-09-01"), is_locked=True)
    sweep()
    assert owner_of(locked) == world.rep.pk
    rule.exempt_locked = False
    rule.save()
    sweep()
    assert owner_of(locked) is None


@pytest.mark.django_db
def test_open_opportunity_exempts_when_the_rule_says_so(world):
    rule = world.rule(world.account_pool, days=30)
    busy = world.account("有进行中商机", owner=world.rep, owner_since=at("2026-08-01"))
    world.opportunity(busy, status="open", created_at=at("2026-08-02"))
    closed = world.account("商机已输", owner=world.rep, owner_since=at("2026-08-01"))
    world.opportunity(closed, status="lost", created_at=at("2026-08-02"))
    sweep()
    assert owner_of(busy) == world.rep.pk and owner_of(closed) is None
    rule.exempt_open_opportunity = False
    rule.save()
    sweep()
    assert owner_of(busy) is None


@pytest.mark.django_db
def test_conditions_narrow_a_rule(world):
    world.rule(days=30, conditions={"all": [{"field": "source", "op": "in", "value": ["import"]}]})
    imported = world.lead("导入的", owner=world.rep, owner_since=at("2026-09-01"), source="import")
    referral = world.lead("转介绍", owner=world.rep, owner_since=at("2026-09-01"), source="referral")
    sweep()
    assert owner_of(imported) is None and owner_of(referral) == world.rep.pk


@pytest.mark.django_db
def test_members_records_outside_any_pool_only_when_the_pool_says_so(world):
    world.rule(days=30)
    mine = world.lead("自建线索", pool=False, owner=world.rep, owner_since=at("2026-09-01"))
    theirs = world.lead("华南线索", pool=False, owner=world.outsider, owner_since=at("2026-09-01"))
    sweep()
    assert owner_of(mine) == world.rep.pk
    Pool.objects.filter(pk=world.lead_pool.pk).update(recycles_unpooled=True)
    sweep()
    mine = Lead.all_objects.get(pk=mine.pk)
    assert (mine.owner_id, mine.pool_id) == (None, world.lead_pool.pk)
    assert owner_of(theirs) == world.outsider.pk  # not a member


@pytest.mark.django_db
def test_inactive_rules_pools_and_deleted_records_are_left_alone(world):
    from django.utils import timezone

    rule = world.rule(days=30)
    deleted = world.lead("已删除", owner=world.rep, owner_since=at("2026-09-01"), deleted_at=timezone.now())
    other_pool = world.lead("别的公海", pool=Pool.objects.create(name="别的", object_type="lead"), owner=world.rep)
    Lead.all_objects.filter(pk=other_pool.pk).update(owner_since=at("2026-09-01"))
    sweep()
    assert owner_of(deleted) == owner_of(other_pool) == world.rep.pk
    lead = world.lead(owner=world.rep, owner_since=at("2026-09-01"))
    rule.is_active = False
    rule.save()
    sweep()
    assert owner_of(lead) == world.rep.pk
    rule.is_active = True
    rule.save()
    Pool.objects.filter(pk=world.lead_pool.pk).update(is_active=False)
    sweep()
    assert owner_of(lead) == world.rep.pk


@pytest.mark.django_db
def test_legacy_records_without_owner_since_count_from_creation(world):
    world.rule(days=30)
    lead = world.lead(owner=world.rep)
    Lead.all_objects.filter(pk=lead.pk).update(owner_since=None, created_at=at("2026-09-01"))
    sweep()
    assert owner_of(lead) is None


@pytest.mark.django_db
def test_the_sweep_is_set_based(world):
    """The number of statements does not grow with the number of recycled records (up to a chunk of
    SWEEP_CHUNK records: a transaction each, see the test above)."""
    world.rule(days=30)
    world.rule(world.account_pool, kind="no_opportunity", days=30, grade_days={"A": 60, "B": 45})

    def statements(n):
        Lead.all_objects.filter(pool=world.lead_pool).delete()
        Account.all_objects.filter(pool=world.account_pool).delete()
        for i in range(n):
            world.lead(f"线索{i}", owner=world.rep, owner_since=at("2026-09-01"))
            world.account(f"客户{i}", owner=world.rep, owner_since=at("2026-08-01"), grade="AB"[i % 2])
        with CaptureQueriesContext(connection) as ctx:
            counts = sweep()
        assert sum(counts.values()) == 2 * n
        return len(ctx.captured_queries)

    few, many = statements(2), statements(25)
    assert few == many
    # per rule: fill owner_since, read the due ids, and per chunk its statements; each write in a savepoint
    # here (a transaction of its own outside tests); SQLite: 3 a pool set the page cache and back
    assert many <= 26 + (6 if connection.vendor == "sqlite" else 0)


@pytest.mark.django_db
def test_recycle_now_from_the_api_is_for_pool_admins(world, api_for):
    world.rule(days=30)
    world.lead(owner=world.rep, owner_since=at("2025-01-01"))
    r = api_for(world.rep).post(f"/pools/{world.lead_pool.pk}/recycle")
    assert (r.status_code, r.json_body["code"]) == (403, "permission_denied")
    r = api_for(world.boss).post(f"/pools/{world.lead_pool.pk}/recycle")
    assert r.status_code == 200 and r.json_body == {"count": 1}


@pytest.mark.django_db
def test_a_recycled_leads_history_reads_in_the_readers_language_through_the_api(world, api_for):
    """Written by the sweep in Chinese (the site's language for jobs), read by an English integrator: the
    label, the note's own words and the record's status come in English; names stay as written."""
    from django.utils import translation

    world.rule(days=30)
    lead = world.lead("没人跟进", owner=world.rep, owner_since=at("2026-09-01"))
    with translation.override("zh-hans"):
        sweep()
        actions.claim_lead(lead_id=lead.pk, user=world.rep, now=at("2026-11-26", 9))
    api = api_for(world.rep)
    english = api.get(f"/leads/{lead.pk}/history", headers={"Accept-Language": "en"}).json_body["results"]
    chinese = api.get(f"/leads/{lead.pk}/history", headers={"Accept-Language": "zh-hans"}).json_body["results"]
    assert [e["action"] for e in english] == ["transfer", "transfer"]  # the claim, then the recycling
    claim, recycled = english
    assert recycled["note"] == "Recycled by the rule “30 天未跟进” of the public pool “华东线索公海”"
    assert recycled["changes"] == [{"field": "owner", "label": "owner", "old": "Rep", "new": ""}]
    assert recycled["actor_id"] is None and recycled["actor_name"] == ""
    assert claim["note"] == "Claimed from the public pool “华东线索公海”" and claim["actor_name"] == "Rep"
    assert chinese[1]["note"] == "按公海“华东线索公海”的回收规则“30 天未跟进”回收"
    assert chinese[1]["changes"][0]["label"] == "负责人" and chinese[1]["action_label"] != recycled["action_label"]
