"""The pool pages in the browser: lists, HTMX claim, assignment, admin pages, return form, holidays."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from freezegun import freeze_time

from leads.models import Lead
from pools.models import HolidayCalendar, Pool, RecyclingRule
from pools.tests.conftest import at


@pytest.mark.django_db
def test_pool_list_shows_my_pools(world, web_for):
    Pool.objects.create(name="华南线索公海", object_type="lead").member_departments.add(world.org.south)
    world.lead()
    page = web_for(world.rep).get("/pools/").content.decode()
    assert "华东线索公海" in page and "华东客户公海" in page and "华南线索公海" not in page
    assert "1 waiting" in page
    assert "/pools/new/" not in page
    assert "/pools/new/" in web_for(world.org.admin).get("/pools/").content.decode()


@pytest.mark.django_db
def test_htmx_claim_swaps_the_row(world, web_for):
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=3)
    lead = world.lead("可领取的公司")
    web = web_for(world.rep)
    page = web.get(f"/pools/{world.lead_pool.pk}/").content.decode()
    assert f'hx-post="/pools/{world.lead_pool.pk}/records/{lead.pk}/claim/"' in page
    assert "Claims left today: 3" in page and page.count(' id="claim-state"') == 1
    r = web.post(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/claim/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    row = r.content.decode()
    assert row.lstrip().startswith("<tr") and "Yours now" in row and f"/leads/{lead.pk}/" in row
    # the counts above the list come along, swapped out of band
    assert 'id="claim-state"' in row and 'hx-swap-oob="true"' in row and "Claims left today: 2" in row
    assert Lead.objects.get(pk=lead.pk).owner == world.rep
    # Someone else now gets the reason inline, in the row.
    r = web_for(world.rep2).post(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/claim/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and 'data-testid="claim-error"' in r.content.decode()
    assert "/claim/" not in r.content.decode()  # nothing left to claim: no button to press again


@pytest.mark.django_db
def test_a_failed_claim_shows_nothing_of_a_record_someone_else_owns_now(world, web_for):
    """Any member could otherwise read the card of every record that ever waited in the pool by trying
    ids: its company, contact, region and dates came back in the row with the error."""
    lead = world.lead("别人的公司")
    Lead.objects.filter(pk=lead.pk).update(contact_name="保密联系人")
    web_for(world.rep).post(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/claim/", HTTP_HX_REQUEST="true")
    url = f"/pools/{world.lead_pool.pk}/records/{lead.pk}/claim/"
    row = web_for(world.rep2).post(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="claim-error"' in row and "Someone else has this record now." in row
    assert (
        "别人的公司" not in row
        and "保密联系人" not in row
        and f"/pools/{world.lead_pool.pk}/records/{lead.pk}/" not in row
    )
    # his manager may see the rep's leads: the row shows him the record, with the reason
    row = web_for(world.boss).post(url, HTTP_HX_REQUEST="true").content.decode()
    assert "别人的公司" in row and 'data-testid="claim-error"' in row
    # a refusal while the record still waits in the pool (his daily limit) keeps its card
    other = world.lead("还在公海的公司")
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=0)
    url = f"/pools/{world.lead_pool.pk}/records/{other.pk}/claim/"
    row = web_for(world.rep2).post(url, HTTP_HX_REQUEST="true").content.decode()
    assert "还在公海的公司" in row and 'data-testid="claim-error"' in row


@pytest.mark.django_db
def test_plain_claim_redirects_to_the_record(world, web_for):
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=0)
    lead = world.lead()
    r = web_for(world.rep).post(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/claim/", follow=True)
    assert "the limit is 0 a day" in r.content.decode()
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=None)
    r = web_for(world.rep).post(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/claim/")
    assert r.status_code == 302 and r["Location"] == f"/leads/{lead.pk}/"


@pytest.mark.django_db
def test_outsiders_cannot_claim_through_the_page(world, web_for):
    lead = world.lead()
    assert web_for(world.outsider).post(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/claim/").status_code == 404


@pytest.mark.django_db
def test_admin_assigns_from_the_pool_page(world, web_for):
    leads = [world.lead(f"公司{i}") for i in range(2)]
    web = web_for(world.boss)
    page = web.get(f"/pools/{world.lead_pool.pk}/").content.decode()
    assert "Assign selected to" in page and "Rep2" in page
    r = web.post(
        f"/pools/{world.lead_pool.pk}/",
        {"operation": "assign", "ids": [lead.pk for lead in leads], "member": world.rep2.pk},
        follow=True,
    )
    assert "2 record(s) assigned to Rep2." in r.content.decode()
    assert set(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("owner_id", flat=True)) == {
        world.rep2.pk
    }
    r = web.post(
        f"/pools/{world.lead_pool.pk}/", {"operation": "assign", "ids": [], "member": world.rep2.pk}, follow=True
    )
    assert "Select the records to assign first." in r.content.decode()
    # A member who is no admin cannot assign.
    assert web_for(world.rep).post(f"/pools/{world.lead_pool.pk}/", {"operation": "assign"}).status_code == 404


@pytest.mark.django_db
def test_pool_page_pages_with_htmx(world, web_for):
    for i in range(30):
        world.lead(f"公司{i:02d}")
    web = web_for(world.rep)
    page = web.get(f"/pools/{world.lead_pool.pk}/").content.decode()
    assert page.count("data-record=") == 25 and "Load more" in page
    cursor = page.split("?cursor=")[1].split('"')[0]
    rest = web.get(f"/pools/{world.lead_pool.pk}/?cursor={cursor}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="pool-rows")
    assert rest.content.decode().count("data-record=") == 5


@pytest.mark.django_db
def test_record_preview_shows_why_it_came_back(world, web_for):
    from pools import actions

    lead = world.lead("被退回的公司", owner=world.rep2, owner_since=at("2026-11-01"))
    actions.release_lead(lead_id=lead.pk, user=world.rep2, reason="has_supplier", note="用友")
    page = web_for(world.rep).get(f"/pools/{world.lead_pool.pk}/records/{lead.pk}/").content.decode()
    assert "Already has a supplier" in page and "用友" in page and "Rep2" in page
    assert lead.phone not in page or not lead.phone


@pytest.mark.django_db
def test_admin_pages(world, web_for):
    web = web_for(world.boss)
    pk = world.lead_pool.pk
    for url in (f"/pools/{pk}/settings/", f"/pools/{pk}/members/", f"/pools/{pk}/rules/", f"/pools/{pk}/rules/new/"):
        assert web.get(url).status_code == 200, url
    for url in (f"/pools/{pk}/settings/", f"/pools/{pk}/members/", f"/pools/{pk}/rules/"):
        assert web_for(world.rep).get(url).status_code == 403, url
    r = web.post(
        f"/pools/{pk}/settings/",
        {
            "name": "华东线索公海",
            "object_type": "lead",
            "is_active": "on",
            "daily_claim_limit": "10",
            "cooldown_days": "3",
            "reminder_days": "2",
        },
    )
    assert r.status_code == 302
    pool = Pool.objects.get(pk=pk)
    assert (pool.daily_claim_limit, pool.ownership_limit, pool.cooldown_days) == (10, None, 3)
    r = web.post(
        f"/pools/{pk}/settings/", {"name": "", "object_type": "lead", "cooldown_days": "-1", "reminder_days": "2"}
    )
    assert r.status_code == 200 and 'data-field-error="name"' in r.content.decode()
    r = web.post(
        f"/pools/{pk}/members/",
        {"member_departments": [world.org.south.pk], "member_users": [world.rep.pk], "admins": [world.boss.pk]},
    )
    assert r.status_code == 302
    pool = Pool.objects.get(pk=pk)
    assert pool.is_member(world.outsider) and pool.is_member(world.rep) and not pool.is_member(world.rep2)


@pytest.mark.django_db
def test_rule_pages(world, web_for):
    web = web_for(world.boss)
    pk = world.account_pool.pk
    r = web.post(
        f"/pools/{pk}/rules/new/",
        {
            "name": "未成交",
            "kind": "not_won",
            "days": "60",
            "day_count": "working",
            "grade_A": "120",
            "exempt_locked": "on",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    rule = RecyclingRule.objects.get()
    assert (rule.grade_days, rule.day_count, rule.exempt_locked, rule.exempt_open_opportunity) == (
        {"A": 120},
        "working",
        True,
        False,
    )
    base = {"name": "未成交", "kind": "not_won", "days": "60", "day_count": "calendar", "grade_A": "120"}
    r = web.post(f"/pools/{pk}/rules/{rule.pk}/", {**base, "cond-mode": "json", "cond-json": "{bad"})
    assert 'data-testid="condition-errors"' in r.content.decode() and "Enter valid JSON." in r.content.decode()
    r = web.post(
        f"/pools/{pk}/rules/{rule.pk}/",
        {**base, "cond-mode": "json", "cond-json": '{"field": "nope", "op": "eq", "value": 1}'},
    )
    assert 'data-testid="condition-errors"' in r.content.decode()
    assert RecyclingRule.objects.get().conditions in ({}, {"all": []})
    # the same row builder as assignment rules, with the account's fields: grade C accounts only
    page = web.get(f"/pools/{pk}/rules/{rule.pk}/").content.decode()
    assert 'name="cond-field"' in page and 'value="grade"' in page and 'value="fact:' not in page
    rows = {"cond-mode": "rows", "cond-combinator": "all", "cond-outer": "all", "cond-group": ["1", "1"]}
    r = web.post(
        f"/pools/{pk}/rules/{rule.pk}/",
        {**base, **rows, "cond-field": ["grade", ""], "cond-op": ["in", "eq"], "cond-value": ["X", ""]},
    )
    assert 'data-testid="row-error"' in r.content.decode() and "Row 1" in r.content.decode()
    r = web.post(
        f"/pools/{pk}/rules/{rule.pk}/",
        {**base, **rows, "cond-field": ["grade", ""], "cond-op": ["in", "eq"], "cond-value": ["C", ""]},
    )
    assert r.status_code == 302
    assert RecyclingRule.objects.get().conditions == {"all": [{"field": "grade", "op": "in", "value": ["C"]}]}
    page = web.get(f"/pools/{pk}/rules/{rule.pk}/").content.decode()
    assert 'value="rows" checked' in page and 'value="grade" selected' in page
    # a post without the builder's fields (an older client) keeps the conditions; its JSON field still works
    assert web.post(f"/pools/{pk}/rules/{rule.pk}/", {**base, "days": "61"}).status_code == 302
    assert RecyclingRule.objects.get().conditions == {"all": [{"field": "grade", "op": "in", "value": ["C"]}]}
    legacy = '{"all": [{"field": "grade", "op": "in", "value": ["D"]}]}'
    assert web.post(f"/pools/{pk}/rules/{rule.pk}/", {**base, "conditions": legacy}).status_code == 302
    assert RecyclingRule.objects.get().conditions == {"all": [{"field": "grade", "op": "in", "value": ["D"]}]}
    # odd input is a page with errors, never a 500
    odd = {**base, **rows, "cond-group": ["²", "9"], "cond-field": ["grade", ""], "cond-op": ["in", "eq"]}
    assert web.post(f"/pools/{pk}/rules/{rule.pk}/", {**odd, "cond-value": ["C", ""]}).status_code == 302
    page = web.get(f"/pools/{pk}/rules/").content.decode()
    assert "未成交" in page and "grade A: 120" in page
    assert web.post(f"/pools/{pk}/recycle/").status_code == 302
    assert web.post(f"/pools/{pk}/rules/{rule.pk}/delete/").status_code == 302
    assert not RecyclingRule.objects.exists()


@pytest.mark.django_db
def test_creating_a_pool_in_the_browser(world, web_for):
    assert web_for(world.boss).get("/pools/new/").status_code == 403
    r = web_for(world.org.admin).post(
        "/pools/new/",
        {"name": "新公海", "object_type": "account", "is_active": "on", "cooldown_days": "0", "reminder_days": "3"},
    )
    pool = Pool.objects.get(name="新公海")
    assert r.status_code == 302 and r["Location"] == f"/pools/{pool.pk}/members/"


def render_panel(record, user):
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string("pools/_record_pool_panel.html", {"object": record, "request": request}, request=request)


@pytest.mark.django_db
def test_record_panel_for_the_owner_offers_return_and_shows_the_date(world):
    world.rule(days=30)
    lead = world.lead(owner=world.rep, owner_since=at("2026-11-01", 9))
    with freeze_time("2026-11-26T10:00:00+08:00"):
        html = render_panel(lead, world.rep)
    assert "Return to the pool" in html and "Why return it?" in html
    assert "Goes back to the pool on 2026-12-02" in html
    assert "Return to the pool" not in render_panel(lead, world.rep2)


@pytest.mark.django_db
def test_record_panel_for_a_pool_record_offers_claim_to_members(world):
    lead = world.lead()
    assert "Claim" in render_panel(lead, world.rep)
    assert "Claim" not in render_panel(lead, world.outsider)
    loose = world.lead(pool=False, owner=world.rep)
    html = render_panel(loose, world.rep)
    assert "Return to which pool" in html and "华东线索公海" in html


@pytest.mark.django_db
def test_return_form_on_the_record_page(world, web_for):
    lead = world.lead(owner=world.rep, owner_since=at("2026-11-01"))
    web = web_for(world.rep)
    r = web.post(f"/pools/release/lead/{lead.pk}/", {"reason": "other", "note": ""})
    assert r["Location"] == f"/leads/{lead.pk}/?reason=other#pool-panel"  # back at the form, on a phone too
    page = web.get(r["Location"]).content.decode()
    panel = page[page.index('id="pool-panel"') :]
    assert 'data-testid="release-error"' in panel and "Say why you return it." in panel
    assert '<option value="other" selected>' in panel  # the reason chosen is kept
    assert Lead.objects.get(pk=lead.pk).owner == world.rep
    r = web.post(f"/pools/release/lead/{lead.pk}/", {"reason": "unreachable"})
    assert r.status_code == 302 and r["Location"] == f"/pools/{world.lead_pool.pk}/"  # he no longer sees the lead
    assert Lead.objects.get(pk=lead.pk).owner is None
    assert web.post(f"/pools/release/contact/{lead.pk}/", {"reason": "unreachable"}).status_code == 404
    other = world.lead(owner=world.rep2)
    assert web.post(f"/pools/release/lead/{other.pk}/", {"reason": "unreachable"}).status_code == 404


@pytest.mark.django_db
def test_holiday_page(world, web_for):
    page = web_for(world.rep).get("/pools/holidays/?year=2026").content.decode()
    assert "国庆节" in page and "2026-10-10" in page and 'data-testid="next-year-missing"' in page
    assert web_for(world.rep).post("/pools/holidays/", {"date": "2027-01-01", "is_workday": "0"}).status_code == 403
    web = web_for(world.org.admin)
    r = web.post("/pools/holidays/", {"date": "2027-01-01", "is_workday": "0", "name": "元旦"})
    assert r.status_code == 302
    assert not HolidayCalendar.objects.get(date="2027-01-01").is_workday
    assert 'data-testid="next-year-missing"' not in web.get("/pools/holidays/?year=2027").content.decode()
    r = web.post("/pools/holidays/", {"date": "not a date", "is_workday": "0"})
    assert r.status_code == 200 and 'data-field-error="date"' in r.content.decode()
    r = web.post("/pools/holidays/", {"operation": "delete", "date": "2027-01-01"})
    assert r.status_code == 302 and not HolidayCalendar.objects.filter(date="2027-01-01").exists()
    assert web.get("/pools/holidays/?year=abc").status_code == 200


@pytest.mark.django_db
def test_pool_page_does_not_query_per_row(world, web_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    web = web_for(world.boss)
    world.lead("一")

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(f"/pools/{world.lead_pool.pk}/").status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for i in range(20):
        world.lead(f"线索{i}", province_code="44", city_code="4403", industry="software")
    assert queries() == few


@pytest.mark.django_db
def test_pool_settings_changes_are_in_its_history(world, api_for, web_for):
    """Who changed a limit, a member or a recycling rule, and from what to what, is on the settings page."""
    from core.models import ChangeLog
    from pools.actions import settings_history

    path = f"/pools/{world.lead_pool.pk}"
    api = api_for(world.boss)
    assert api.patch(path, {"daily_claim_limit": 5, "member_user_ids": [world.outsider.pk]}).status_code == 200
    assert api.patch(path, {"daily_claim_limit": 5}).status_code == 200  # nothing changed: no entry
    r = api.post(f"{path}/rules", {"name": "30天未跟进", "kind": "no_followup", "days": 30})
    assert r.status_code == 201, r.json_body
    assert api.patch(f"{path}/rules/{r.json_body['id']}", {"days": 45}).status_code == 200
    assert api.delete(f"{path}/rules/{r.json_body['id']}").status_code in (200, 204)
    entries = list(settings_history(world.lead_pool))
    assert [e.actor for e in entries] == [world.boss] * 4
    removed, days, created, limits = entries
    assert "30天未跟进" in removed.note
    assert [(c["field"], c["old"], c["new"]) for c in days.changes] == [("days", "30", "45")]
    assert "30天未跟进" in created.note and any(c["field"] == "kind" for c in created.changes)
    assert {(c["field"], c["old"], c["new"]) for c in limits.changes} == {
        ("daily_claim_limit", "", "5"),
        ("member_users", "", str(world.outsider)),
    }
    page = web_for(world.boss).get(f"/pools/{world.lead_pool.pk}/settings/").content.decode()
    assert "30天未跟进" in page and str(world.outsider) in page
    # the rule's kind, written in English here, reads in Chinese: the pool's history knows the rule's fields
    chinese = (
        web_for(world.boss)
        .get(f"/pools/{world.lead_pool.pk}/settings/", HTTP_ACCEPT_LANGUAGE="zh-hans")
        .content.decode()
    )
    from django.utils import translation

    from pools.choices import RuleKind

    with translation.override("zh-hans"):
        kind_zh = str(RuleKind.NO_FOLLOWUP.label)
    with translation.override("en"):
        kind_en = str(RuleKind.NO_FOLLOWUP.label)
    assert f": {kind_zh}</li>" in chinese and kind_en not in chinese
    # the pool's kind field (which records it holds) does not collide with the history's object type
    assert not ChangeLog.objects.filter(object_type="lead", object_id=world.lead_pool.pk).exists()
