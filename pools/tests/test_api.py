"""Pool administration through the Open API: who may do what, field errors, keyset lists, holidays."""

import pytest

from core.choices import Scope
from pools.models import HolidayCalendar, Pool, RecyclingRule


@pytest.fixture
def admin_role_user(org):
    user = org.user("it_admin", org.group, scope=Scope.OWN)
    role, _created = org.Role.objects.get_or_create(code="admin", defaults={"name": "系统管理员"})
    user.roles.add(role)
    return user


@pytest.mark.django_db
def test_creating_pools_is_for_admins(world, api_for, admin_role_user):
    body = {"name": "华南线索公海", "object_type": "lead", "member_department_ids": [world.org.south.pk]}
    r = api_for(world.boss).post("/pools/", body)  # a pool admin elsewhere is no system admin
    assert (r.status_code, r.json_body["code"]) == (403, "permission_denied")
    r = api_for(admin_role_user).post("/pools/", body | {"daily_claim_limit": 20, "cooldown_days": 7})
    assert r.status_code == 201, r.json_body
    assert r.json_body["admin_ids"] == [admin_role_user.pk]  # the creator administers it
    assert r.json_body["member_department_ids"] == [world.org.south.pk]
    assert (r.json_body["daily_claim_limit"], r.json_body["ownership_limit"]) == (20, None)
    assert r.json_body["is_admin"] and not r.json_body["is_member"]
    r = api_for(world.org.admin).post("/pools/", body)
    assert r.status_code == 422 and "name" in r.json_body["errors"]


@pytest.mark.django_db
def test_bad_pool_input_gets_field_errors(world, api_for):
    api = api_for(world.org.admin)
    r = api.post("/pools/", {"name": "X", "object_type": "contact", "cooldown_days": -1, "member_user_ids": [987654]})
    assert r.status_code == 422
    assert {"object_type", "cooldown_days"} <= set(r.json_body["errors"])
    r = api.post("/pools/", {"name": "X", "object_type": "lead", "member_user_ids": [987654]})
    assert r.status_code == 422 and "member_user_ids" in r.json_body["errors"]
    assert not Pool.objects.filter(name="X").exists()  # nothing half-written
    r = api.post("/pools/", {"name": "", "object_type": "lead"})
    assert r.status_code == 422 and "name" in r.json_body["errors"]


@pytest.mark.django_db
def test_pool_admins_change_settings_members_and_admins(world, api_for):
    path = f"/pools/{world.lead_pool.pk}"
    assert api_for(world.rep).patch(path, {"daily_claim_limit": 99}).status_code == 403
    r = api_for(world.boss).patch(
        path,
        {
            "daily_claim_limit": 5,
            "ownership_limit": 50,
            "reminder_days": 2,
            "remind_manager": True,
            "member_user_ids": [world.outsider.pk],
        },
    )
    assert r.status_code == 200, r.json_body
    pool = Pool.objects.get(pk=world.lead_pool.pk)
    assert (pool.daily_claim_limit, pool.ownership_limit, pool.reminder_days, pool.remind_manager) == (5, 50, 2, True)
    assert pool.is_member(world.outsider) and pool.is_member(world.rep)  # departments kept
    r = api_for(world.boss).patch(path, {"daily_claim_limit": None})
    assert r.json_body["daily_claim_limit"] is None
    r = api_for(world.boss).patch(path, {"admin_ids": [world.rep.pk]})
    assert r.status_code == 422 and "admin_ids" in r.json_body["errors"]
    r = api_for(world.boss).patch(path, {"member_user_ids": None})
    assert r.status_code == 422 and "member_user_ids" in r.json_body["errors"]


@pytest.mark.django_db
def test_a_pool_keeps_its_kind_once_used_and_only_empty_pools_go(world, api_for):
    world.lead()
    api = api_for(world.org.admin)
    r = api.patch(f"/pools/{world.lead_pool.pk}", {"object_type": "account"})
    assert r.status_code == 422 and "object_type" in r.json_body["errors"]
    r = api.delete(f"/pools/{world.lead_pool.pk}")
    assert (r.status_code, r.json_body["code"]) == (409, "pool_not_empty")
    empty = Pool.objects.create(name="空公海", object_type="lead")
    assert api_for(world.boss).delete(f"/pools/{empty.pk}").status_code == 404  # not his
    assert api.delete(f"/pools/{empty.pk}").status_code == 204


@pytest.mark.django_db
def test_pool_list_shows_member_and_admin_pools(world, api_for):
    Pool.objects.create(name="华南线索公海", object_type="lead").member_departments.add(world.org.south)
    names = [p["name"] for p in api_for(world.rep).get("/pools/").json_body]
    assert names == ["华东客户公海", "华东线索公海"]
    assert [p["name"] for p in api_for(world.rep).get("/pools/", {"object_type": "lead"}).json_body] == ["华东线索公海"]
    assert len(api_for(world.org.admin).get("/pools/").json_body) == 3


@pytest.mark.django_db
def test_rules_crud_and_validation(world, api_for):
    path = f"/pools/{world.account_pool.pk}/rules"
    rule = {"name": "60 天未成交", "kind": "not_won", "days": 60, "grade_days": {"A": 120, "B": 90}}
    assert api_for(world.rep).post(path, rule).status_code == 403
    api = api_for(world.boss)
    r = api.post(path, rule | {"day_count": "working"})
    assert r.status_code == 201, r.json_body
    rule_id = r.json_body["id"]
    assert r.json_body["grade_days"] == {"A": 120, "B": 90} and r.json_body["conditions"] == {"all": []}
    for bad, field in (
        ({"grade_days": {"E": 10}}, "grade_days"),
        ({"grade_days": {"A": 0}}, "grade_days"),
        ({"grade_days": {"A": "many"}}, "grade_days"),
        ({"days": 0}, "days"),
        ({"kind": "not_converted"}, "kind"),  # a lead rule in an account pool
        ({"day_count": "lunar"}, "day_count"),
        ({"conditions": {"field": "password", "op": "eq", "value": "x"}}, "conditions"),
    ):
        r = api.post(path, rule | bad)
        assert r.status_code == 422 and field in r.json_body["errors"], (bad, r.json_body)
    r = api.post(
        f"/pools/{world.lead_pool.pk}/rules",
        {"name": "按等级", "kind": "no_followup", "days": 5, "grade_days": {"A": 9}},
    )
    assert r.status_code == 422 and "grade_days" in r.json_body["errors"]  # leads have no grade
    r = api.patch(
        f"{path}/{rule_id}", {"days": 30, "conditions": {"all": [{"field": "grade", "op": "in", "value": ["C"]}]}}
    )
    assert r.status_code == 200 and r.json_body["days"] == 30
    assert RecyclingRule.objects.get(pk=rule_id).conditions["all"][0]["field"] == "grade"
    assert api.patch(f"{path}/{rule_id}", {"days": None}).status_code == 422
    assert [x["id"] for x in api_for(world.rep).get(path).json_body] == [rule_id]  # members may read
    assert api_for(world.outsider).get(path).status_code == 404
    assert api.delete(f"{path}/{rule_id}").status_code == 204
    assert not RecyclingRule.objects.exists()


@pytest.mark.django_db
def test_pool_records_use_keyset_pages_and_search(world, api_for):
    for i in range(5):
        world.lead(f"深圳腾讯科技{i}有限公司")
    world.lead("已有主人", owner=world.rep2)
    api = api_for(world.rep)
    path = f"/pools/{world.lead_pool.pk}/records"
    first = api.get(path, {"limit": 3}).json_body
    assert len(first["results"]) == 3 and first["next_cursor"]
    second = api.get(path, {"limit": 3, "cursor": first["next_cursor"]}).json_body
    titles = [r["title"] for r in first["results"] + second["results"]]
    assert len(set(titles)) == 5 and "已有主人" not in titles
    assert second["next_cursor"] is None
    assert api.get(path, {"cursor": "garbage"}).status_code == 422
    assert api.get(path, {"ordering": "owner"}).status_code == 422
    from search.indexer import bulk_index  # noqa: F401 - search entries are written by signals on save

    found = api.get(path, {"q": "腾讯科技3"}).json_body["results"]
    assert [r["title"] for r in found] == ["深圳腾讯科技3有限公司"]


@pytest.mark.django_db
def test_holiday_calendar_api(world, api_for, admin_role_user):
    r = api_for(world.rep).get("/pools/holidays", {"year": 2026})
    days = {h["date"]: h["is_workday"] for h in r.json_body["results"]}
    assert days["2026-10-01"] is False and days["2026-10-10"] is True
    new_year = {"date": "2027-02-06", "is_workday": True, "name": "春节调休"}
    assert api_for(world.rep).post("/pools/holidays", new_year).status_code == 403
    r = api_for(admin_role_user).post("/pools/holidays", new_year)
    assert r.status_code == 200 and r.json_body["source"] == "manual"
    assert HolidayCalendar.objects.get(date="2027-02-06").is_workday
    r = api_for(admin_role_user).post("/pools/holidays", {"date": "2027-02-31", "is_workday": False})
    assert r.status_code == 422 and "date" in r.json_body["errors"]
    assert api_for(admin_role_user).delete("/pools/holidays/2027-02-06").status_code == 204
    assert api_for(admin_role_user).delete("/pools/holidays/2027-02-06").status_code == 404
    HolidayCalendar.objects.filter(date__year=2026).delete()
    r = api_for(admin_role_user).post("/pools/holidays/seed")
    assert r.json_body["count"] > 30 and HolidayCalendar.objects.filter(date="2026-10-01").exists()
    assert api_for(admin_role_user).post("/pools/holidays/seed").json_body["count"] == 0


@pytest.mark.django_db
def test_openapi_lists_the_pool_operations(api_for, org):
    schema = api_for(org.admin).get("/openapi.json").json_body
    ids = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"lead_claim", "lead_release", "account_claim", "account_release", "pool_assign", "pool_due_list"} <= ids


@pytest.mark.django_db
def test_lists_do_not_query_per_row(world, api_for):
    """Pools, and records in a pool, cost the same number of queries however many there are."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = api_for(world.rep)

    def queries(path):
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(path).status_code == 200
        return len(ctx.captured_queries)

    records = f"/pools/{world.lead_pool.pk}/records"
    world.lead("一")
    queries("/pools/")  # the first call also records when the token was last used
    few_pools, few_records = queries("/pools/"), queries(records)
    for i in range(8):
        pool = Pool.objects.create(name=f"公海{i}", object_type="lead")
        pool.member_departments.add(world.org.east)
        pool.member_users.add(world.rep2)
        pool.admins.add(world.boss)
        world.lead(f"线索{i}", province_code="31", city_code="3101")
    assert queries("/pools/") == few_pools
    assert queries(records) == few_records


@pytest.mark.django_db
def test_a_pool_is_searched_by_names_not_by_the_phones_and_emails_members_see_after_claiming(world, api_for, web_for):
    """Searching a pool by a phone number or an e-mail told which waiting record had it, though a member
    sees neither before claiming."""
    lead = world.lead("杭州海康威视数字技术股份有限公司", contact_name="耿杰", phone="13448931261", email="zqx@hik.cn")
    world.lead("杭州另一家公司", contact_name="王五")
    api = api_for(world.rep)
    path = f"/pools/{world.lead_pool.pk}/records"

    def found(query):
        return [r["id"] for r in api.get(path, {"q": query}).json_body["results"]]

    for query in ("13448931261", "1261", "zqx", "hik"):
        assert found(query) == [], query
        page = web_for(world.rep).get(f"/pools/{world.lead_pool.pk}/", {"q": query}).content.decode()
        assert "海康威视" not in page, query
    for query in ("海康", "haikang", "hkws", "耿杰", "gengjie", "杭州 海康"):
        assert found(query) == [lead.pk], query
    assert "海康威视" in web_for(world.rep).get(f"/pools/{world.lead_pool.pk}/", {"q": "海康"}).content.decode()
    # the same phone still finds the lead in the global search of one who may see it
    hits = api_for(world.org.admin).get("/search/", {"q": "13448931261"}).json_body
    assert lead.pk in [hit["id"] for hit in hits["results"]]
