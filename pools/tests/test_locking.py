"""Locking a record against recycling (锁定): who may, through the API and the record's page, and what the
sweep then does with it."""

import pytest

from core.choices import Scope
from core.models import ChangeLog
from leads.models import Lead
from pools import actions
from pools.tests.conftest import at

NIGHT = at("2026-11-26", 1)


def owner_of(record):
    return type(record).all_objects.values_list("owner_id", flat=True).get(pk=record.pk)


@pytest.mark.django_db
def test_a_pool_admin_locks_a_lead_and_the_sweep_leaves_it_until_unlocked(world, api_for):
    world.rule(days=30)  # exempts locked records by default
    lead = world.lead("锁定的线索", owner=world.rep, owner_since=at("2026-09-01"))
    r = api_for(world.boss).post(f"/leads/{lead.pk}/lock")
    assert r.status_code == 200, r.json_body
    assert r.json_body["is_locked"] is True and r.json_body["owner_id"] == world.rep.pk
    assert api_for(world.boss).get(f"/leads/{lead.pk}").json_body["is_locked"] is True
    entry = ChangeLog.objects.filter(object_type="lead", object_id=lead.pk).latest("id")
    assert entry.actor == world.boss and entry.changes[0]["field"] == "is_locked"
    assert actions.recycle_due_records(now=NIGHT)[world.lead_pool.pk] == 0
    assert owner_of(lead) == world.rep.pk
    r = api_for(world.boss).post(f"/leads/{lead.pk}/unlock")
    assert r.status_code == 200 and r.json_body["is_locked"] is False
    assert actions.recycle_due_records(now=NIGHT)[world.lead_pool.pk] == 1
    assert owner_of(lead) is None


@pytest.mark.django_db
def test_an_owner_cannot_lock_his_own_record(world, api_for):
    lead = world.lead(owner=world.rep, owner_since=at("2026-09-01"))
    r = api_for(world.rep).post(f"/leads/{lead.pk}/lock")
    assert r.status_code == 403 and r.json_body["code"] == "permission_denied"
    assert Lead.objects.get(pk=lead.pk).is_locked is False
    # someone who may not even see it learns nothing
    assert api_for(world.outsider).post(f"/leads/{lead.pk}/lock").status_code == 404
    assert api_for(world.rep).post("/leads/999999/lock").status_code == 404


@pytest.mark.django_db
def test_a_manager_who_may_transfer_it_locks_it_without_being_a_pool_admin(world, org, api_for):
    manager = org.user("manager", org.east, scope=Scope.SUBTREE)
    assert not world.lead_pool.is_admin(manager)
    lead = world.lead(owner=world.rep, owner_since=at("2026-09-01"))
    r = api_for(manager).post(f"/leads/{lead.pk}/lock")
    assert r.status_code == 200 and r.json_body["is_locked"] is True
    # a manager of another region may not
    other = org.user("south_manager", org.south, scope=Scope.SUBTREE)
    assert api_for(other).post(f"/leads/{lead.pk}/unlock").status_code == 404
    assert Lead.objects.get(pk=lead.pk).is_locked is True


@pytest.mark.django_db
def test_accounts_lock_too(world, api_for):
    world.rule(world.account_pool, days=30)
    account = world.account("锁定的客户", owner=world.rep, owner_since=at("2026-09-01"))
    r = api_for(world.boss).post(f"/accounts/{account.pk}/lock")
    assert r.status_code == 200 and r.json_body["is_locked"] is True
    assert api_for(world.boss).get(f"/accounts/{account.pk}").json_body["is_locked"] is True
    assert actions.recycle_due_records(now=NIGHT)[world.account_pool.pk] == 0
    assert owner_of(account) == world.rep.pk


@pytest.mark.django_db
def test_lock_and_unlock_from_the_record_page(world, web_for):
    lead = world.lead("页面锁定", owner=world.rep, owner_since=at("2026-09-01"))
    boss = web_for(world.boss)
    page = boss.get(f"/leads/{lead.pk}/").content.decode()
    assert f'action="/pools/lock/lead/{lead.pk}/"' in page and "Lock against recycling" in page
    r = boss.post(f"/pools/lock/lead/{lead.pk}/", {"locked": "1"}, follow=True)
    assert "is locked: recycling rules that spare locked records leave it alone." in r.content.decode()
    assert Lead.objects.get(pk=lead.pk).is_locked is True
    # the owner sees the lock, has no button, and cannot unlock it by posting anyway
    rep = web_for(world.rep)
    page = rep.get(f"/leads/{lead.pk}/").content.decode()
    assert 'data-testid="locked"' in page and "/pools/lock/" not in page
    r = rep.post(f"/pools/lock/lead/{lead.pk}/", {"locked": "0"}, follow=True)
    assert "may lock or unlock it" in r.content.decode()
    assert Lead.objects.get(pk=lead.pk).is_locked is True
    r = boss.post(f"/pools/lock/lead/{lead.pk}/", {"locked": "0"}, follow=True)
    assert "is unlocked" in r.content.decode() and Lead.objects.get(pk=lead.pk).is_locked is False
    assert web_for(world.outsider).post(f"/pools/lock/lead/{lead.pk}/", {"locked": "1"}).status_code == 404
    assert boss.get(f"/pools/lock/lead/{lead.pk}/").status_code == 405


@pytest.mark.django_db
def test_a_pool_admin_locks_only_what_he_may_see(world, api_for):
    """An owned record keeps its pool: administering the pool is no window onto other regions' records."""
    world.lead_pool.admins.add(world.outsider)
    owned = world.lead("别人的线索", owner=world.rep, owner_since=at("2026-09-01"))
    r = api_for(world.outsider).post(f"/leads/{owned.pk}/lock")
    assert r.status_code == 404 and "owner_name" not in (r.json_body or {})
    assert Lead.objects.get(pk=owned.pk).is_locked is False
    waiting = world.lead("公海里的线索")  # nobody owns it: the pool's administrators decide
    assert api_for(world.outsider).post(f"/leads/{waiting.pk}/lock").status_code == 200
