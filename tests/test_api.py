"""The Open API as an integrator meets it: tokens, one error shape, locking, idempotency, cursors."""

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import F

from core.choices import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(org):
    return org.user("rep", org.sh, scope=Scope.OWN)


def test_requests_without_a_valid_token_are_refused_with_the_error_shape(org, rep, api_for):
    from django.test import Client

    anonymous = Client().get("/api/v1/leads/")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    bad = Client(HTTP_AUTHORIZATION="Bearer tide_nope_nope").get("/api/v1/leads/")
    assert bad.status_code == 401


def test_tokens_are_stored_hashed_and_die_with_revocation_or_departure(org, rep, api_for):
    from core.models import ApiToken
    from org import actions as org_actions

    api = api_for(rep)
    assert api.get("/leads/").status_code == 200
    stored = ApiToken.objects.get(user=rep)
    assert api.token not in (stored.key_hash, stored.key_id) and len(stored.key_hash) == 64
    org_actions.deactivate_user(target=rep, user=org.admin)
    assert api.get("/leads/").status_code == 401


def test_apitoken_command_prints_a_working_token(org, rep):
    from django.test import Client

    out = io.StringIO()
    call_command("apitoken", "rep", stdout=out)
    token = out.getvalue().strip()
    assert token.startswith("tide_")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/leads/").status_code == 200


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "name"),
        ({"name": "甲公司", "credit_code": "91440101MA59UQ8K1B"}, "credit_code"),
        ({"name": "甲公司", "credit_code": "123"}, "credit_code"),
        ({"name": "甲公司", "grade": "Z"}, "grade"),
        ({"name": "甲公司", "province_code": "44", "city_code": "1101"}, "city_code"),
        ({"name": "甲公司", "province_code": "99"}, "province_code"),
        ({"name": "甲公司", "parent_id": 999999}, "parent_id"),
        ({"name": "甲公司", "owner_id": "abc"}, "owner_id"),
        ({"name": "x" * 201}, "name"),
        ({"name": "甲公司", "website": "not a url"}, "website"),
    ],
)
def test_bad_account_input_gets_a_field_error_and_writes_nothing(org, rep, api_for, payload, field):
    from accounts.models import Account

    r = api_for(rep).post("/accounts/", payload)
    assert r.status_code == 422, r.json_body
    assert r.json_body["code"] == "validation_error"
    assert field in r.json_body["errors"], r.json_body
    assert Account.all_objects.count() == 0


@pytest.mark.parametrize("body", ["{not json", "[]", '"text"', "null", '{"company": ["a"]}'])
def test_malformed_bodies_never_give_a_500(org, rep, api_for, body):
    api = api_for(rep)
    r = api.client.post("/api/v1/leads/", data=body, content_type="application/json")
    assert r.status_code in (400, 422)
    assert "code" in r.json()


def test_errors_are_in_chinese_for_chinese_clients(org, rep, api_for):
    r = api_for(rep).post(
        "/accounts/", {"name": "甲", "credit_code": "91440101MA59UQ8K1B"}, headers={"Accept-Language": "zh-hans"}
    )
    assert "校验" in r.json_body["errors"]["credit_code"][0]


def test_contact_and_lead_phone_and_status_rules(org, rep, api_for):
    api = api_for(rep)
    account = api.post("/accounts/", {"name": "甲公司"}).json_body
    r = api.post("/contacts/", {"account_id": account["id"], "name": "张三", "mobile": "12345"})
    assert r.status_code == 422 and "mobile" in r.json_body["errors"]
    r = api.post("/contacts/", {"account_id": account["id"], "name": "张三", "mobile": "138 0013 8000"})
    assert r.status_code == 201 and r.json_body["mobile"] == "+8613800138000"
    r = api.post("/leads/", {"company": "乙公司", "status": "invalid"})
    assert r.status_code == 422 and "invalid_reason" in r.json_body["errors"]
    r = api.post("/leads/", {"company": "乙公司", "status": "invalid", "invalid_reason": "no_need"})
    assert r.status_code == 201


def test_optimistic_locking_refuses_a_stale_write(org, rep, api_for):
    api = api_for(rep)
    created = api.post("/leads/", {"company": "丙公司"})
    lead_id = created.json_body["id"]
    etag = api.get(f"/leads/{lead_id}")["ETag"]
    first = api.patch(f"/leads/{lead_id}", {"title": "经理"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first["ETag"] != etag
    stale = api.patch(f"/leads/{lead_id}", {"title": "总监"}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json_body["code"] == "version_conflict"
    assert api.get(f"/leads/{lead_id}").json_body["title"] == "经理"
    assert api.delete(f"/leads/{lead_id}", headers={"If-Match": etag}).status_code == 412


def test_idempotency_key_makes_retries_safe(org, rep, api_for):
    from leads.models import Lead

    api = api_for(rep)
    first = api.post("/leads/", {"company": "丁公司"}, headers={"Idempotency-Key": "abc-1"})
    again = api.post("/leads/", {"company": "丁公司"}, headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == again.status_code == 201
    assert first.json_body["id"] == again.json_body["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Lead.objects.count() == 1
    reused = api.post("/leads/", {"company": "戊公司"}, headers={"Idempotency-Key": "abc-1"})
    assert reused.status_code == 422 and reused.json_body["code"] == "idempotency_key_reused"
    api.post("/leads/", {"company": "丁公司"})
    assert Lead.objects.count() == 2


def test_cursor_pagination_walks_every_row_once_in_order(org, rep, api_for):
    from django.utils import timezone

    from leads.models import Lead

    now = timezone.now()
    leads = [
        Lead.objects.create(company=f"公司{i}", owner=rep, created_at=now - datetime.timedelta(minutes=i // 2))
        for i in range(7)
    ]
    api = api_for(rep)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/leads/", params).json_body
        seen.extend(r["id"] for r in page["results"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    expected = [lead.pk for lead in sorted(leads, key=lambda lead: (lead.created_at, lead.pk), reverse=True)]
    assert seen == expected
    assert api.get("/leads/", {"cursor": "garbage!"}).status_code == 422
    assert api.get("/leads/", {"ordering": "-phone"}).status_code == 422
    assert api.get("/leads/", {"limit": 500}).status_code == 422


def test_list_endpoints_do_not_query_per_row(org, rep, api_for, django_assert_max_num_queries):
    from accounts.models import Account, Tag
    from contacts.models import Contact

    tag = Tag.objects.create(name="重点")
    api = api_for(rep)

    def make(n):
        for i in range(n):
            account = Account.objects.create(name=f"客户{i}", owner=rep)
            account.tags.add(tag)
            Contact.objects.create(account=account, name=f"联系人{i}", owner=rep)

    make(3)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert len(api.get("/accounts/").json_body["results"]) == 3
        api.get("/contacts/")
    make(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get("/accounts/").json_body["results"]) == 23
        api.get("/contacts/")


def test_filters_narrow_lists(org, rep, api_for):
    api = api_for(rep)
    api.post("/leads/", {"company": "甲", "source": "exhibition"})
    api.post("/leads/", {"company": "乙", "source": "referral", "status": "contacted"})
    assert [r["company"] for r in api.get("/leads/", {"source": "referral"}).json_body["results"]] == ["乙"]
    assert [r["company"] for r in api.get("/leads/", {"status": "new", "owner_id": rep.pk}).json_body["results"]] == [
        "甲"
    ]


def test_bulk_transfer_checks_scope_and_writes_history(org, api_for):
    from core.models import ChangeLog
    from leads.models import Lead

    manager = org.user("mgr", org.east, scope=Scope.SUBTREE)
    rep = org.user("rep1", org.sh, scope=Scope.OWN, actions=("view", "create", "edit"))
    other = org.user("rep2", org.sh)
    outsider = org.user("south", org.south)
    leads = [Lead.objects.create(company=f"线索{i}", owner=rep) for i in range(3)]
    ids = [lead.pk for lead in leads]
    assert api_for(rep).post("/leads/transfer", {"ids": ids, "owner_id": other.pk}).status_code == 403
    r = api_for(manager).post("/leads/transfer", {"ids": ids, "owner_id": outsider.pk})
    assert r.status_code == 422 and "owner_id" in r.json_body["errors"]
    r = api_for(manager).post("/leads/transfer", {"ids": ids, "owner_id": other.pk, "note": "调岗"})
    assert r.status_code == 200 and r.json_body == {"transferred": 3}
    assert set(Lead.objects.values_list("owner_id", flat=True)) == {other.pk}
    entries = ChangeLog.objects.filter(object_type="lead", action="transfer")
    assert entries.count() == 3
    assert entries.first().changes[0]["old"] == str(rep) and entries.first().note == "调岗"


def test_org_can_be_synced_from_an_hr_system(org, api_for):
    from org.models import Department, User

    hr = org.user("hr", org.group)
    hr.roles.add(org.Role.objects.get(code="hr_integration"))
    api = api_for(hr)
    region = api.post("/departments/", {"name": "华中大区", "code": "HZ", "parent_id": org.east.pk}).json_body
    market = api.post("/departments/", {"name": "武汉市场部", "code": "WH", "parent_id": region["id"]}).json_body
    assert market["path"] == f"{org.east.path}{region['id']}/{market['id']}/"
    # moving a department moves its whole subtree
    r = api.patch(f"/departments/{region['id']}", {"parent_id": org.south.pk})
    assert r.status_code == 200
    assert Department.objects.get(pk=market["id"]).path == f"{org.south.path}{region['id']}/{market['id']}/"
    cycle = api.patch(f"/departments/{region['id']}", {"parent_id": market["id"]})
    assert cycle.status_code == 422 and "parent_id" in cycle.json_body["errors"]
    rep_role = org.Role.objects.get(code="sales_rep")
    user = api.post(
        "/users/",
        {
            "username": "wangwu",
            "name": "王五",
            "employee_no": "E1001",
            "department_id": market["id"],
            "role_ids": [rep_role.pk],
        },
    )
    assert user.status_code == 201, user.json_body
    dup = api.post("/users/", {"username": "wangwu2", "employee_no": "E1001", "department_id": market["id"]})
    assert dup.status_code in (409, 422)
    listed = api.get("/users/", {"employee_no": "E1001"}).json_body["results"]
    assert [u["username"] for u in listed] == ["wangwu"]
    assert api.post(f"/users/{user.json_body['id']}/deactivate", {}).status_code == 200
    assert User.objects.get(username="wangwu").is_active is False
    roles = api.get("/roles/").json_body
    assert {"admin", "sales_rep"} <= {r["code"] for r in roles}


def test_openapi_document_describes_the_api(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["info"]["title"] == "Tide CRM Open API"
    for path in ["/api/v1/leads/", "/api/v1/accounts/{record_id}", "/api/v1/search/", "/api/v1/users/"]:
        assert path in doc["paths"], path


def test_every_schema_of_the_openapi_document_has_its_own_name(client):
    """Two schemas of one name are one schema in the document: the pool rules were documented with the
    assignment rules' fields (name, strategy, member_ids) before their names were told apart."""
    import collections

    from ninja import Schema

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    doc = client.get("/api/v1/openapi.json").json()
    modules = collections.defaultdict(set)
    for cls in subclasses(Schema):
        if cls.__module__.split(".")[0] not in ("ninja", "pydantic"):
            modules[cls.__name__].add(cls.__module__)
    assert {name: sorted(m) for name, m in modules.items() if len(m) > 1} == {}
    body = doc["paths"]["/api/v1/pools/{pool_id}/rules"]["post"]["requestBody"]["content"]["application/json"]
    fields = doc["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
    assert "days" in fields and "strategy" not in fields


def test_numbers_and_ids_no_record_can_have_are_answered_as_the_callers_mistake(org, api_for):
    """Ids beyond a database key and paths that name no operation get the API's error shape, never a
    server error or an HTML page."""
    from leads.models import Lead

    api = api_for(org.admin)
    lead = Lead.objects.create(company="某公司", owner=org.admin)
    huge = 99999999999999999999
    listed = api.get("/leads/", {"owner_id": huge})
    assert listed.status_code == 422 and "owner_id" in listed.json_body["errors"]
    moved = api.post("/leads/transfer", {"ids": [lead.pk, huge], "owner_id": org.admin.pk})
    assert moved.status_code == 422 and "ids.1" in moved.json_body["errors"]
    merged = api.post("/duplicates/merge", {"object": "lead", "survivor_id": lead.pk, "loser_id": huge})
    assert merged.status_code in (404, 422) and merged.json_body["code"] in ("not_found", "validation_error")
    preview = api.get("/duplicates/merge/preview", {"object": "lead", "survivor_id": huge, "loser_id": lead.pk})
    assert preview.status_code in (404, 422) and preview.json_body is not None
    capped = api.put(f"/assignment/limits/{org.admin.pk}", {"max_open_leads": huge})
    assert capped.status_code == 422 and "max_open_leads" in capped.json_body["errors"]
    pool = api.post("/pools/", {"name": "池", "object_type": "lead", "member_user_ids": [huge]})
    assert pool.status_code == 422 and "member_user_ids.0" in pool.json_body["errors"]
    for path in ("/leads/abc", "/leads/-1/lock", "/no-such-thing/"):
        answer = api.get(path)
        assert answer.status_code == 404 and answer.json_body["code"] == "not_found", path


def test_true_and_false_are_not_taken_for_numbers_or_ids(org, api_for):
    """JSON's true would otherwise be read as 1: `"owner_id": true` handed a lead to user 1."""
    from leads.models import Lead

    api = api_for(org.admin)
    created = api.post("/leads/", {"company": "布尔公司", "owner_id": True})
    assert created.status_code == 422 and created.json_body["errors"]["owner_id"] == ["Enter a whole number."]
    assert not Lead.objects.filter(company="布尔公司").exists()
    pool = api.post(
        "/pools/", {"name": "布尔池", "object_type": "lead", "cooldown_days": False, "member_user_ids": [True]}
    )
    assert pool.status_code == 422 and {"cooldown_days", "member_user_ids.0"} <= set(pool.json_body["errors"])
    assert api.post("/leads/", {"company": "数字公司", "owner_id": org.admin.pk}).status_code == 201


def test_the_openapi_document_states_bounds_in_json_schema_terms(client):
    """Bounds placed after a validator come out as pydantic's own `ge`/`le`, which no OpenAPI tool reads."""
    doc = client.get("/api/v1/openapi.json").json()
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            found.extend(f"{path}/{key}" for key in ("ge", "le", "gt", "lt") if key in node)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}/{i}")

    walk(doc, "")
    assert found == []
    order = doc["components"]["schemas"]["RuleIn"]["properties"]["order"]["anyOf"][0]
    assert (order["minimum"], order["maximum"]) == (0, 1_000_000)


def test_text_no_database_can_store_is_refused_by_field(org, api_for):
    """A lone surrogate ("\\ud800" in JSON) is no UTF-8: PostgreSQL's driver failed on it (500) in any
    unbounded text field (notes, tags) and in a forged list cursor."""
    import base64

    api = api_for(org.admin)
    body = '{"name": "代理\\ud800公司", "notes": "x\\ud800", "tags": ["\\uDFFF"]}'
    answer = api.client.post("/api/v1/accounts/", body, content_type="application/json")
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert set(errors) == {"name", "notes", "tags.0"} and "Unicode" in errors["notes"][0]
    # a proper pair of surrogates is one character (an emoji) and is stored
    ok = '{"name": "表情\\ud83d\\ude00公司"}'
    created = api.client.post("/api/v1/accounts/", ok, content_type="application/json")
    assert created.status_code == 201 and created.json()["name"] == "表情😀公司"
    cursor = base64.urlsafe_b64encode(b'["\\ud800", 1]').decode().rstrip("=")
    listed = api.get("/accounts/", {"ordering": "name", "cursor": cursor})
    assert listed.status_code == 422 and "cursor" in listed.json_body["errors"]


def test_a_follow_up_needs_a_time_with_its_offset_and_within_reason(org, api_for, web_for):
    """A time without offset (500 on save) and year 1 (stored by PostgreSQL as a BC time it cannot read
    back, breaking every page that showed the follow-up) are field errors."""
    from accounts.models import Account
    from followups.models import FollowUp

    account = Account.objects.create(name="时间测试公司", owner=org.admin)
    api = api_for(org.admin)
    for when in ("2026-06-01T10:00:00", "0001-01-01T00:00:00+08:00"):
        answer = api.post("/followups/", {"account_id": account.pk, "content": "电话", "occurred_at": when})
        assert answer.status_code == 422 and "occurred_at" in answer.json_body["errors"], when
    page = web_for(org.admin).post(
        "/followups/new/", {"account": account.pk, "kind": "call", "occurred_at": "0001-01-01T00:00", "content": "x"}
    )
    assert page.status_code == 200 and "Enter a date between 1900 and 2100." in page.content.decode()
    assert not FollowUp.objects.filter(account=account).exists()
    done = api.post(
        "/followups/", {"account_id": account.pk, "content": "电话", "occurred_at": "2026-06-01T10:00:00+08:00"}
    )
    assert done.status_code == 201


def test_roles_can_be_deleted_only_when_nobody_holds_them(org, api_for):
    api = api_for(org.admin)
    role = api.post(
        "/roles/",
        {"name": "临时", "code": "temp", "permissions": [{"object_type": "lead", "actions": ["view"], "scope": 1}]},
    ).json_body
    holder = org.user("holder", org.sh)
    holder.roles.add(role["id"])
    r = api.delete(f"/roles/{role['id']}")
    assert r.status_code == 422 and r.json_body["errors"]["__all__"]
    holder.roles.clear()
    assert api.delete(f"/roles/{role['id']}").status_code == 204
    assert role["id"] not in {r["id"] for r in api.get("/roles/").json_body}


def test_create_answers_with_the_full_record(org, rep, api_for):
    api = api_for(rep)
    body = {"name": "甲公司", "tags": ["国企", "重点"], "province_code": "44", "city_code": "4403"}
    for headers in ({}, {"Idempotency-Key": "k1"}, {"Idempotency-Key": "k1"}):
        created = api.post("/accounts/", body, headers=headers).json_body
        assert created["tags"] == ["国企", "重点"] and created["region"] == "广东省 深圳市"
        assert created["owner_name"] == str(rep)


@pytest.mark.parametrize("field", ["stage_id", "contact_id", "account_id"])
def test_unknown_related_ids_are_field_errors_not_500s(org, rep, api_for, field):
    from opportunities.models import Stage

    api = api_for(rep)
    account = api.post("/accounts/", {"name": "关联公司"}).json_body
    body = {
        "account_id": account["id"],
        "name": "项目",
        "expected_close_date": "2027-01-01",
        "stage_id": Stage.objects.first().pk,
        field: 987654,
    }
    r = api.post("/opportunities/", body)
    assert r.status_code == 422 and field in r.json_body["errors"], r.json_body


def test_tokens_are_created_shown_once_and_revoked_from_the_page(org, rep, web_for):
    from django.test import Client

    from core.models import ApiToken

    web = web_for(rep)
    assert "Give the token a name" in web.post("/me/tokens/", {"name": "  "}, follow=True).content.decode()
    page = web.post("/me/tokens/", {"name": "ERP"}).content.decode()
    raw = page.split('data-testid="new-token">')[1].split("<")[0]
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/leads/").status_code == 200
    assert raw not in web.get("/me/tokens/").content.decode()
    web.post("/me/tokens/", {"revoke": ApiToken.objects.get(user=rep).pk})
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/leads/").status_code == 401


def test_a_nul_character_anywhere_in_an_api_call_is_a_field_error(org, api_for):
    """PostgreSQL stores no NUL (SQLite does): refused the same on both, naming the field."""
    from leads.models import Lead

    api = api_for(org.admin)
    created = api.post("/leads/", {"company": "甲\x00公司", "notes": "ok"})
    assert created.status_code == 422 and created.json_body["errors"] == {
        "company": ["Null characters are not allowed."]
    }
    lead = Lead.objects.create(company="乙公司", owner=org.admin)
    converted = api.post(f"/leads/{lead.pk}/convert", {"account": {"name": "丙\x00"}, "contact": {"name": "丁"}})
    assert converted.status_code == 422 and list(converted.json_body["errors"]) == ["account.name"]
    listed = api.get("/leads/", {"status": "\x00"})
    assert listed.status_code == 422 and list(listed.json_body["errors"]) == ["status"]
    rule = {"field": "company", "op": "contains", "value": "a\x00b"}
    saved = api.post("/assignment/rules", {"name": "r", "strategy": "named", "conditions": {"all": [rule]}})
    assert saved.status_code == 422 and "conditions.all.0.value" in saved.json_body["errors"]
    plain = api.client.post("/api/v1/leads/", '{"company": "甲\\u0000公司"}', content_type="text/plain")
    assert plain.status_code == 422 and list(plain.json()["errors"]) == ["company"]  # the API reads it as JSON too
    stranger = api.client.get("/api/v1/leads/", HTTP_AUTHORIZATION="Bearer tide_a\x00b_c")
    assert stranger.status_code == 401
    assert list(Lead.objects.values_list("company", flat=True)) == ["乙公司"]  # nothing else was written


def test_condition_values_are_checked_against_what_the_column_holds(org, api_for):
    """The lead score is an integer column: a fractional value or one beyond 32 bits used to be saved and
    then broke the sweep, the due list and every lead create; a NUL cannot be stored in PostgreSQL's JSON."""
    from core import conditions as cond

    for value, message in [
        (1.5, "whole number"),
        (2**31, "whole number"),
        ("1E+400", "whole number"),
        ("Infinity", "enter a number"),
    ]:
        with pytest.raises(ValidationError) as error:
            cond.validate({"field": "score", "op": "gte", "value": value}, "lead")
        assert message in str(error.value), value
    assert cond.validate({"field": "score", "op": "gte", "value": "2147483647"}, "lead") == {
        "all": [{"field": "score", "op": "gte", "value": "2147483647"}]
    }
    with pytest.raises(ValidationError, match="null characters"):
        cond.validate({"field": "company", "op": "contains", "value": "a\x00b"}, "lead")
    api = api_for(org.admin)
    pool = api.post("/pools/", {"name": "池", "object_type": "lead"}).json_body
    rule = {
        "name": "d",
        "kind": "no_followup",
        "days": 1,
        "conditions": {"field": "score", "op": "gte", "value": 2**31},
    }
    answer = api.post(f"/pools/{pool['id']}/rules", rule)
    assert answer.status_code == 422 and "whole number" in str(answer.json_body["errors"])
    far = api.post("/assignment/rules", {"name": "r", "strategy": "named", "order": 2147483647})
    assert far.status_code == 422 and "order" in far.json_body["errors"]


def test_the_sweep_takes_a_query_django_knows_to_be_empty():
    from core.models import ChangeLog
    from leads.models import Lead
    from pools.actions import _insert_select

    assert _insert_select(ChangeLog, Lead.objects.filter(pk__in=[]), {"object_id": F("pk")}) == 0


@pytest.mark.django_db(transaction=True)  # outside a test transaction, as a request runs on PostgreSQL
def test_a_merge_preview_reads_its_pair_in_a_transaction_of_its_own(org, api_for):
    from leads.models import Lead

    a = Lead.objects.create(company="合并甲", owner=org.admin)
    b = Lead.objects.create(company="合并乙", owner=org.admin)
    preview = api_for(org.admin).get(
        "/duplicates/merge/preview", {"object": "lead", "survivor_id": a.pk, "loser_id": b.pk}
    )
    assert preview.status_code == 200


def test_a_name_of_whitespace_alone_is_a_missing_name_through_the_api(org, api_for):
    """The pages strip text; the API stored "   \\t\\n" as an account's or a lead's name."""
    api = api_for(org.admin)
    for path, field in (("/accounts/", "name"), ("/leads/", "company")):
        answer = api.post(path, {field: "   \t\n"})
        assert answer.status_code == 422 and field in answer.json_body["errors"], path
    created = api.post("/accounts/", {"name": "  华能集团 \n"}).json_body
    assert created["name"] == "华能集团"


def test_a_tag_too_long_for_a_tag_is_refused_not_cut(org, api_for, web_for):
    from accounts.models import Account

    api = api_for(org.admin)
    answer = api.post("/accounts/", {"name": "标签公司", "tags": ["重点", "x" * 31]})
    assert answer.status_code == 422 and "tags" in answer.json_body["errors"]
    assert not Account.objects.filter(name="标签公司").exists()
    assert api.post("/accounts/", {"name": "标签公司", "tags": [f"t{i}" for i in range(21)]}).status_code == 422
    page = web_for(org.admin).post(
        "/accounts/new/",
        {
            "name": "标签公司",
            "tags": "重点, " + "y" * 40,
            "grade": "B",
            "account_type": "end_customer",
            "status": "potential",
        },
    )
    assert page.status_code == 200 and "A tag has at most 30 characters" in page.content.decode()
    assert api.post("/accounts/", {"name": "标签公司", "tags": ["x" * 30]}).json_body["tags"] == ["x" * 30]
