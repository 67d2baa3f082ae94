"""Claim, return and assign: every limit, membership, cool-down, history, and who sees pool records."""

import datetime

import pytest
from freezegun import freeze_time

from core.choices import Action, Scope
from core.models import ChangeLog
from leads.models import Lead
from pools import actions
from pools.models import ClaimLog, Pool
from pools.tests.conftest import at


def codes(response):
    return response.status_code, response.json_body["code"]


@pytest.mark.django_db
def test_a_member_claims_through_his_department_subtree(world, api_for):
    lead = world.lead()
    r = api_for(world.rep).post(f"/leads/{lead.pk}/claim")  # rep sits in 上海大区, under the member 华东分公司
    assert r.status_code == 200, r.json_body
    assert r.json_body["owner_id"] == world.rep.pk
    lead.refresh_from_db()
    assert (lead.owner, lead.pool, lead.version) == (world.rep, world.lead_pool, 2)
    assert lead.owner_since is not None
    entry = ChangeLog.objects.get(object_type="lead", object_id=lead.pk)
    assert entry.action == "transfer" and entry.actor == world.rep
    assert entry.changes == [{"field": "owner", "label": "owner", "old": "", "new": "Rep"}]
    assert "华东线索公海" in entry.note
    assert ClaimLog.objects.filter(object_id=lead.pk, user=world.rep, action="claim").count() == 1
    # The rep sees his lead now through the permission point.
    assert Lead.objects.visible_to(world.rep).filter(pk=lead.pk).exists()


@pytest.mark.django_db
def test_members_named_one_by_one(world, api_for):
    lead = world.lead()
    # outside the pool and unable to see the lead: not even whether it exists
    assert codes(api_for(world.outsider).post(f"/leads/{lead.pk}/claim")) == (404, "not_found")
    # one who may see it (all leads) but is no member is told why
    viewer = world.org.user("viewer", world.org.south, scope=Scope.ALL)
    assert codes(api_for(viewer).post(f"/leads/{lead.pk}/claim")) == (403, "not_a_member")
    world.lead_pool.member_users.add(world.outsider)
    assert api_for(world.outsider).post(f"/leads/{lead.pk}/claim").status_code == 200


@pytest.mark.django_db
def test_departed_member_cannot_claim(world):
    lead = world.lead()
    world.rep.is_active = False
    world.rep.save()
    with pytest.raises(actions.PermissionDeniedError):
        actions.claim_lead(lead_id=lead.pk, user=world.rep)


@pytest.mark.django_db
def test_owned_or_pool_less_records_are_not_in_a_pool(world, api_for):
    owned = world.lead(owner=world.rep2, owner_since=at("2026-11-01"))
    loose = world.lead(pool=False, owner=world.rep2)
    assert codes(api_for(world.boss).post(f"/leads/{owned.pk}/claim")) == (409, "not_in_pool")
    assert codes(api_for(world.boss).post(f"/leads/{loose.pk}/claim")) == (409, "not_in_pool")
    assert codes(api_for(world.boss).post("/leads/999999/claim")) == (404, "not_found")
    # A rep who may not see someone else's lead, and could not have seen it in a pool of his, learns nothing,
    # not even that it exists.
    assert codes(api_for(world.rep).post(f"/leads/{loose.pk}/claim")) == (404, "not_found")
    assert codes(api_for(world.outsider).post(f"/leads/{owned.pk}/claim")) == (404, "not_found")
    assert codes(api_for(world.rep).post(f"/leads/{owned.pk}/claim")) == (409, "not_in_pool")  # a member: taken


@pytest.mark.django_db
def test_claiming_twice_tells_who_was_faster(world, api_for):
    lead = world.lead()
    assert api_for(world.rep).post(f"/leads/{lead.pk}/claim").status_code == 200
    assert codes(api_for(world.rep2).post(f"/leads/{lead.pk}/claim")) == (409, "not_in_pool")


@pytest.mark.django_db
def test_a_closed_pool_takes_no_claims(world, api_for):
    lead = world.lead()
    Pool.objects.filter(pk=world.lead_pool.pk).update(is_active=False)
    assert codes(api_for(world.rep).post(f"/leads/{lead.pk}/claim")) == (409, "pool_inactive")


@pytest.mark.django_db
def test_daily_claim_limit_per_pool_resets_the_next_day(world, api_for):
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=2)
    leads = [world.lead(f"公司{i}") for i in range(4)]
    other_pool = Pool.objects.create(name="其他公海", object_type="lead", daily_claim_limit=5)
    other_pool.member_departments.add(world.org.east)
    elsewhere = world.lead("别处公司", pool=other_pool)
    api = api_for(world.rep)
    with freeze_time("2026-11-26T09:00:00+08:00"):
        assert api.post(f"/leads/{leads[0].pk}/claim").status_code == 200
        assert api.post(f"/leads/{leads[1].pk}/claim").status_code == 200
        r = api.post(f"/leads/{leads[2].pk}/claim")
        assert codes(r) == (409, "daily_claim_limit")
        assert "2" in r.json_body["message"]
        assert api.post(f"/leads/{elsewhere.pk}/claim").status_code == 200  # the limit is per pool
        assert api_for(world.rep2).post(f"/leads/{leads[2].pk}/claim").status_code == 200  # and per user
    with freeze_time("2026-11-27T00:05:00+08:00"):  # a new day in Shanghai
        assert api.post(f"/leads/{leads[3].pk}/claim").status_code == 200
    assert Lead.objects.get(pk=leads[2].pk).owner == world.rep2


@pytest.mark.django_db
def test_ownership_limit_counts_everything_the_user_owns(world, api_for):
    Pool.objects.filter(pk=world.lead_pool.pk).update(ownership_limit=2)
    world.lead("自己建的", pool=False, owner=world.rep)  # not from any pool, still counts
    world.lead("已转化", pool=False, owner=world.rep, status="converted")  # converted: done, does not count
    first, second = world.lead("甲"), world.lead("乙")
    api = api_for(world.rep)
    assert api.post(f"/leads/{first.pk}/claim").status_code == 200
    r = api.post(f"/leads/{second.pk}/claim")
    assert codes(r) == (409, "ownership_limit")
    assert Lead.objects.get(pk=second.pk).owner is None
    # Accounts are counted separately.
    Pool.objects.filter(pk=world.account_pool.pk).update(ownership_limit=1)
    account = world.account()
    assert api.post(f"/accounts/{account.pk}/claim").status_code == 200


@pytest.mark.django_db
def test_cooldown_after_returning(world, api_for):
    Pool.objects.filter(pk=world.lead_pool.pk).update(cooldown_days=7)
    lead = world.lead()
    actions.claim_lead(lead_id=lead.pk, user=world.rep, now=at("2026-11-01"))
    actions.release_lead(lead_id=lead.pk, user=world.rep, reason="unreachable", now=at("2026-11-20", 9))
    with freeze_time("2026-11-26T10:00:00+08:00"):
        r = api_for(world.rep).post(f"/leads/{lead.pk}/claim")
        assert codes(r) == (409, "cooldown")
        assert "2026-11-27 09:00" in r.json_body["message"]
    with freeze_time("2026-11-27T09:01:00+08:00"):
        assert api_for(world.rep).post(f"/leads/{lead.pk}/claim").status_code == 200


@pytest.mark.django_db
def test_cooldown_binds_only_the_previous_owner(world):
    world.lead_pool.cooldown_days = 30
    world.lead_pool.save()
    lead = world.lead()
    actions.claim_lead(lead_id=lead.pk, user=world.rep, now=at("2026-11-01"))
    actions.release_lead(lead_id=lead.pk, user=world.rep, reason="no_need", now=at("2026-11-02"))
    assert actions.claim_lead(lead_id=lead.pk, user=world.rep2, now=at("2026-11-03")).owner == world.rep2


@pytest.mark.django_db
def test_release_needs_a_reason_and_a_note_for_other(world, api_for):
    lead = world.lead(owner=world.rep, owner_since=at("2026-11-01"))
    api = api_for(world.rep)
    r = api.post(f"/leads/{lead.pk}/release", {"reason": "bored"})
    assert codes(r) == (422, "validation_error") and "reason" in r.json_body["errors"]
    r = api.post(f"/leads/{lead.pk}/release", {"reason": "other"})
    assert codes(r) == (422, "validation_error") and "note" in r.json_body["errors"]
    assert Lead.objects.get(pk=lead.pk).owner == world.rep  # nothing half-written
    r = api.post(f"/leads/{lead.pk}/release", {"reason": "other", "note": "客户要求换人"})
    assert r.status_code == 200, r.json_body
    lead.refresh_from_db()
    assert (lead.owner, lead.pool, lead.owner_since) == (None, world.lead_pool, None)
    assert lead.pool_entered_at is not None
    entry = ChangeLog.objects.filter(object_type="lead", object_id=lead.pk).first()
    assert entry.changes[0]["old"] == "Rep" and entry.changes[0]["new"] == ""
    assert "Other" in entry.note and "客户要求换人" in entry.note
    # written in English above; a Chinese reader sees the message and the reason in Chinese, his words as written
    chinese = api.get(f"/leads/{lead.pk}/history", headers={"Accept-Language": "zh-hans"})
    assert chinese.status_code == 404  # he no longer sees the lead: an administrator reads it
    history = api_for(world.org.admin).get(f"/leads/{lead.pk}/history", headers={"Accept-Language": "zh-hans"})
    note = history.json_body["results"][0]["note"]
    assert note.startswith("退回公海“华东线索公海”") and "其他" in note and note.endswith(" — 客户要求换人"), note
    log = ClaimLog.objects.get(object_id=lead.pk, action="release")
    assert (log.user, log.actor, log.reason, log.note) == (world.rep, world.rep, "other", "客户要求换人")
    # Below the ALL scope, the rep no longer sees it.
    assert not Lead.objects.visible_to(world.rep).filter(pk=lead.pk).exists()


@pytest.mark.django_db
def test_only_the_owner_or_a_transferrer_returns(world, api_for):
    lead = world.lead(owner=world.rep2, owner_since=at("2026-11-01"))
    assert codes(api_for(world.rep).post(f"/leads/{lead.pk}/release", {"reason": "no_need"})) == (404, "not_found")
    view_only = world.org.user("viewer", world.org.group, scope=Scope.ALL, actions=("view",))
    assert codes(api_for(view_only).post(f"/leads/{lead.pk}/release", {"reason": "no_need"})) == (
        403,
        "permission_denied",
    )
    assert api_for(world.boss).post(f"/leads/{lead.pk}/release", {"reason": "no_need"}).status_code == 200
    entry = ClaimLog.objects.get(object_id=lead.pk, action="release")
    assert (entry.user, entry.actor) == (world.rep2, world.boss)  # the cool-down binds the owner
    # Back in the pool, the boss (SUBTREE scope) no longer sees it; the superuser does, and it is nobody's.
    assert codes(api_for(world.boss).post(f"/leads/{lead.pk}/release", {"reason": "no_need"})) == (404, "not_found")
    r = api_for(world.org.admin).post(f"/leads/{lead.pk}/release", {"reason": "no_need"})
    assert codes(r) == (409, "not_owned")


@pytest.mark.django_db
def test_a_record_never_in_a_pool_is_returned_to_a_chosen_pool(world, api_for):
    account = world.account(pool=False, owner=world.rep, owner_since=at("2026-11-01"))
    api = api_for(world.rep)
    r = api.post(f"/accounts/{account.pk}/release", {"reason": "no_need"})
    assert codes(r) == (422, "validation_error") and "pool_id" in r.json_body["errors"]
    r = api.post(f"/accounts/{account.pk}/release", {"reason": "no_need", "pool_id": world.lead_pool.pk})
    assert "pool_id" in r.json_body["errors"]  # a lead pool holds no accounts
    south = Pool.objects.create(name="华南客户公海", object_type="account")
    south.member_departments.add(world.org.south)
    r = api.post(f"/accounts/{account.pk}/release", {"reason": "no_need", "pool_id": south.pk})
    assert "pool_id" in r.json_body["errors"]  # not his pool
    r = api.post(f"/accounts/{account.pk}/release", {"reason": "no_need", "pool_id": world.account_pool.pk})
    assert r.status_code == 200 and r.json_body["pool_id"] == world.account_pool.pk


@pytest.mark.django_db
def test_a_record_goes_back_to_its_own_pool(world, api_for):
    other = Pool.objects.create(name="别的线索公海", object_type="lead")
    other.member_departments.add(world.org.east)
    lead = world.lead(owner=world.rep, owner_since=at("2026-11-01"))
    r = api_for(world.rep).post(f"/leads/{lead.pk}/release", {"reason": "no_need", "pool_id": other.pk})
    assert "pool_id" in r.json_body["errors"]


@pytest.mark.django_db
def test_pool_admin_assigns_to_members_only(world, api_for):
    leads = [world.lead(f"公司{i}") for i in range(3)]
    ids = [lead.pk for lead in leads]
    boss = api_for(world.boss)
    assert codes(
        api_for(world.rep).post(f"/pools/{world.lead_pool.pk}/assign", {"ids": ids, "user_id": world.rep.pk})
    ) == (
        403,
        "permission_denied",
    )
    r = boss.post(f"/pools/{world.lead_pool.pk}/assign", {"ids": ids, "user_id": world.outsider.pk})
    assert codes(r) == (422, "not_a_member") and "user_id" in r.json_body["errors"]
    r = boss.post(f"/pools/{world.lead_pool.pk}/assign", {"ids": ids, "user_id": world.rep.pk})
    assert r.status_code == 200 and r.json_body == {"count": 3}
    assert set(Lead.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {world.rep.pk}
    assert ChangeLog.objects.filter(object_type="lead", object_id__in=ids, actor=world.boss).count() == 3
    assert ClaimLog.objects.filter(object_id__in=ids, action="assign", user=world.rep, actor=world.boss).count() == 3
    note = world.rep.notifications.get()
    assert "3" in note.title and note.kind == "pool_assigned"
    # Assigned records do not count as the member's claims.
    assert actions.claim_state(world.lead_pool, world.rep)["claims_left_today"] is None


@pytest.mark.django_db
def test_assign_is_all_or_nothing_and_respects_the_ownership_limit(world, api_for):
    Pool.objects.filter(pk=world.lead_pool.pk).update(ownership_limit=2)
    waiting = [world.lead(f"公司{i}") for i in range(3)]
    owned = world.lead("已被领取", owner=world.rep2, owner_since=at("2026-11-01"))
    boss = api_for(world.boss)
    path = f"/pools/{world.lead_pool.pk}/assign"
    r = boss.post(path, {"ids": [waiting[0].pk, owned.pk], "user_id": world.rep.pk})
    assert codes(r) == (409, "not_in_pool")
    assert Lead.objects.get(pk=waiting[0].pk).owner is None
    r = boss.post(path, {"ids": [w.pk for w in waiting], "user_id": world.rep.pk})
    assert codes(r) == (409, "ownership_limit")
    assert boss.post(path, {"ids": [waiting[0].pk, waiting[1].pk], "user_id": world.rep.pk}).status_code == 200


@pytest.mark.django_db
def test_pool_records_are_seen_by_members_only(world, api_for, web_for):
    lead = world.lead("公海里的公司")
    # The permission point is unchanged: below the ALL scope nobody sees unowned records.
    assert not Lead.objects.visible_to(world.rep).filter(pk=lead.pk).exists()
    assert Lead.objects.visible_to(world.org.admin).filter(pk=lead.pk).exists()
    # Members see them on the pool's pages and in the pool's API list ...
    r = api_for(world.rep).get(f"/pools/{world.lead_pool.pk}/records")
    assert [row["id"] for row in r.json_body["results"]] == [lead.pk]
    assert "公海里的公司" in web_for(world.rep).get(f"/pools/{world.lead_pool.pk}/").content.decode()
    assert web_for(world.rep).get(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/").status_code == 200
    # ... outsiders see nothing of the pool.
    assert codes(api_for(world.outsider).get(f"/pools/{world.lead_pool.pk}/records")) == (404, "not_found")
    assert web_for(world.outsider).get(f"/pools/{world.lead_pool.pk}/").status_code == 404
    assert web_for(world.outsider).get(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/").status_code == 404
    assert api_for(world.outsider).get(f"/leads/{lead.pk}").status_code == 404
    assert [p["id"] for p in api_for(world.outsider).get("/pools/").json_body] == []


@pytest.mark.django_db
def test_claims_left_shown_to_members(world, api_for):
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=3, ownership_limit=10)
    lead = world.lead()
    api = api_for(world.rep)
    api.post(f"/leads/{lead.pk}/claim")
    body = api.get(f"/pools/{world.lead_pool.pk}").json_body
    assert (body["is_member"], body["claims_left_today"], body["ownership_left"]) == (True, 2, 9)


@pytest.mark.django_db
def test_claim_is_one_transaction(world, monkeypatch):
    """A failure after the conditional update leaves the record in the pool."""
    lead = world.lead()

    def boom(**kwargs):
        raise RuntimeError("history is down")

    monkeypatch.setattr(actions.history, "write", boom)
    with pytest.raises(RuntimeError):
        actions.claim_lead(lead_id=lead.pk, user=world.rep)
    lead.refresh_from_db()
    assert lead.owner is None and not ClaimLog.objects.exists()


@pytest.mark.django_db
def test_claim_needs_a_role_on_the_object_type(world, api_for):
    no_leads = world.org.user("accounts_only", world.org.sh, scope=Scope.OWN, types=["account"])
    lead = world.lead()
    r = api_for(no_leads).post(f"/leads/{lead.pk}/claim")
    assert codes(r) == (403, "permission_denied")


@pytest.mark.django_db
def test_transfer_scope_still_governs_the_detail_page(world):
    lead = world.lead(owner=world.rep, owner_since=at("2026-11-01"))
    assert actions.may_release(lead, world.rep)
    assert actions.may_release(lead, world.boss)  # SUBTREE over 华东 may transfer it
    assert not actions.may_release(lead, world.rep2)
    assert Lead.objects.visible_to(world.boss, Action.TRANSFER).filter(pk=lead.pk).exists()


def test_next_day_boundary_is_shanghai_midnight():
    from core.workdays import start_of_day

    assert start_of_day(datetime.date(2026, 11, 27)).utcoffset() == datetime.timedelta(hours=8)


@pytest.mark.django_db
def test_a_lead_created_into_a_pool_waits_there_without_owner(world, api_for):
    from leads.actions import create_lead

    lead = create_lead(user=world.org.admin, data={"company": "展会名单上的公司", "pool": world.lead_pool})
    assert (lead.owner_id, lead.pool_id) == (None, world.lead_pool.pk)
    listed = api_for(world.rep).get(f"/pools/{world.lead_pool.pk}/records").json_body["results"]
    assert [r["id"] for r in listed] == [lead.pk]
    assert api_for(world.rep).post(f"/leads/{lead.pk}/claim").status_code == 200


@pytest.mark.django_db
def test_a_pool_admin_assigning_to_himself_is_held_to_the_claim_limits(world, api_for):
    """A rep who also administers the pool cannot take more than a day's claims, nor take back early
    what he released, by assigning records to himself."""
    world.lead_pool.member_users.add(world.boss)
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=2, cooldown_days=30)
    released, *waiting = [world.lead(f"公司{i}") for i in range(4)]
    boss = api_for(world.boss)
    path = f"/pools/{world.lead_pool.pk}/assign"
    with freeze_time("2026-11-26T09:00:00+08:00"):
        assert boss.post(f"/leads/{released.pk}/claim").status_code == 200
        actions.release_lead(lead_id=released.pk, user=world.boss, reason="no_need")
        r = boss.post(path, {"ids": [released.pk], "user_id": world.boss.pk})
        assert codes(r) == (409, "cooldown")
        r = boss.post(path, {"ids": [w.pk for w in waiting[:2]], "user_id": world.boss.pk})
        assert codes(r) == (409, "daily_claim_limit")  # one claim today already: two more would be three
        assert Lead.objects.filter(owner=world.boss).count() == 0
        assert boss.post(path, {"ids": [waiting[0].pk], "user_id": world.boss.pk}).status_code == 200
        world.lead_pool.refresh_from_db()
        assert actions.claim_state(world.lead_pool, world.boss)["claims_left_today"] == 0
        assert codes(boss.post(f"/leads/{waiting[1].pk}/claim")) == (409, "daily_claim_limit")
        # Handing records to someone else is what the admin is for: no claim limit of his applies.
        r = boss.post(path, {"ids": [released.pk, waiting[1].pk, waiting[2].pk], "user_id": world.rep.pk})
        assert r.status_code == 200


@pytest.mark.django_db
def test_assign_refuses_ids_out_of_range_with_a_field_error(world, api_for):
    r = api_for(world.boss).post(f"/pools/{world.lead_pool.pk}/assign", {"ids": [2**63], "user_id": world.rep.pk})
    assert r.status_code == 422 and "ids.0" in r.json_body["errors"]  # the id at fault


@pytest.mark.django_db
def test_a_converted_lead_is_not_returned_to_the_pool(world, api_for):
    lead = world.lead(owner=world.rep, owner_since=at("2026-11-01"), status="converted")
    r = api_for(world.rep).post(f"/leads/{lead.pk}/release", {"reason": "no_need"})
    assert codes(r) == (409, "converted")
    lead.refresh_from_db()
    assert lead.owner == world.rep and not ClaimLog.objects.filter(object_id=lead.pk).exists()
