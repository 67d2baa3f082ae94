"""Qualification as reps and administrators meet it: the classic industrial rule seeded on install,
facts ticked on the lead page, the level reached with ✓/✗ per criterion, the same over the API."""

import re

import pytest

from core.choices import Scope

pytestmark = pytest.mark.django_db

POTENTIAL = "潜在客户"
QUALIFIED = "合格线索"


@pytest.fixture
def rep(org):
    return org.user("rep", org.sh, scope=Scope.OWN)


@pytest.fixture
def lead(rep):
    from leads.models import Lead

    return Lead.objects.create(company="华东电力设计院", owner=rep, status="new")


def test_a_fresh_install_has_the_classic_rule_and_facts():
    from assignment.models import QualificationFact, QualificationLevel

    assert list(QualificationLevel.objects.values_list("name", "lead_status")) == [
        (POTENTIAL, ""),
        (QUALIFIED, "qualified"),
    ]
    assert set(QualificationFact.objects.values_list("code", flat=True)) == {
        "product_fits",
        "has_project",
        "tech_fits",
        "credit_good",
        "scale_sound",
        "reached_user_dept",
        "reached_decider",
        "need_real",
    }


@pytest.mark.parametrize(
    "facts, level",
    [
        ({}, None),
        ({"has_project": True}, None),
        ({"credit_good": True, "scale_sound": True}, None),
        ({"product_fits": True, "credit_good": True}, POTENTIAL),
        ({"tech_fits": True, "scale_sound": True}, POTENTIAL),
        ({"has_project": True, "scale_sound": True, "reached_user_dept": True, "reached_decider": True}, POTENTIAL),
        (
            {
                "has_project": True,
                "scale_sound": True,
                "reached_user_dept": True,
                "reached_decider": True,
                "need_real": True,
            },
            QUALIFIED,
        ),
        # the qualified criteria alone do not make a potential customer, so no level is reached
        ({"reached_user_dept": True, "reached_decider": True, "need_real": True}, None),
    ],
)
def test_levels_follow_the_classic_industrial_rule(lead, facts, level):
    from leads.actions import lead_qualification

    lead.facts = facts
    result = lead_qualification(lead=lead)
    assert (result["level"] or {}).get("name") == level


def test_each_criterion_shows_whether_it_holds(lead):
    from leads.actions import lead_qualification

    lead.facts = {"has_project": True, "reached_decider": True}
    potential, qualified = lead_qualification(lead=lead)["levels"]
    fits, health = potential["criteria"]["children"]
    assert fits["group"] == "any" and fits["holds"] is True
    assert [(c["label"], c["holds"]) for c in fits["children"]] == [
        ("产品适合客户所在行业", False),
        ("客户有项目", True),
        ("技术路线匹配", False),
    ]
    assert health["holds"] is False and potential["holds"] is False and potential["reached"] is False
    assert [c["holds"] for c in qualified["criteria"]["children"]] == [False, True, False]


def test_ticking_facts_on_the_lead_page_qualifies_the_lead(org, rep, lead, web_for):
    from core.models import ChangeLog

    web = web_for(rep)
    page = web.get(f"/leads/{lead.pk}/").content.decode()
    assert 'data-testid="qualification"' in page and "客户有项目" in page and "No level reached yet" in page
    ticks = ["has_project", "credit_good", "reached_user_dept", "reached_decider", "need_real"]
    response = web.post(f"/leads/{lead.pk}/facts/", {"fact": ticks, "version": lead.version})
    assert response.status_code == 302 and response["Location"].endswith("#qualification")
    lead.refresh_from_db()
    assert lead.facts["has_project"] is True and lead.facts["tech_fits"] is False
    assert lead.status == "qualified"
    page = web.get(f"/leads/{lead.pk}/").content.decode()
    panel = page[page.index('id="qualification"') :]
    assert 'data-testid="qualification-message">Facts saved; the lead is now' in panel  # said where one looks
    assert f'data-testid="level">{QUALIFIED}' in page
    assert page.count('data-holds="true"') == 5
    entry = ChangeLog.objects.filter(object_type="lead", object_id=lead.pk, action="update").latest("at")
    changes = {c["label"]: (c["old"], c["new"]) for c in entry.changes}
    assert changes["客户有项目"] == ("✗", "✓") and "status" in {c["field"] for c in entry.changes}
    # unticking never demotes a lead, and a stale form is refused
    web.post(f"/leads/{lead.pk}/facts/", {"fact": ["has_project"], "version": lead.version})
    lead.refresh_from_db()
    assert lead.status == "qualified" and lead.facts["need_real"] is False
    stale = web.post(f"/leads/{lead.pk}/facts/", {"fact": [], "version": 1}, follow=True).content.decode()
    assert "Someone else changed this record" in stale
    # a version that is no number at all is the form's mistake, not a crash
    broken = web.post(f"/leads/{lead.pk}/facts/", {"fact": [], "version": "abc"}, follow=True)
    assert broken.status_code == 200 and "version" in broken.content.decode()
    lead.refresh_from_db()
    assert lead.facts["has_project"] is True


def test_closed_leads_keep_their_status(rep, lead):
    from leads.actions import set_lead_facts

    lead.status = "invalid"
    lead.invalid_reason = "no_need"
    lead.save()
    facts = {
        "has_project": True,
        "credit_good": True,
        "reached_user_dept": True,
        "reached_decider": True,
        "need_real": True,
    }
    saved = set_lead_facts(lead=lead, user=rep, facts=facts)
    assert saved.status == "invalid"


def test_qualification_over_the_api(org, rep, lead, api_for, web_for):
    api = api_for(rep)
    r = api.get(f"/leads/{lead.pk}/qualification")
    assert r.status_code == 200 and r.json_body["level"] is None and r["ETag"] == f'"{lead.version}"'
    assert {f["code"] for f in r.json_body["facts"]} >= {"has_project", "need_real"}
    r = api.patch(
        f"/leads/{lead.pk}/qualification",
        {"facts": {"product_fits": True, "scale_sound": True}},
        headers={"If-Match": r["ETag"]},
    )
    assert r.status_code == 200 and r.json_body["level"]["name"] == POTENTIAL
    assert r.json_body["levels"][0]["reached"] is True and r.json_body["status"] == "new"
    # a stale ETag, an unknown fact, a non-boolean: refused, nothing written
    assert (
        api.patch(
            f"/leads/{lead.pk}/qualification", {"facts": {"need_real": True}}, headers={"If-Match": '"1"'}
        ).status_code
        == 412
    )
    bad = api.patch(f"/leads/{lead.pk}/qualification", {"facts": {"no_such_fact": True}})
    assert bad.status_code == 422 and "facts" in bad.json_body["errors"]
    assert api.patch(f"/leads/{lead.pk}/qualification", {"facts": {"need_real": "maybe"}}).status_code == 422
    lead.refresh_from_db()
    assert "need_real" not in lead.facts and "no_such_fact" not in lead.facts
    # permissions: someone who cannot see the lead gets 404, a viewer cannot tick
    other = org.user("other", org.sh, scope=Scope.OWN)
    assert api_for(other).get(f"/leads/{lead.pk}/qualification").status_code == 404
    viewer = org.user("viewer", org.sh, scope=Scope.DEPARTMENT, actions=("view",))
    assert api_for(viewer).get(f"/leads/{lead.pk}/qualification").status_code == 200
    assert api_for(viewer).patch(f"/leads/{lead.pk}/qualification", {"facts": {"need_real": True}}).status_code == 404
    html = web_for(viewer).get(f"/leads/{lead.pk}/").content.decode()
    assert 'name="fact"' not in html and POTENTIAL in html


def test_administrators_define_facts_and_levels(org, rep, api_for, web_for):
    api = api_for(org.admin)
    r = api.post("/assignment/qualification/facts", {"code": "budget_ok", "label": "预算已落实"})
    assert r.status_code == 201
    assert api.post("/assignment/qualification/facts", {"code": "budget_ok", "label": "重复"}).status_code == 422
    assert api.post("/assignment/qualification/facts", {"code": "Bad Code", "label": "x"}).status_code == 422
    r = api.post(
        "/assignment/qualification/levels",
        {"name": "高意向", "conditions": {"field": "fact:budget_ok", "op": "is_true"}, "lead_status": "contacted"},
    )
    assert r.status_code == 201 and r.json_body["order"] == 30
    unknown = api.post(
        "/assignment/qualification/levels", {"name": "x", "conditions": {"field": "fact:nope", "op": "is_true"}}
    )
    assert unknown.status_code == 422 and "nope" in unknown.json_body["errors"]["conditions"][0]
    wrong = api.post(
        "/assignment/qualification/levels",
        {"name": "x", "conditions": {"field": "score", "op": "gte", "value": "high"}},
    )
    assert wrong.status_code == 422 and "conditions" in wrong.json_body["errors"]
    in_use = api.delete(
        f"/assignment/qualification/facts/{api.get('/assignment/qualification/facts').json_body[-1]['id']}"
    )
    assert in_use.status_code == 409 and in_use.json_body["code"] == "fact_in_use"
    # reps may not change the settings
    assert api_for(rep).get("/assignment/qualification/levels").status_code == 403
    assert web_for(rep).get("/assignment/qualification/").status_code == 403
    page = web_for(org.admin).get("/assignment/qualification/").content.decode()
    assert "预算已落实" in page and "高意向" in page and QUALIFIED in page


def test_level_form_builds_criteria_from_rows_and_shows_errors_per_row(org, web_for):
    from assignment.models import QualificationLevel

    web = web_for(org.admin)
    assert web.get("/assignment/qualification/levels/new/").status_code == 200
    data = {
        "name": "大单",
        "order": "",
        "lead_status": "",
        "is_active": "on",
        "cond-mode": "rows",
        "cond-combinator": "any",
        "cond-field": ["fact:has_project", "score", ""],
        "cond-op": ["is_true", "gte", "eq"],
        "cond-value": ["", "lots", ""],
    }
    page = web.post("/assignment/qualification/levels/new/", data).content.decode()
    assert 'data-testid="row-error"' in page and "Row 2" in page and "enter a number" in page
    assert not QualificationLevel.objects.filter(name="大单").exists()
    data["cond-value"] = ["", "80", ""]
    assert web.post("/assignment/qualification/levels/new/", data).status_code == 302
    level = QualificationLevel.objects.get(name="大单")
    assert level.conditions == {
        "any": [{"field": "fact:has_project", "op": "is_true"}, {"field": "score", "op": "gte", "value": "80"}]
    }
    # broken JSON is an error, not a 500
    classic = QualificationLevel.objects.get(name=POTENTIAL)
    broken = web.post(
        f"/assignment/qualification/levels/{classic.pk}/",
        {
            "name": POTENTIAL,
            "lead_status": "",
            "is_active": "on",
            "cond-mode": "json",
            "cond-json": "{not json",
            "version": classic.version,
        },
    )
    assert broken.status_code == 200 and "Enter valid JSON." in broken.content.decode()


def _row_groups(page: str) -> list[tuple[str, str]]:
    """(group, field) of every filled row of the condition builder on a page."""
    found = re.findall(
        r'name="cond-group"[^>]*>(.*?)</select>.*?name="cond-field"[^>]*>(.*?)</select>', page, flags=re.DOTALL
    )
    rows = []
    for groups, fields in found:
        group = re.search(r'value="(\d+)" selected', groups)
        field = re.search(r'value="([^"]+)" selected', fields)
        if field:
            rows.append((group.group(1) if group else "1", field.group(1)))
    return rows


def test_the_classic_rule_is_edited_as_groups_of_rows(org, web_for):
    """(product fits OR has a project OR technology fits) AND (credit good OR scale sound): groups 1 and 2,
    rows combined with OR, groups with AND; an admin builds and changes it without writing JSON."""
    from assignment.models import QualificationLevel

    web = web_for(org.admin)
    classic = QualificationLevel.objects.get(name=POTENTIAL)
    page = web.get(f"/assignment/qualification/levels/{classic.pk}/").content.decode()
    assert 'value="rows" checked' in page
    assert _row_groups(page) == [
        ("1", "fact:product_fits"),
        ("1", "fact:has_project"),
        ("1", "fact:tech_fits"),
        ("2", "fact:credit_good"),
        ("2", "fact:scale_sound"),
    ]
    assert re.search(r'name="cond-combinator".*?value="any" selected', page, flags=re.DOTALL)
    assert re.search(r'name="cond-outer".*?value="all" selected', page, flags=re.DOTALL)
    data = {
        "name": "新分级",
        "lead_status": "",
        "is_active": "on",
        "cond-mode": "rows",
        "cond-combinator": "any",
        "cond-outer": "all",
        "cond-group": ["1", "1", "2", "2", "1"],
        "cond-field": ["fact:product_fits", "fact:has_project", "fact:credit_good", "score", ""],
        "cond-op": ["is_true", "is_true", "is_true", "gte", "eq"],
        "cond-value": ["", "", "", "many", ""],
    }
    page = web.post("/assignment/qualification/levels/new/", data).content.decode()
    assert "Row 4: enter a number." in page  # an error deep in group 2 lands on its row
    data["cond-value"] = ["", "", "", "60", ""]
    assert web.post("/assignment/qualification/levels/new/", data).status_code == 302
    assert QualificationLevel.objects.get(name="新分级").conditions == {
        "all": [
            {"any": [{"field": "fact:product_fits", "op": "is_true"}, {"field": "fact:has_project", "op": "is_true"}]},
            {"any": [{"field": "fact:credit_good", "op": "is_true"}, {"field": "score", "op": "gte", "value": "60"}]},
        ]
    }
    # groups that combine their rows in different ways, or a NOT, still open as JSON
    QualificationLevel.objects.filter(name="新分级").update(
        conditions={
            "any": [
                {"all": [{"field": "score", "op": "gte", "value": 1}, {"field": "score", "op": "lte", "value": 9}]},
                {"any": [{"field": "score", "op": "gte", "value": 50}, {"field": "score", "op": "lte", "value": 0}]},
            ]
        }
    )
    level = QualificationLevel.objects.get(name="新分级")
    assert 'value="json" checked' in web.get(f"/assignment/qualification/levels/{level.pk}/").content.decode()
    # so does a set with an empty group, which can never hold: rows would drop it and change its meaning
    never = {"all": [{"any": []}, {"field": "score", "op": "gte", "value": 1}]}
    QualificationLevel.objects.filter(pk=level.pk).update(conditions=never)
    assert 'value="json" checked' in web.get(f"/assignment/qualification/levels/{level.pk}/").content.decode()
