"""Records as reps and managers meet them: history, recycle bin, hand-over, trees, forms, exports."""

import csv
import datetime
import io

import pytest

from core.choices import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(org):
    return org.user("rep", org.sh, scope=Scope.OWN, manager=None)


def test_every_change_is_in_the_history_with_old_and_new_values(org, rep, api_for, web_for):
    api = api_for(rep)
    account = api.post("/accounts/", {"name": "甲公司", "grade": "B", "tags": ["重点"]}).json_body
    api.patch(f"/accounts/{account['id']}", {"grade": "A", "address": "上海市浦东新区", "tags": ["重点", "国企"]})
    from core.models import ChangeLog

    entries = list(ChangeLog.objects.filter(object_type="account", object_id=account["id"]).order_by("at", "id"))
    assert [e.action for e in entries] == ["create", "update"]
    changes = {c["field"]: (c["old"], c["new"]) for c in entries[1].changes}
    assert changes["grade"][1].startswith("A") and changes["grade"][0].startswith("B")
    assert changes["address"] == ("", "上海市浦东新区")
    assert changes["tags"] == ("重点", "国企, 重点")
    assert entries[1].actor == rep
    page = web_for(rep).get(f"/accounts/{account['id']}/").content.decode()
    assert "上海市浦东新区" in page and 'data-testid="history"' in page


def test_delete_goes_to_the_recycle_bin_and_restore_keeps_links(org, rep, api_for, web_for):
    from contacts.models import Contact

    rep_deleter = org.user("deleter", org.sh, scope=Scope.OWN, actions=("view", "create", "edit", "delete"))
    api = api_for(rep_deleter)
    account = api.post("/accounts/", {"name": "乙公司"}).json_body
    contact = api.post("/contacts/", {"account_id": account["id"], "name": "李四"}).json_body
    assert api.delete(f"/accounts/{account['id']}").status_code == 204
    assert api.get(f"/accounts/{account['id']}").status_code == 404
    assert api.get("/search/", {"q": "乙公司"}).json_body["results"] == []
    web = web_for(rep_deleter)
    assert "乙公司" in web.get("/recycle-bin/").content.decode()
    # a rep without the delete grant cannot delete or restore
    assert api_for(rep).delete(f"/contacts/{contact['id']}").status_code == 404
    response = web.post(f"/recycle-bin/account/{account['id']}/restore/")
    assert response.status_code == 302
    assert api.get(f"/accounts/{account['id']}").status_code == 200
    assert Contact.objects.get(pk=contact["id"]).account_id == account["id"]
    assert [h["title"] for h in api.get("/search/", {"q": "乙公司"}).json_body["results"]] == ["乙公司"]


def test_departing_user_hands_everything_over(org, api_for):
    from accounts.models import Account
    from core.models import ChangeLog
    from leads.models import Lead
    from org import actions as org_actions

    leaving = org.user("leaving", org.sh, scope=Scope.OWN)
    successor = org.user("successor", org.sh, scope=Scope.OWN)
    api = api_for(leaving)
    account = api.post("/accounts/", {"name": "丙公司"}).json_body
    api.post("/contacts/", {"account_id": account["id"], "name": "王五"})
    api.post("/leads/", {"company": "丁公司"})
    moved = org_actions.deactivate_user(target=leaving, user=org.admin, hand_over_to=successor)
    assert moved["account"] == 1 and moved["contact"] == 1 and moved["lead"] == 1
    assert Account.objects.get(pk=account["id"]).owner == successor
    assert Lead.objects.get(company="丁公司").owner == successor
    leaving.refresh_from_db()
    assert not leaving.is_active and leaving.departed_at is not None
    handed = ChangeLog.objects.get(action="transfer", object_type="lead")
    assert handed.note == "Hand-over from Leaving" and not handed.note_is_own_words  # the app's words
    # departed users keep their history and cannot own new records
    r = api_for(org.admin).post("/leads/", {"company": "戊公司", "owner_id": leaving.pk})
    assert r.status_code == 422 and "owner_id" in r.json_body["errors"]
    from django.test import Client

    assert not Client().login(username="leaving", password="pass-word-123")


def test_account_tree_refuses_cycles_and_shows_children(org, rep, api_for, web_for):
    api = api_for(rep)
    group = api.post("/accounts/", {"name": "中国移动通信集团有限公司"}).json_body
    province = api.post("/accounts/", {"name": "中国移动通信集团广东有限公司", "parent_id": group["id"]}).json_body
    city = api.post(
        "/accounts/", {"name": "中国移动通信集团广东有限公司深圳分公司", "parent_id": province["id"]}
    ).json_body
    r = api.patch(f"/accounts/{group['id']}", {"parent_id": city["id"]})
    assert r.status_code == 422 and "parent_id" in r.json_body["errors"]
    r = api.patch(f"/accounts/{group['id']}", {"parent_id": group["id"]})
    assert r.status_code == 422
    page = web_for(rep).get(f"/accounts/{province['id']}/").content.decode()
    assert "中国移动通信集团广东有限公司深圳分公司" in page and "中国移动通信集团有限公司" in page


def test_account_360_page_shows_contacts_opportunities_and_followups_in_time_order(org, rep, api_for, web_for):
    from opportunities.models import Stage

    api = api_for(rep)
    account = api.post("/accounts/", {"name": "己公司"}).json_body
    api.post("/contacts/", {"account_id": account["id"], "name": "赵六", "buying_role": "decision_maker"})
    api.post(
        "/opportunities/",
        {
            "account_id": account["id"],
            "name": "数据中心项目",
            "amount": "1234567.5",
            "expected_close_date": "2027-03-01",
            "stage_id": Stage.objects.first().pk,
        },
    )
    api.post(
        "/followups/",
        {"account_id": account["id"], "content": "第一次拜访", "occurred_at": "2026-01-01T10:00:00+08:00"},
    )
    api.post(
        "/followups/",
        {"account_id": account["id"], "content": "第二次拜访", "occurred_at": "2026-02-01T10:00:00+08:00"},
    )
    page = web_for(rep).get(f"/accounts/{account['id']}/").content.decode()
    assert "赵六" in page and "数据中心项目" in page and "¥1,234,567.50" in page
    assert page.index("第二次拜访") < page.index("第一次拜访")


def test_followup_needs_a_subject_and_a_sane_next_date(org, rep, api_for):
    api = api_for(rep)
    r = api.post("/followups/", {"content": "无主记录"})
    assert r.status_code == 422
    lead = api.post("/leads/", {"company": "庚公司"}).json_body
    r = api.post(
        "/followups/",
        {
            "lead_id": lead["id"],
            "content": "电话",
            "occurred_at": "2026-05-01T10:00:00+08:00",
            "next_follow_up_on": "2026-04-01",
        },
    )
    assert r.status_code == 422 and "next_follow_up_on" in r.json_body["errors"]


def test_cannot_link_to_a_record_one_cannot_see(org, rep, api_for):
    from accounts.models import Account

    hidden = Account.objects.create(name="别人的客户", owner=org.user("other", org.south))
    r = api_for(rep).post("/contacts/", {"account_id": hidden.pk, "name": "钱七"})
    assert r.status_code == 422 and "account_id" in r.json_body["errors"]
    assert "别人的客户" not in r.content.decode()


def test_opportunity_status_follows_its_stage(org, rep, api_for):
    from opportunities.models import Stage

    api = api_for(rep)
    account = api.post("/accounts/", {"name": "辛公司"}).json_body
    won = Stage.objects.get(status="won")
    lost = Stage.objects.get(status="lost")
    opp = api.post(
        "/opportunities/",
        {
            "account_id": account["id"],
            "name": "项目",
            "amount": "10",
            "expected_close_date": "2027-01-01",
            "stage_id": Stage.objects.first().pk,
        },
    ).json_body
    assert opp["status"] == "open"
    assert api.patch(f"/opportunities/{opp['id']}", {"stage_id": won.pk}).json_body["status"] == "won"
    r = api.patch(f"/opportunities/{opp['id']}", {"stage_id": lost.pk})
    assert r.status_code == 422 and "lost_reason" in r.json_body["errors"]
    r = api.post(
        "/opportunities/",
        {
            "account_id": account["id"],
            "name": "负数",
            "amount": "-5",
            "expected_close_date": "2027-01-01",
            "stage_id": won.pk,
        },
    )
    assert r.status_code == 422 and "amount" in r.json_body["errors"]


def test_web_form_shows_field_errors_and_keeps_input(org, rep, web_for):
    from accounts.models import Account

    web = web_for(rep)
    response = web.post(
        "/accounts/new/",
        {"name": "壬公司", "credit_code": "123", "account_type": "end_customer", "status": "potential"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-field-error="credit_code"' in page and 'value="壬公司"' in page
    assert not Account.objects.exists()
    response = web.post("/accounts/new/", {"name": "壬公司", "account_type": "end_customer", "status": "potential"})
    assert response.status_code == 302 and Account.objects.get().owner == rep


def test_web_edit_detects_a_concurrent_change(org, rep, web_for, api_for):
    api = api_for(rep)
    account = api.post("/accounts/", {"name": "癸公司"}).json_body
    api.patch(f"/accounts/{account['id']}", {"address": "先改的"})
    response = web_for(rep).post(
        f"/accounts/{account['id']}/edit/",
        {
            "name": "癸公司",
            "address": "后改的",
            "account_type": "end_customer",
            "status": "potential",
            "version": "1",
        },
    )
    assert response.status_code == 200
    assert "after you loaded it" in response.content.decode()


def test_pages_escape_user_input_and_need_csrf(org, rep, api_for):
    from django.test import Client

    api = api_for(rep)
    account = api.post("/accounts/", {"name": "<script>alert(1)</script>"}).json_body
    web = Client(enforce_csrf_checks=True)
    web.force_login(rep)
    page = web.get(f"/accounts/{account['id']}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert web.post("/accounts/new/", {"name": "x"}).status_code == 403


def test_export_is_safe_from_formula_injection(org, api_for, web_for):
    manager = org.user("exporter", org.sh, scope=Scope.OWN)
    api = api_for(manager)
    api.post("/accounts/", {"name": '=HYPERLINK("http://evil","点我")', "address": "+86 1"})
    response = web_for(manager).get("/accounts/", {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1][1].startswith("'=") and rows[1][0].isdigit()
    assert any(cell.startswith("'+86") for cell in rows[1])


def test_list_page_filters_sorts_saves_views_and_pages(org, rep, web_for):
    from django.utils import timezone

    from leads.models import Lead

    now = timezone.now()
    for i in range(30):
        Lead.objects.create(
            company=f"线索{i:02d}",
            owner=rep,
            status="new" if i % 2 else "contacted",
            created_at=now - datetime.timedelta(hours=i),
        )
    web = web_for(rep)
    page = web.get("/leads/", {"status": "new"}).content.decode()
    assert ">15 records<" in page and "线索01" in page and "线索02" not in page
    first = web.get("/leads/").content.decode()
    assert "线索24" in first and "线索25" not in first
    next_link = first.split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    more = web.get(f"/leads/{next_link}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="list-rows").content.decode()
    assert "线索29" in more and "线索25" in more and "线索24" not in more
    web.post("/leads/", {"operation": "save_view", "name": "我的新线索", "query": "status=new"})
    assert "我的新线索" in web.get("/leads/").content.decode()
    oldest_first = web.get("/leads/", {"sort": "created_at"}).content.decode()
    assert oldest_first.index("线索29") < oldest_first.index("线索28") and "线索00" not in oldest_first


def test_bulk_transfer_from_the_list_page(org, web_for):
    from leads.models import Lead

    manager = org.user("mgr", org.east, scope=Scope.SUBTREE)
    a = org.user("a", org.sh)
    b = org.user("b", org.sh)
    leads = [Lead.objects.create(company=f"批量{i}", owner=a) for i in range(3)]
    web_for(manager).post("/leads/", {"operation": "transfer", "owner": b.pk, "ids": [lead.pk for lead in leads]})
    assert set(Lead.objects.values_list("owner_id", flat=True)) == {b.pk}


def test_opportunity_list_shows_pipeline_totals_in_wan(org, rep, api_for, web_for):
    from opportunities.models import Stage

    api = api_for(rep)
    account = api.post("/accounts/", {"name": "子公司"}).json_body
    stage = Stage.objects.get(probability=50)
    for amount in ("1000000", "234567"):
        api.post(
            "/opportunities/",
            {
                "account_id": account["id"],
                "name": f"项目{amount}",
                "amount": amount,
                "expected_close_date": "2027-01-01",
                "stage_id": stage.pk,
            },
        )
    page = web_for(rep).get("/opportunities/").content.decode()
    assert "123.46 10k CNY" in page and "61.73 10k CNY" in page


def test_org_pages_offer_edit_links_only_to_those_who_may_edit(org, web_for):
    seller = org.user("seller", org.sh)
    seller.roles.add(org.Role.objects.get(code="sales_rep"))
    for url in ("/org/users/", "/org/departments/", "/org/roles/"):
        assert "/edit/" not in web_for(seller).get(url).content.decode(), url
    assert "/edit/" in web_for(org.admin).get("/org/users/").content.decode()


def test_inline_followup_without_a_time_is_logged_now(org, rep, web_for, api_for):
    from followups.models import FollowUp

    lead = api_for(rep).post("/leads/", {"company": "丑公司"}).json_body
    response = web_for(rep).post(
        "/followups/new/", {"lead": lead["id"], "kind": "call", "content": "打了电话", "next": f"/leads/{lead['id']}/"}
    )
    assert response.status_code == 302 and response["Location"] == f"/leads/{lead['id']}/"
    assert FollowUp.objects.get().lead_id == lead["id"]


def test_account_phone_is_validated_and_normalised(org, rep, api_for):
    api = api_for(rep)
    assert "phone" in api.post("/accounts/", {"name": "寅公司", "phone": "12"}).json_body["errors"]
    assert api.post("/accounts/", {"name": "寅公司", "phone": "0755-28780808"}).json_body["phone"] == "+8675528780808"


def test_a_rep_who_may_not_transfer_edits_his_own_records_in_the_browser(org, web_for):
    """With nobody to hand records to, the owner list holds only the present owner (it used to fail)."""
    from django.forms.models import model_to_dict

    from accounts.models import Account
    from contacts.models import Contact
    from leads.models import Lead

    seller = org.user("seller", org.sh, scope=Scope.OWN, actions=("view", "create", "edit"))
    account = Account.objects.create(name="自己的客户", owner=seller)
    lead = Lead.objects.create(company="自己的线索", owner=seller)
    contact = Contact.objects.create(name="自己的联系人", account=account, owner=seller)
    web = web_for(seller)
    for record, field in ((account, "name"), (lead, "company"), (contact, "name")):
        url = f"/{record._meta.app_label}/{record.pk}/edit/"
        page = web.get(url)
        assert page.status_code == 200, url
        assert f'<option value="{seller.pk}" selected>' in page.content.decode(), url
        data = {k: v for k, v in model_to_dict(record).items() if v is not None and not isinstance(v, list | dict)}
        data[field] = getattr(record, field) + "（改）"
        assert web.post(url, data).status_code == 302, url
        stored = type(record).objects.get(pk=record.pk)
        assert getattr(stored, field) == data[field] and stored.owner == seller


def test_a_record_picker_names_only_records_the_user_may_see(org, web_for):
    """A link to an account or lead put in the address or the post shows its name only to those who may
    see it; nonsense ids show nothing."""
    from accounts.models import Account
    from leads.models import Lead

    seller = org.user("seller", org.sh, scope=Scope.OWN)
    other = org.user("other", org.south, scope=Scope.OWN)
    hidden = Account.objects.create(name="别人的机密客户", owner=other)
    hidden_lead = Lead.objects.create(company="别人的机密线索", owner=other)
    mine = Account.objects.create(name="我的客户", owner=seller)
    web = web_for(seller)
    page = web.get("/followups/new/", {"account": hidden.pk, "lead": hidden_lead.pk}).content.decode()
    assert "别人的机密客户" not in page and "别人的机密线索" not in page
    assert "我的客户" in web.get("/followups/new/", {"account": mine.pk}).content.decode()
    for value in ("abc", "99999999999999999999", "9" * 5000, "²"):
        assert web.post("/followups/new/", {"account": value, "content": "x"}).status_code == 200


@pytest.mark.parametrize("bad", ["abc", "²", "99999999999999999999", "9" * 5000, "-1"])
def test_pages_take_nonsense_where_an_id_belongs_as_no_such_record(org, web_for, bad):
    """Ids in posts and query strings that no record can have: the page answers, never a server error."""
    from assignment.models import QualificationLevel
    from leads.models import Lead
    from pools.models import Pool

    lead = Lead.objects.create(company="某公司", owner=org.admin)
    pool = Pool.objects.create(name="池", object_type="lead")
    pool.admins.add(org.admin)
    level = QualificationLevel.objects.order_by("pk").first()
    web = web_for(org.admin)
    posts = [
        ("/leads/", {"operation": "transfer", "ids": [lead.pk, bad], "owner": bad}),
        ("/leads/", {"operation": "delete_view", "view_id": bad}),
        (f"/leads/{lead.pk}/transfer/", {"owner": bad}),
        (f"/leads/{lead.pk}/team/", {"user": bad}),
        ("/leads/assign/", {"ids": [bad]}),
        (f"/pools/{pool.pk}/", {"operation": "assign", "ids": [bad], "member": bad}),
        (f"/pools/{pool.pk}/members/", {"member_users": [bad], "admins": [bad]}),
        ("/assignment/caps/", {"remove": bad}),
        ("/assignment/caps/", {"user": org.admin.pk, "max_open_leads": bad}),
        ("/assignment/rules/new/", {"name": "r", "strategy": "named", "member": [bad], "cond-group": [bad]}),
        ("/me/tokens/", {"revoke": bad}),
        ("/followups/new/", {"account": bad, "lead": bad, "content": "x"}),
    ]
    if level is not None:
        posts.append((f"/assignment/qualification/levels/{level.pk}/", {"name": "L", "version": "0"}))
    for url, data in posts:
        assert web.post(url, data).status_code < 500, url
    for url, params in [
        ("/duplicates/merge/", {"object": "lead", "survivor": bad, "loser": lead.pk}),
        ("/duplicates/merge/", {"object": "lead", "ids": [bad, lead.pk]}),
        (f"/leads/{lead.pk}/convert/", {"account": bad}),
        ("/followups/new/", {"account": bad}),
    ]:
        assert web.get(url, params).status_code < 500, url


def test_date_fields_keep_their_value_in_chinese(org, web_for):
    """Dates went to the browser as 2027/09/01 (the zh-Hans format), which a date field cannot read: the
    field showed empty and saving the form unchanged cleared the date."""
    import datetime
    import re

    from django.forms.models import model_to_dict

    from accounts.models import Account
    from followups.models import FollowUp

    seller = org.user("seller", org.sh, scope=Scope.OWN)
    account = Account.objects.create(name="日期客户", owner=seller)
    followup = FollowUp.objects.create(
        account=account, owner=seller, content="拜访", next_follow_up_on=datetime.date(2027, 9, 1)
    )
    web = web_for(seller)
    url = f"/followups/{followup.pk}/edit/"
    html = web.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'name="next_follow_up_on" value="2027-09-01"' in html
    fields = {k: v for k, v in model_to_dict(followup).items() if v is not None and not isinstance(v, list)}
    fields["occurred_at"] = re.search(r'name="occurred_at"[^>]*value="([^"]*)"', html).group(1)
    fields["next_follow_up_on"] = re.search(r'name="next_follow_up_on"[^>]*value="([^"]*)"', html).group(1)
    saved = web.post(url, fields, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert saved.status_code == 302, re.findall(r"invalid-feedback[^>]*>([^<]*)", saved.content.decode())
    followup.refresh_from_db()
    assert followup.next_follow_up_on == datetime.date(2027, 9, 1)


def test_pages_a_user_may_not_open_answer_in_the_apps_layout_and_language(org, web_for):
    from core.permissions import can

    seller = org.user("seller", org.sh, scope=Scope.OWN, types=("lead",))
    web = web_for(seller)
    start = web.get("/leads/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert not can(seller, "role", "view") and "/org/roles/" not in start  # the menu offers what the role allows
    assert web.get("/org/roles/").status_code == 403
    refused = web.get("/duplicates/rules/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = refused.content.decode()
    assert refused.status_code == 403 and "不允许访问" in html and "navbar" in html
    missing = web.get("/leads/999999/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert missing.status_code == 404 and "未找到" in missing.content.decode()


def test_province_city_and_district_are_picked_not_typed(org, web_for):
    """Each region picker is filled from the one above it: a rep picks 广东省 → 深圳市 → 南山区."""
    from leads.models import Lead

    seller = org.user("seller", org.sh, scope=Scope.OWN)
    web = web_for(seller)
    page = web.get("/leads/new/").content.decode()
    assert 'hx-get="/regions/cities/?districts=id_district_code"' in page and 'hx-target="#id_city_code"' in page
    assert '<select name="district_code"' in page and "6 位代码" not in page
    cities = web.get("/regions/cities/", {"province_code": "44", "districts": "id_district_code"}).content.decode()
    assert '<option value="4403">深圳市</option>' in cities
    assert '<select id="id_district_code" hx-swap-oob="innerHTML"><option value="">—</option></select>' in cities
    districts = web.get("/regions/districts/", {"city_code": "4403"}).content.decode()
    assert '<option value="440305">南山区</option>' in districts and "深圳市" not in districts
    assert web.get("/regions/districts/", {"city_code": "<script>"}).content.decode() == '<option value="">—</option>'
    assert web.get("/regions/towns/").status_code == 404
    lead = Lead.objects.create(
        company="上海客户", owner=seller, province_code="31", city_code="3101", district_code="310115"
    )
    edit = web.get(f"/leads/{lead.pk}/edit/").content.decode()
    assert (
        '<option value="3101" selected>上海市 · 市辖区</option>' in edit and '<option value="310115" selected>' in edit
    )
    converted = web.get(f"/leads/{lead.pk}/convert/").content.decode()
    assert '<select name="account_city_code"' in converted and '<option value="310115" selected>' in converted


@pytest.mark.django_db
def test_pages_refuse_what_they_used_to_cut_without_a_word(org, web_for):
    """A hostile-input crawl found the pages cutting a transfer note to 500 characters, a saved view's
    filters to 1,000 (another filter), a token name to 80, and no limit on a follow-up (the API's is
    10,000): each is now refused with the reason, and nothing is saved."""
    from accounts.models import Account
    from core.models import ApiToken, ChangeLog, SavedView
    from followups.models import FollowUp

    web = web_for(org.admin)
    account = Account.objects.create(name="限长公司", owner=org.admin)
    rep = org.user("receiver", org.sh, scope=3)
    page = web.post(f"/accounts/{account.pk}/transfer/", {"owner": rep.pk, "note": "备" * 501}, follow=True)
    assert "At most 500 characters (this has 501)." in page.content.decode()
    assert Account.objects.get(pk=account.pk).owner == org.admin
    assert not ChangeLog.objects.filter(object_id=account.pk, action="transfer").exists()
    page = web.post("/accounts/", {"operation": "save_view", "name": "长视图", "query": "q=" + "x" * 1000}, follow=True)
    assert "at most 1000" in page.content.decode() and not SavedView.objects.filter(name="长视图").exists()
    page = web.post("/me/tokens/", {"name": "T" * 81}, follow=True)
    assert "At most 80 characters (this has 81)." in page.content.decode() and not ApiToken.objects.exists()
    page = web.post("/followups/new/", {"account": account.pk, "kind": "call", "content": "长" * 10001})
    assert page.status_code == 200 and not FollowUp.objects.filter(account=account).exists()
