"""Converting a lead as a rep meets it: one step into an account, a contact and maybe an opportunity."""

import datetime
import re

import pytest

from core.choices import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(org):
    return org.user("rep", org.sh, scope=Scope.OWN)


@pytest.fixture
def lead(rep):
    from leads.models import Lead

    return Lead.objects.create(
        company="上海申能电力设备有限公司",
        contact_name="王工",
        title="设备处处长",
        phone="+8613800138000",
        email="wang@shenergy.cn",
        industry="energy",
        province_code="31",
        city_code="3101",
        address="浦东新区",
        owner=rep,
        status="qualified",
    )


@pytest.fixture
def followups(rep, lead):
    from followups.models import FollowUp

    return [
        FollowUp.objects.create(
            lead=lead,
            owner=rep,
            content="电话了解需求",
            occurred_at=datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC),
        ),
        FollowUp.objects.create(
            lead=lead, owner=rep, content="上门拜访", occurred_at=datetime.datetime(2026, 3, 8, 9, tzinfo=datetime.UTC)
        ),
    ]


def history_of(record):
    from core.models import ChangeLog

    return list(ChangeLog.objects.filter(object_type=record.object_type, object_id=record.pk).order_by("at", "id"))


def test_convert_into_a_new_account_contact_and_opportunity(rep, lead, followups, api_for):
    from accounts.models import Account
    from contacts.models import Contact
    from followups.models import FollowUp
    from leads.models import Lead
    from opportunities.models import Opportunity

    r = api_for(rep).post(
        f"/leads/{lead.pk}/convert",
        {"opportunity": {"name": "变电站巡检项目", "amount": "1200000", "expected_close_date": "2026-12-31"}},
    )
    assert r.status_code == 200, r.json_body
    body = r.json_body
    account = Account.objects.get(pk=body["account_id"])
    contact = Contact.objects.get(pk=body["contact_id"])
    opportunity = Opportunity.objects.get(pk=body["opportunity_id"])
    assert (account.name, account.industry, account.province_code, account.city_code, account.owner) == (
        "上海申能电力设备有限公司",
        "energy",
        "31",
        "3101",
        rep,
    )
    assert (contact.name, contact.title, contact.mobile, contact.email, contact.account) == (
        "王工",
        "设备处处长",
        "+8613800138000",
        "wang@shenergy.cn",
        account,
    )
    assert (opportunity.account, opportunity.contact, opportunity.amount, opportunity.owner) == (
        account,
        contact,
        1200000,
        rep,
    )
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.status == "converted" and lead.converted_at is not None
    assert (lead.converted_account, lead.converted_contact, lead.converted_opportunity) == (
        account,
        contact,
        opportunity,
    )
    # the follow-ups now show on the account and the contact too
    assert set(FollowUp.objects.filter(account=account, contact=contact, lead=lead)) == set(followups)
    assert Account.objects.get(pk=account.pk).last_followup_at == followups[1].occurred_at
    # history on every record
    assert [e.action for e in history_of(account)] == ["create", "update"]
    assert history_of(account)[1].changes[0]["new"] == str(lead)
    assert [e.action for e in history_of(contact)] == ["create", "update"]
    assert [e.action for e in history_of(opportunity)] == ["create", "update"]
    assert {c["field"] for c in history_of(lead)[-1].changes} >= {"status", "converted_account", "converted_contact"}
    assert all(history_of(f)[-1].changes[0]["new"] == account.name for f in followups)


def test_convert_into_an_existing_account_without_an_opportunity(rep, lead, web_for):
    from accounts.models import Account
    from contacts.models import Contact
    from opportunities.models import Opportunity

    account = Account.objects.create(name="申能集团", owner=rep)
    web = web_for(rep)
    page = web.get(f"/leads/{lead.pk}/").content.decode()
    assert f'href="/leads/{lead.pk}/convert/"' in page
    form = web.get(f"/leads/{lead.pk}/convert/").content.decode()
    assert 'value="上海申能电力设备有限公司"' in form and 'value="王工"' in form
    response = web.post(
        f"/leads/{lead.pk}/convert/",
        {"account_mode": "existing", "account": account.pk, "contact_name": "王工", "contact_mobile": "13800138000"},
    )
    assert response.status_code == 302 and response["Location"] == f"/leads/{lead.pk}/"
    assert Account.objects.count() == 1 and not Opportunity.objects.exists()
    contact = Contact.objects.get()
    assert contact.account == account
    assert [e.action for e in history_of(account)] == ["update"]
    page = web.get(f"/leads/{lead.pk}/").content.decode()
    assert 'data-testid="converted"' in page and "申能集团" in page and 'data-testid="convert"' not in page


def test_the_lead_page_links_only_to_converted_records_the_user_may_open(org, rep, lead, api_for, web_for):
    """An administrator converted the rep's lead into another branch's account: the rep sees what the
    lead became but gets no link to an account he may not open."""
    from accounts.models import Account

    other = org.user("south", org.south, scope=Scope.OWN)
    account = Account.objects.create(name="华南机密大客户", owner=other)
    r = api_for(org.admin).post(f"/leads/{lead.pk}/convert", {"account_id": account.pk})
    assert r.status_code == 200, r.json_body
    contact_id = r.json_body["contact_id"]
    page = web_for(rep).get(f"/leads/{lead.pk}/").content.decode()
    assert 'data-testid="converted"' in page and 'data-testid="not-visible"' in page
    assert f'href="/accounts/{account.pk}/"' not in page
    assert web_for(rep).get(f"/accounts/{account.pk}/").status_code == 404
    admin_page = web_for(org.admin).get(f"/leads/{lead.pk}/").content.decode()
    assert f'href="/accounts/{account.pk}/"' in admin_page and f'href="/contacts/{contact_id}/"' in admin_page
    assert 'data-testid="not-visible"' not in admin_page


def test_a_lead_cannot_be_converted_twice(rep, lead, api_for, web_for):
    from accounts.models import Account

    api = api_for(rep)
    assert api.post(f"/leads/{lead.pk}/convert", {}).status_code == 200
    again = api.post(f"/leads/{lead.pk}/convert", {})
    assert again.status_code == 409 and again.json_body["code"] == "lead_already_converted"
    assert Account.objects.count() == 1
    response = web_for(rep).get(f"/leads/{lead.pk}/convert/")
    assert response.status_code == 302


def test_bad_input_names_the_part_and_writes_nothing(org, rep, lead, api_for, web_for):
    from accounts.models import Account
    from contacts.models import Contact
    from leads.models import Lead

    api = api_for(rep)
    r = api.post(f"/leads/{lead.pk}/convert", {"contact": {"name": ""}, "opportunity": {"amount": "5"}})
    assert r.status_code == 422 and "contact.name" in r.json_body["errors"]
    r = api.post(f"/leads/{lead.pk}/convert", {"account": {"province_code": "31", "city_code": "4403"}})
    assert r.status_code == 422 and "account.city_code" in r.json_body["errors"]
    r = api.post(f"/leads/{lead.pk}/convert", {"opportunity": {"stage_id": 999999}})
    assert r.status_code == 422 and "opportunity.stage" in r.json_body["errors"]
    from opportunities.models import Stage

    won = Stage.objects.filter(status="won", is_active=True).first()
    assert won is not None
    r = api.post(f"/leads/{lead.pk}/convert", {"opportunity": {"stage_id": won.pk}})  # a new deal starts open
    assert r.status_code == 422 and "opportunity.stage" in r.json_body["errors"]
    hidden = Account.objects.create(name="别人的客户", owner=org.user("other", org.south, scope=Scope.OWN))
    r = api.post(f"/leads/{lead.pk}/convert", {"account_id": hidden.pk})
    assert r.status_code == 422 and "account_id" in r.json_body["errors"]
    assert Account.objects.count() == 1 and not Contact.objects.exists()
    assert Lead.objects.get(pk=lead.pk).status == "qualified"
    page = web_for(rep).post(
        f"/leads/{lead.pk}/convert/", {"account_mode": "new", "account_name": "", "contact_name": "王工"}
    )
    assert page.status_code == 200 and 'data-field-error="account_name"' in page.content.decode()
    page = web_for(rep).post(f"/leads/{lead.pk}/convert/", {"account_mode": "existing", "contact_name": "王工"})
    assert 'data-field-error="account"' in page.content.decode()
    assert not Contact.objects.exists()


def test_converting_needs_edit_on_the_lead_and_create_on_the_records(org, rep, lead, api_for, web_for):
    viewer = org.user("viewer", org.sh, scope=Scope.DEPARTMENT, actions=("view",))
    assert api_for(viewer).post(f"/leads/{lead.pk}/convert", {}).status_code == 403
    assert web_for(viewer).get(f"/leads/{lead.pk}/convert/").status_code == 403
    stranger = org.user("stranger", org.south, scope=Scope.OWN)
    assert api_for(stranger).post(f"/leads/{lead.pk}/convert", {}).status_code == 404
    lead_only = org.user("leadonly", org.sh, scope=Scope.DEPARTMENT, types=["lead"])
    r = api_for(lead_only).post(f"/leads/{lead.pk}/convert", {})
    assert r.status_code == 403 and r.json_body["code"] == "permission_denied"
    assert 'data-testid="convert"' not in web_for(lead_only).get(f"/leads/{lead.pk}/").content.decode()
    no_opportunities = org.user("noopp", org.sh, scope=Scope.DEPARTMENT, types=["lead", "account", "contact"])
    assert api_for(no_opportunities).post(f"/leads/{lead.pk}/convert", {"opportunity": {}}).status_code == 403
    assert api_for(no_opportunities).post(f"/leads/{lead.pk}/convert", {}).status_code == 200


def test_an_invalid_lead_is_reopened_before_converting(rep, lead, api_for):
    lead.status = "invalid"
    lead.invalid_reason = "no_need"
    lead.save()
    r = api_for(rep).post(f"/leads/{lead.pk}/convert", {})
    assert r.status_code == 409 and r.json_body["code"] == "lead_invalid"


def test_a_manager_converting_a_reps_lead_gives_the_records_to_the_rep(org, rep, lead, api_for):
    from accounts.models import Account
    from contacts.models import Contact

    manager = org.user("manager", org.sh, scope=Scope.DEPARTMENT)
    r = api_for(manager).post(f"/leads/{lead.pk}/convert", {"opportunity": {}})
    assert r.status_code == 200, r.json_body
    assert Account.objects.get().owner == rep and Contact.objects.get().owner == rep


def test_conversion_does_not_query_per_follow_up(org, rep, django_assert_max_num_queries):
    from followups.models import FollowUp
    from leads.actions import convert_lead
    from leads.models import Lead

    def lead_with(n):
        lead = Lead.objects.create(company=f"跟进{n}条的公司", contact_name="李工", owner=rep)
        for i in range(n):
            FollowUp.objects.create(lead=lead, owner=rep, content=f"第{i}次")
        return lead

    few, many = lead_with(2), lead_with(30)
    with django_assert_max_num_queries(200) as baseline:
        convert_lead(lead=few, user=rep, opportunity_data={})
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        convert_lead(lead=many, user=rep, opportunity_data={})
    assert FollowUp.objects.filter(lead=many, contact__isnull=False).count() == 30


def test_conversion_into_a_duplicate_account_asks_for_confirmation(org, api_for):
    from accounts.models import Account
    from core.choices import Scope
    from dedupe.models import DuplicateRule
    from leads.models import Lead

    rep = org.user("dupconv", org.sh, scope=Scope.OWN)
    Account.objects.create(name="深圳市华为技术有限公司", owner=rep)
    DuplicateRule.objects.update_or_create(
        object_type="account", kind="name", defaults={"is_active": True, "action": "warn", "threshold": 85}
    )
    api = api_for(rep)
    lead = api.post("/leads/", {"company": "华为技术有限公司", "contact_name": "张三"}).json_body
    body = {"account": {"name": "华为技术有限公司"}, "contact": {"name": "张三"}}
    r = api.post(f"/leads/{lead['id']}/convert", body)
    assert r.status_code == 409 and r.json_body["code"] == "possible_duplicate" and r.json_body.get("candidates")
    assert Lead.objects.get(pk=lead["id"]).converted_at is None
    r = api.post(f"/leads/{lead['id']}/convert", body, headers={"X-Confirm-Duplicates": "true"})
    assert r.status_code == 200, r.json_body


def test_the_convert_page_offers_the_accounts_the_duplicate_check_finds(org, web_for):
    """In the browser: the accounts found for the lead's company are offered to convert into, a warning
    stops a new account until the rep confirms it, and accounts he may not see show only their owner."""
    from accounts.models import Account
    from core.choices import Scope
    from dedupe.models import DuplicateRule
    from leads.models import Lead

    rep = org.user("pageconv", org.sh, scope=Scope.OWN)
    other = org.user("southconv", org.south, scope=Scope.OWN)
    mine = Account.objects.create(name="深圳市华为技术有限公司", owner=rep)
    Account.objects.create(name="华为技术有限公司（深圳）", owner=other)
    DuplicateRule.objects.update_or_create(
        object_type="account", kind="name", defaults={"is_active": True, "action": "warn", "threshold": 85}
    )
    lead = Lead.objects.create(company="华为技术有限公司", contact_name="张三", owner=rep)
    web = web_for(rep)
    page = web.get(f"/leads/{lead.pk}/convert/").content.decode()
    assert 'data-testid="account-candidates"' in page
    assert f'href="?account={mine.pk}"' in page and "深圳市华为技术有限公司" in page
    assert "华为技术有限公司（深圳）" not in page and "Already exists, owned by" in page
    # "Convert into this account" opens the form with it chosen
    chosen = web.get(f"/leads/{lead.pk}/convert/", {"account": mine.pk}).content.decode()
    assert re.search(r'<input[^>]*name="account_mode"[^>]*value="existing"[^>]*checked', chosen)
    assert re.search(rf'<input type="hidden" name="account" value="{mine.pk}"', chosen)
    assert not re.search(r'<input[^>]*value="new"[^>]*checked', chosen)
    assert web.get(f"/leads/{lead.pk}/convert/", {"account": "²"}).status_code == 200  # not a 500
    # a new account that the name rule warns about: listed, and a confirmation is asked for
    data = {"account_mode": "new", "account_name": "华为技术有限公司", "contact_name": "张三"}
    stopped = web.post(f"/leads/{lead.pk}/convert/", data)
    assert stopped.status_code == 200
    body = stopped.content.decode()
    assert 'data-testid="duplicate-warning"' in body and 'name="confirm_duplicates"' in body
    assert Lead.objects.get(pk=lead.pk).converted_at is None and Account.objects.count() == 2
    done = web.post(f"/leads/{lead.pk}/convert/", {**data, "confirm_duplicates": "1"})
    assert done.status_code == 302 and Lead.objects.get(pk=lead.pk).converted_at is not None
    assert Account.objects.count() == 3


def test_the_leads_story_shows_on_what_it_became_for_those_who_may_see_the_lead(org, api_for, web_for):
    """History moves along: the account, contact and opportunity pages show the converted lead's entries
    (marked as the lead's), to readers who may see the lead; the lead keeps them too."""
    from accounts.models import Account
    from contacts.models import Contact
    from leads.models import Lead

    rep = org.user("storyrep", org.sh, scope=Scope.OWN)
    api = api_for(rep)
    lead = api.post("/leads/", {"company": "有故事的公司", "contact_name": "赵六"}).json_body
    assert api.patch(f"/leads/{lead['id']}", {"status": "contacted", "version": lead["version"]}).status_code == 200
    assert api.post(f"/leads/{lead['id']}/convert", {"opportunity": {}}).status_code == 200
    converted = Lead.objects.get(pk=lead["id"])
    account, contact = converted.converted_account, converted.converted_contact
    for url in (
        f"/accounts/{account.pk}/",
        f"/contacts/{contact.pk}/",
        f"/opportunities/{converted.converted_opportunity_id}/",
    ):
        page = web_for(rep).get(url).content.decode()
        assert 'data-testid="from-record"' in page and f'href="/leads/{converted.pk}/"' in page, url
        assert re.search(r"New</del> → Contacted", page), url
    # through the API too, each entry naming its record; paging reaches every entry once
    results, cursor = [], None
    while True:
        body = api.get(f"/accounts/{account.pk}/history", {"limit": 2, **({"cursor": cursor} if cursor else {})})
        results += body.json_body["results"]
        cursor = body.json_body["next_cursor"]
        if not cursor:
            break
    assert {(r["record_type"], r["record_id"]) for r in results} == {("account", account.pk), ("lead", converted.pk)}
    from_lead = [r for r in results if r["record_type"] == "lead"]
    assert len(from_lead) == len(api.get(f"/leads/{converted.pk}/history").json_body["results"])
    assert any(c["field"] == "status" and c["new"] == "Contacted" for r in from_lead for c in r["changes"])
    assert len({(r["record_type"], r["id"], r["at"]) for r in results}) == len(results)
    # someone who may see the account but not the lead sees only the account's own history
    reader = org.user("accountreader", org.sh, scope=Scope.OWN)
    Account.objects.filter(pk=account.pk).update(owner=reader)
    Contact.objects.filter(pk=contact.pk).update(owner=reader)
    page = web_for(reader).get(f"/accounts/{account.pk}/").content.decode()
    assert page.count('data-testid="from-record"') == 0 and not re.search(r"New</del> → Contacted", page)
    theirs = api_for(reader).get(f"/accounts/{account.pk}/history").json_body["results"]
    assert theirs and {r["record_type"] for r in theirs} == {"account"}


def test_finding_the_lead_an_account_came_from_reads_an_index(org):
    """The account page asks which lead became it: at a million leads a table scan cost 200 ms a page."""
    from django.db import connection

    from accounts.models import Account
    from core.choices import Action
    from leads.models import Lead

    if connection.vendor != "sqlite":
        pytest.skip("the plan text checked is SQLite's")
    account = Account.objects.create(name="查计划客户", owner=org.admin)
    rep = org.user("planrep", org.sh, scope=Scope.OWN)
    for reader in (org.admin, rep):
        for field, pk in (("converted_account", account.pk), ("converted_contact", 1), ("converted_opportunity", 1)):
            qs = Lead.objects.visible_to(reader, Action.VIEW).filter(**{field: pk})
            sql, params = qs.query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                plan = " / ".join(str(row[-1]) for row in cursor.fetchall())
            assert "SEARCH leads_lead" in plan and "SCAN leads_lead" not in plan, plan
