"""Administrators configure the duplicate rules per object; everyone else may only read them."""

import json

import pytest

from core.choices import ObjectType, Scope
from dedupe.choices import RuleAction, RuleKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_role_user(org):
    user = org.user("boss", org.group, scope=Scope.ALL)
    user.roles.add(org.Role.objects.get_or_create(code="admin", defaults={"name": "系统管理员"})[0])
    return user


def test_defaults_report_only_except_a_repeated_credit_code(org, rep, api_for):
    rules = api_for(rep).get("/duplicates/rules").json_body
    by_kind = {(r["object"], r["kind"]): r for r in rules}
    assert by_kind[("account", "credit_code")]["action"] == "block"
    assert {r["action"] for k, r in by_kind.items() if k != ("account", "credit_code")} == {"allow"}
    assert {k[1] for k in by_kind if k[0] == "contact"} == {"phone", "email", "contact_name"}
    assert {k[1] for k in by_kind if k[0] == "lead"} == {"phone", "email", "name", "account_name"}


def test_an_admin_changes_rules_through_the_api_and_history_records_it(org, admin_role_user, api_for):
    from core.models import ChangeLog

    api = api_for(admin_role_user)
    response = api.put(
        "/duplicates/rules/lead",
        {
            "rules": [
                {"kind": "name", "action": "warn", "threshold": 90},
                {"kind": "phone", "action": "block", "conditions": {"field": "status", "op": "ne", "value": "invalid"}},
            ]
        },
    )
    assert response.status_code == 200, response.json_body
    rules = {r["kind"]: r for r in response.json_body}
    assert (rules["name"]["action"], rules["name"]["threshold"]) == ("warn", 90)
    assert rules["phone"]["conditions"] == {"all": [{"field": "status", "op": "ne", "value": "invalid"}]}
    assert rules["email"]["action"] == "allow"  # not mentioned: unchanged
    entry = ChangeLog.objects.filter(object_type="duplicate_rule").first()
    assert entry.actor == admin_role_user and entry.changes


def test_rules_reject_bad_values_field_by_field_and_write_nothing(org, api_for):
    from dedupe.models import DuplicateRule

    api = api_for(org.admin)
    response = api.put(
        "/duplicates/rules/contact",
        {
            "rules": [
                {"kind": "name", "action": "warn"},
                {"kind": "phone", "action": "explode"},
                {"kind": "email", "threshold": 20},
                {"kind": "contact_name", "conditions": {"field": "status", "op": "eq", "value": "x"}},
            ]
        },
    )
    assert response.status_code == 422
    assert set(response.json_body["errors"]) == {
        "rules[0].kind",
        "rules[1].action",
        "rules[2].threshold",
        "rules[3].conditions",
    }
    bad_condition = api.put(
        "/duplicates/rules/lead",
        {"rules": [{"kind": "name", "conditions": {"field": "secret", "op": "eq", "value": 1}}]},
    )
    assert bad_condition.status_code == 422 and "rules[0].conditions" in bad_condition.json_body["errors"]
    assert not DuplicateRule.objects.exists()


def test_only_admins_change_rules(org, rep, api_for, web_for):
    response = api_for(rep).put("/duplicates/rules/lead", {"rules": [{"kind": "name", "action": "block"}]})
    assert response.status_code == 403 and response.json_body["code"] == "permission_denied"
    assert web_for(rep).get("/duplicates/rules/").status_code == 403
    assert web_for(rep).post("/duplicates/rules/", {"object": "lead"}).status_code == 403


def test_the_settings_page_saves_rules_and_shows_errors_on_the_field(org, admin_role_user, web_for):
    from dedupe.service import rules_for

    web = web_for(admin_role_user)
    page = web.get("/duplicates/rules/", {"object": "account"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="credit_code-action"' in html and 'name="name-threshold"' in html
    form = {
        "object": "account",
        "credit_code-is_active": "on",
        "credit_code-action": "block",
        "phone-is_active": "on",
        "phone-action": "warn",
        "name-is_active": "on",
        "name-action": "warn",
        "name-threshold": "92",
        "name-conditions": "",
    }
    saved = web.post("/duplicates/rules/", form)
    assert saved.status_code == 302
    rules = {r.kind: r for r in rules_for(ObjectType.ACCOUNT)}
    assert rules[RuleKind.PHONE].action == RuleAction.WARN and rules[RuleKind.NAME].threshold == 92
    assert "85 → 92" in web.get("/duplicates/rules/", {"object": "account"}).content.decode()  # recent changes
    bad = web.post("/duplicates/rules/", {**form, "name-threshold": "30", "name-conditions": "{not json"})
    html = bad.content.decode()
    assert bad.status_code == 200 and 'data-field-error="name-threshold"' in html
    bad = web.post("/duplicates/rules/", {**form, "name-conditions": '{"field": "nope", "op": "eq", "value": 1}'})
    assert 'data-field-error="name-conditions"' in bad.content.decode()
    assert rules_for(ObjectType.ACCOUNT)[2].threshold == 92


def test_the_settings_page_edits_which_records_a_rule_compares_with_as_rows(org, admin_role_user, web_for):
    """The lead name rule compares only with leads from exhibitions or referrals; the account-name rule
    of leads looks at accounts, so its builder offers account fields."""
    from dedupe.service import rules_for

    web = web_for(admin_role_user)
    html = web.get("/duplicates/rules/", {"object": "lead"}).content.decode()
    assert 'name="name-cond-field"' in html and 'name="account_name-cond-field"' in html
    assert 'data-rule-conditions="phone"' in html and 'name="contact_name-cond-field"' not in html
    base = {
        "object": "lead",
        **{f"{kind}-action": "allow" for kind in ("phone", "email", "name", "account_name")},
        "name-is_active": "on",
        "name-action": "block",
        "name-threshold": "85",
        "account_name-threshold": "85",
        "name-cond-mode": "rows",
        "name-cond-combinator": "all",
        "name-cond-outer": "all",
    }
    rows = {"name-cond-field": ["source", ""], "name-cond-op": ["in", "eq"], "name-cond-value": ["火星", ""]}
    bad = web.post("/duplicates/rules/", {**base, **rows, "name-cond-group": ["1", "1"]})
    html = bad.content.decode()
    assert bad.status_code == 200 and "Row 1:" in html and "火星" in html  # no such source: shown on its row
    assert rules_for(ObjectType.LEAD)[2].conditions == {}
    rows["name-cond-value"] = ["展会, referral", ""]  # a label as shown (展会) or a code
    saved = web.post("/duplicates/rules/", {**base, **rows, "name-cond-group": ["1", "1"]})
    assert saved.status_code == 302
    name_rule = rules_for(ObjectType.LEAD)[2]
    assert name_rule.action == "block"
    assert name_rule.conditions == {"all": [{"field": "source", "op": "in", "value": ["exhibition", "referral"]}]}
    page = web.get("/duplicates/rules/", {"object": "lead"}).content.decode()
    assert '<option value="source" selected>' in page and 'value="exhibition, referral"' in page
    assert "1 condition" in page
    # a value a row's box would split (it holds a comma) opens as JSON and is saved back unchanged
    from dedupe.models import DuplicateRule

    kept_value = {"all": [{"field": "campaign", "op": "in", "value": ["2026春季展，上海站"]}]}
    DuplicateRule.objects.filter(object_type="lead", kind="name").update(conditions=kept_value)
    page = web.get("/duplicates/rules/", {"object": "lead"}).content.decode()
    assert 'name="name-cond-mode" value="json" checked' in page
    same = {k: v for k, v in base.items() if not k.startswith("name-cond-")}
    same.update({"name-cond-mode": "json", "name-cond-json": json.dumps(kept_value, ensure_ascii=False)})
    assert web.post("/duplicates/rules/", same).status_code == 302
    assert rules_for(ObjectType.LEAD)[2].conditions == kept_value
    DuplicateRule.objects.filter(object_type="lead", kind="name").update(conditions=name_rule.conditions)
    # a post without the builder's fields (an older client) keeps the stored set
    kept = {k: v for k, v in base.items() if not k.startswith("name-cond-")}
    assert web.post("/duplicates/rules/", kept).status_code == 302
    assert rules_for(ObjectType.LEAD)[2].conditions == name_rule.conditions
