"""The rule evaluator: only allow-listed fields and operators, the same answer in Python and SQL."""

import pytest
from django.core.exceptions import ValidationError

from core import conditions as c
from core.choices import ObjectType

LEAD = ObjectType.LEAD


@pytest.mark.parametrize(
    "bad",
    [
        {"field": "owner__password", "op": "eq", "value": "x"},
        {"field": "__class__", "op": "eq", "value": "x"},
        {"field": "source", "op": "gt", "value": "web_form"},
        {"field": "source", "op": "eq", "value": "nonsense"},
        {"field": "score", "op": "gte", "value": "high"},
        {"field": "score", "op": "gte", "value": "NaN"},  # compares with nothing: every page using it would fail
        {"field": "score", "op": "in", "value": ["1", "sNaN"]},
        {"field": "score", "op": "lt", "value": "Infinity"},
        {"field": "source", "op": ["eq"], "value": "api"},
        {"field": "source", "op": {"eq": 1}, "value": "api"},
        {"field": "region", "op": "in", "value": ["4"]},
        {"field": "source", "op": "in", "value": []},
        {"field": "source", "op": "eq"},
        {"all": {"field": "source"}},
        {"all": [], "any": []},
        {"field": "source", "op": "eq", "value": "api", "extra": 1},
        {"field": "fact:bad-code!", "op": "is_true"},
        "source == 'api'",
    ],
)
def test_rules_outside_the_allow_list_are_refused_when_saved(bad):
    with pytest.raises(ValidationError):
        c.validate(bad, LEAD)


def test_nesting_and_size_are_limited():
    deep = {"field": "score", "op": "gt", "value": 1}
    for _ in range(c.MAX_DEPTH + 2):
        deep = {"not": deep}
    with pytest.raises(ValidationError):
        c.validate(deep, LEAD)
    with pytest.raises(ValidationError):
        c.validate({"any": [{"field": "score", "op": "gt", "value": i} for i in range(c.MAX_NODES + 1)]}, LEAD)


QUALIFICATION = {
    "all": [
        {
            "any": [
                {"field": "fact:product_fits", "op": "is_true"},
                {"field": "fact:has_project", "op": "is_true"},
                {"field": "fact:tech_fits", "op": "is_true"},
            ]
        },
        {"any": [{"field": "fact:credit_good", "op": "is_true"}, {"field": "fact:scale_sound", "op": "is_true"}]},
    ]
}


@pytest.mark.parametrize(
    "facts, expected",
    [
        ({"has_project": True, "scale_sound": True}, True),
        ({"has_project": True}, False),
        ({"credit_good": True}, False),
        ({"tech_fits": True, "credit_good": True}, True),
        ({}, False),
    ],
)
def test_and_or_groups_evaluate_like_the_industrial_evaluation_rule(facts, expected):
    rule = c.validate(QUALIFICATION, LEAD)
    assert c.evaluate(rule, {"facts": facts}, LEAD) is expected
    explained = c.explain(rule, {"facts": facts}, LEAD)
    assert explained["holds"] is expected and len(explained["children"]) == 2


@pytest.mark.django_db
def test_python_and_sql_agree(org):
    from leads.models import Lead

    rows = [
        Lead.objects.create(company="甲", source="web_form", province_code="44", city_code="4403", score=70),
        Lead.objects.create(company="乙", source="exhibition", province_code="11", score=20, campaign="展会2026"),
        Lead.objects.create(company="丙", source="api", facts={"has_project": True}, score=90),
        Lead.objects.create(company="丁", source="referral", province_code="44", city_code="4401", email="a@b.cn"),
    ]
    rules = [
        {"field": "region", "op": "in", "value": ["4403"]},
        {"field": "region", "op": "in", "value": ["44"]},
        {"field": "region", "op": "not_in", "value": ["44"]},
        {"any": [{"field": "score", "op": "gte", "value": 60}, {"field": "fact:has_project", "op": "is_true"}]},
        {"not": {"field": "source", "op": "in", "value": ["api", "web_form"]}},
        {"field": "campaign", "op": "contains", "value": "展会"},
        {"field": "email", "op": "is_empty"},
        {"all": [{"field": "score", "op": "lt", "value": 80}, {"field": "source", "op": "ne", "value": "referral"}]},
        {},
    ]
    for raw in rules:
        rule = c.validate(raw, LEAD)
        in_python = {lead.pk for lead in rows if c.evaluate(rule, lead, LEAD)}
        in_sql = set(Lead.objects.filter(c.to_q(rule, LEAD)).values_list("pk", flat=True))
        assert in_python == in_sql, raw
    assert {lead.company for lead in rows if c.evaluate(c.validate(rules[1], LEAD), lead, LEAD)} == {"甲", "丁"}


@pytest.mark.django_db
def test_notifications_reach_active_users_once(org, web_for):
    from core.notify import notify, unread_count

    rep = org.user("rep", org.sh)
    gone = org.user("gone", org.sh)
    gone.is_active = False
    gone.save()
    assert notify(users=[rep, rep, gone], kind="lead_assigned", title="新线索：甲公司", url="/leads/1/") == 1
    assert unread_count(rep) == 1
    page = web_for(rep).get("/notifications/").content.decode()
    assert "新线索：甲公司" in page
    assert unread_count(rep) == 0


@pytest.mark.parametrize(
    "conditions",
    [
        {"all": [{"field": "source", "op": "in", "value": ["exhibition", "website"]}]},
        {
            "any": [
                {"field": "source", "op": "not_in", "value": ["exhibition"]},
                {"field": "score", "op": "gte", "value": 50},
            ]
        },
        {"not": {"field": "region", "op": "in", "value": ["44"]}},
        {"all": [{"field": "company", "op": "contains", "value": "科技"}, {"field": "phone", "op": "not_empty"}]},
        {"all": [{"field": "campaign", "op": "is_empty"}, {"field": "industry", "op": "in", "value": ["it"]}]},
        {"all": [{"field": "no_such_field", "op": "eq", "value": "x"}]},
    ],
)
def test_a_compiled_predicate_answers_like_evaluate(conditions):
    """Imports check rules with `predicate`, pages with `evaluate`: they must never disagree."""
    from core.conditions import evaluate, predicate

    records = [
        {
            "source": "exhibition",
            "score": 10,
            "province_code": "44",
            "city_code": "4403",
            "district_code": "",
            "company": "深圳科技",
            "phone": "+8613800138000",
            "campaign": "",
            "industry": "it",
        },
        {
            "source": "website",
            "score": 80,
            "province_code": "11",
            "city_code": "",
            "district_code": "",
            "company": "北京贸易",
            "phone": "",
            "campaign": "春季",
            "industry": "",
        },
        {
            "source": "",
            "score": None,
            "province_code": "",
            "city_code": "",
            "district_code": "",
            "company": "",
            "phone": "",
            "campaign": "",
            "industry": "it",
        },
    ]
    check = predicate(conditions, "lead")
    assert [check(r) for r in records] == [evaluate(conditions, r, "lead") for r in records]
