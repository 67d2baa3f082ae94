"""The settings an administrator keeps: rules (ordered, with a condition builder), territories and caps,
through the pages and the API; nobody else may change them."""

import pytest

from core.choices import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def reps(org):
    return [org.user(f"rep{i}", org.sh, scope=Scope.OWN) for i in range(1, 4)]


@pytest.fixture
def role_admin(org):
    from org.models import Role

    user = org.user("itadmin", org.group, scope=Scope.OWN)
    user.roles.add(Role.objects.get(code="admin"))
    return user


def test_only_superusers_and_the_admin_role_manage_settings(org, reps, role_admin, api_for, web_for):
    from org.models import Role

    for path in ("/assignment/", "/assignment/territories/", "/assignment/caps/", "/assignment/qualification/"):
        assert web_for(org.admin).get(path).status_code == 200, path
        assert web_for(role_admin).get(path).status_code == 200, path
        assert web_for(reps[0]).get(path).status_code == 403, path
    for path in ("/assignment/rules", "/assignment/territories", "/assignment/limits"):
        assert api_for(role_admin).get(path).status_code == 200
        r = api_for(reps[0]).get(path)
        assert r.status_code == 403 and r.json_body["code"] == "permission_denied"
    r = api_for(reps[0]).post("/assignment/rules", {"name": "x", "strategy": "users", "member_ids": [reps[0].pk]})
    assert r.status_code == 403
    Role.objects.filter(code="admin").update(is_active=False)
    assert api_for(role_admin).get("/assignment/rules").status_code == 403


def test_rules_over_the_api(org, reps, api_for):
    from assignment.models import AssignmentRule, RotationCursor
    from pools.models import Pool

    api = api_for(org.admin)
    r = api.post(
        "/assignment/rules", {"name": "轮询", "strategy": "round_robin", "member_ids": [reps[2].pk, reps[0].pk]}
    )
    assert r.status_code == 201, r.json_body
    rule = r.json_body
    assert rule["member_ids"] == [reps[2].pk, reps[0].pk] and rule["conditions"] == {"all": []} and rule["order"] == 10
    errors = api.post("/assignment/rules", {"name": "空", "strategy": "round_robin"}).json_body["errors"]
    assert "member_ids" in errors
    bad = api.post(
        "/assignment/rules",
        {
            "name": "坏",
            "strategy": "users",
            "member_ids": [reps[0].pk],
            "conditions": {"all": [{"field": "score", "op": "gte", "value": "x"}]},
        },
    )
    assert bad.status_code == 422 and bad.json_body["errors"]["conditions"][0].startswith("conditions.all[0].value")
    evil = api.post(
        "/assignment/rules",
        {
            "name": "坏",
            "strategy": "users",
            "member_ids": [reps[0].pk],
            "conditions": {"field": "owner__password", "op": "eq", "value": "x"},
        },
    )
    assert evil.status_code == 422
    assert "pool_id" in api.post("/assignment/rules", {"name": "池", "strategy": "pool"}).json_body["errors"]
    accounts_pool = Pool.objects.create(name="客户公海", object_type="account")
    assert (
        "pool_id"
        in api.post("/assignment/rules", {"name": "池", "strategy": "pool", "pool_id": accounts_pool.pk}).json_body[
            "errors"
        ]
    )
    assert "strategy" in api.post("/assignment/rules", {"name": "?", "strategy": "magic"}).json_body["errors"]
    departed = org.user("departed", org.sh)
    departed.is_active = False
    departed.save()
    assert (
        "member_ids"
        in api.post("/assignment/rules", {"name": "x", "strategy": "users", "member_ids": [departed.pk]}).json_body[
            "errors"
        ]
    )
    assert AssignmentRule.objects.count() == 1

    got = api.get(f"/assignment/rules/{rule['id']}")
    assert got.status_code == 200
    changed = api.patch(
        f"/assignment/rules/{rule['id']}", {"max_open_leads": 20, "is_active": False}, headers={"If-Match": got["ETag"]}
    )
    assert changed.status_code == 200 and changed.json_body["max_open_leads"] == 20
    assert (
        api.patch(f"/assignment/rules/{rule['id']}", {"name": "旧"}, headers={"If-Match": got["ETag"]}).status_code
        == 412
    )
    second = api.post("/assignment/rules", {"name": "第二", "strategy": "users", "member_ids": [reps[1].pk]}).json_body
    moved = api.post(f"/assignment/rules/{second['id']}/move", {"direction": "up"})
    assert [r["name"] for r in moved.json_body] == ["第二", "轮询"]
    RotationCursor.objects.create(key=f"rule:{rule['id']}")
    assert api.delete(f"/assignment/rules/{rule['id']}").status_code == 204
    assert not RotationCursor.objects.filter(key=f"rule:{rule['id']}").exists()
    assert api.get(f"/assignment/rules/{rule['id']}").status_code == 404


def test_rows_take_a_choice_by_the_label_they_show(org, reps, web_for):
    """The builder shows sources by their labels (官网, 展会): typed that way, in Chinese or English, they are
    stored as the codes rules compare."""
    from assignment.models import AssignmentRule

    data = {
        "name": "官网线索",
        "strategy": "users",
        "is_active": "on",
        "member": [str(reps[0].pk)],
        "cond-mode": "rows",
        "cond-combinator": "all",
        "cond-field": ["source", "industry"],
        "cond-op": ["in", "eq"],
        "cond-value": ["官网、Exhibition", "火星"],
    }
    web = web_for(org.admin)
    page = web.post("/assignment/rules/new/", data, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "第 2 行" in page and not AssignmentRule.objects.exists()  # no industry is called 火星
    assert 'data-testid="errors-summary"' in page  # said at the top too: the row may be far down on a phone
    data["cond-field"], data["cond-op"], data["cond-value"] = data["cond-field"][:1], ["in"], ["官网、Exhibition"]
    assert web.post("/assignment/rules/new/", data, HTTP_ACCEPT_LANGUAGE="zh-hans").status_code == 302
    assert AssignmentRule.objects.get().conditions == {
        "all": [{"field": "source", "op": "in", "value": ["website", "exhibition"]}]
    }


def test_rule_page_with_the_row_builder(org, reps, web_for):
    from assignment.models import AssignmentRule
    from core.models import ChangeLog

    web = web_for(org.admin)
    assert web.get("/assignment/rules/new/").status_code == 200
    data = {
        "name": "华南展会",
        "strategy": "round_robin",
        "is_active": "on",
        "member": [str(reps[1].pk), "", str(reps[0].pk)],
        "cond-mode": "rows",
        "cond-combinator": "all",
        "cond-field": ["source", "region", "score", ""],
        "cond-op": ["in", "in", "gte", "eq"],
        "cond-value": ["exhibition, web_form", "44", "abc", ""],
    }
    page = web.post("/assignment/rules/new/", data).content.decode()
    assert "Row 3" in page and not AssignmentRule.objects.exists()
    assert 'value="exhibition, web_form"' in page  # what was typed stays
    data["cond-value"][2] = "60"
    assert web.post("/assignment/rules/new/", data).status_code == 302
    rule = AssignmentRule.objects.get()
    assert rule.conditions == {
        "all": [
            {"field": "source", "op": "in", "value": ["exhibition", "web_form"]},
            {"field": "region", "op": "in", "value": ["44"]},
            {"field": "score", "op": "gte", "value": "60"},
        ]
    }
    assert [u.username for u in rule.ordered_members()] == ["rep2", "rep1"]
    listing = web.get("/assignment/").content.decode()
    assert "华南展会" in listing and "Rep2 → Rep1" in listing and "广东省" in listing
    # a rule without conditions is the default; one after it is flagged as never reached
    web.post(
        "/assignment/rules/new/",
        {"name": "兜底", "strategy": "users", "is_active": "on", "member": [reps[2].pk], "cond-mode": "rows"},
    )
    web.post(
        "/assignment/rules/new/",
        {"name": "多余", "strategy": "users", "is_active": "on", "member": [reps[2].pk], "cond-mode": "rows"},
    )
    listing = web.get("/assignment/").content.decode()
    assert listing.count('data-testid="fallback-only"') == 1
    edit = web.post(
        f"/assignment/rules/{rule.pk}/",
        {**data, "name": "华南展会（新）", "version": rule.version},
    )
    assert edit.status_code == 302
    entry = ChangeLog.objects.filter(object_type="assignment_rule", object_id=rule.pk).first()
    assert entry.action == "update" and entry.changes[0]["new"] == "华南展会（新）"
    assert "华南展会（新）" in web.get(f"/assignment/rules/{rule.pk}/").content.decode()
    last = AssignmentRule.objects.get(name="多余")
    web.post(f"/assignment/rules/{last.pk}/move/", {"direction": "up"})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["华南展会（新）", "多余", "兜底"]
    web.post(f"/assignment/rules/{last.pk}/delete/")
    assert not AssignmentRule.objects.filter(name="多余").exists()


def test_territory_page(org, reps, web_for):
    from assignment.models import Territory

    web = web_for(org.admin)
    form = web.get("/assignment/territories/new/").content.decode()
    assert "广东省" in form and "深圳市" in form
    response = web.post(
        "/assignment/territories/new/",
        {
            "name": "深圳",
            "distribution": "round_robin",
            "is_active": "on",
            "regions": ["4403"],
            "districts": "440106",
            "member": [reps[0].pk],
        },
    )
    assert response.status_code == 302
    assert Territory.objects.get().codes() == ["440106", "4403"]
    clash = web.post(
        "/assignment/territories/new/",
        {"name": "又一个", "distribution": "round_robin", "regions": ["4403"], "department": org.sh.pk},
    ).content.decode()
    assert 'data-field-error="regions"' in clash and "深圳" in clash
    nobody = web.post(
        "/assignment/territories/new/", {"name": "无人", "distribution": "round_robin", "regions": ["11"]}
    ).content.decode()
    assert 'data-field-error="members"' in nobody
    assert "天河区" in web.get("/assignment/territories/").content.decode()


def test_caps_page_and_api(org, reps, web_for, api_for):
    from assignment.models import LeadLimit

    web = web_for(org.admin)
    assert web.post("/assignment/caps/", {"user": reps[0].pk, "max_open_leads": 30}).status_code == 302
    assert LeadLimit.objects.get(user=reps[0]).max_open_leads == 30
    assert "Rep1" in web.get("/assignment/caps/").content.decode()
    assert web.post("/assignment/caps/", {"user": reps[0].pk, "max_open_leads": -1}).status_code == 200
    web.post("/assignment/caps/", {"remove": reps[0].pk})
    assert not LeadLimit.objects.exists()
    api = api_for(org.admin)
    assert api.put(f"/assignment/limits/{reps[1].pk}", {"max_open_leads": 5}).json_body["max_open_leads"] == 5
    assert api.put(f"/assignment/limits/{reps[1].pk}", {"max_open_leads": None}).status_code == 204
    assert api.put("/assignment/limits/999999", {"max_open_leads": 5}).status_code == 404


def test_openapi_documents_the_new_operations(client):
    schema = client.get("/api/v1/openapi.json").json()
    ids = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {
        "lead_convert",
        "lead_assign",
        "lead_qualification_get",
        "assignment_rule_create",
        "territory_create",
    } <= ids


def test_settings_lists_do_not_query_per_row(org, reps, web_for, django_assert_max_num_queries):
    from assignment import actions

    web = web_for(org.admin)

    def add(n, start):
        for i in range(start, start + n):
            fact = actions.create_fact(user=org.admin, data={"code": f"f{i}", "label": f"事实{i}"})
            actions.create_rule(
                user=org.admin,
                data={
                    "name": f"规则{i}",
                    "strategy": "round_robin",
                    "conditions": {"field": f"fact:{fact.code}", "op": "is_true"},
                },
                member_ids=[u.pk for u in reps],
            )
            actions.create_territory(
                user=org.admin,
                data={"name": f"区域{i}"},
                member_ids=[reps[i % 3].pk],
                codes=[["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34"][i]],
            )

    add(2, 0)
    counts = {}
    for path in ("/assignment/", "/assignment/territories/", "/assignment/qualification/"):
        with django_assert_max_num_queries(100) as q:
            assert web.get(path).status_code == 200
        counts[path] = len(q.captured_queries)
    add(10, 2)
    for path, n in counts.items():
        with django_assert_max_num_queries(n):
            assert web.get(path).status_code == 200
