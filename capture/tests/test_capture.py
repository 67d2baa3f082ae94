"""Public web forms: anyone can leave a lead; bots and floods cannot."""

import json
import time

import pytest
from django.core.cache import cache
from django.test import Client

from capture.actions import form_timer
from capture.models import FormSubmission, WebForm
from core.choices import Scope
from leads.models import Lead

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def web_form(org):
    rep = org.user("formrep", org.sh, scope=Scope.OWN)
    return WebForm.objects.create(
        name="官网试用",
        title="申请试用",
        run_as=rep,
        campaign="2026 秋季",
        rate_limit_per_hour=3,
        fields=[
            {"name": "company", "required": True},
            {"name": "contact_name", "required": True},
            {"name": "phone", "required": False},
            {"name": "email", "required": False},
        ],
    )


def old_timer():
    from django.core import signing

    return signing.dumps(int(time.time()) - 30, salt="capture.form-timer")


def post(client, form, **data):
    return client.post(f"/f/{form.key}/", {"timer": old_timer(), **data}, REMOTE_ADDR=data.pop("ip", "10.0.0.1"))


def test_visitor_leaves_a_lead_without_logging_in(web_form):
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/f/{web_form.key}/")
    assert page.status_code == 200 and "申请试用" in page.content.decode()
    assert "X-Frame-Options" not in page  # embeddable
    response = post(client, web_form, company="深圳市华为技术有限公司", contact_name="张三", phone="13800138000")
    assert response.status_code == 200 and 'data-testid="thanks"' in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.company, lead.source, lead.campaign, lead.phone) == (
        "深圳市华为技术有限公司",
        "web_form",
        "2026 秋季",
        "+8613800138000",
    )
    assert lead.created_by == web_form.run_as
    assert FormSubmission.objects.get().outcome == "created"


def test_missing_and_bad_fields_are_shown_and_nothing_is_created(web_form):
    response = post(Client(), web_form, company="", contact_name="张三", phone="123")
    page = response.content.decode()
    assert 'data-field-error="company"' in page
    response = post(Client(), web_form, company="甲公司", contact_name="张三", phone="123")
    assert 'data-field-error="phone"' in response.content.decode()
    assert not Lead.objects.exists()


def test_honeypot_and_speed_catch_bots_without_telling_them(web_form):
    client = Client()
    response = post(client, web_form, company="垃圾公司", contact_name="x", website="http://spam")
    assert 'data-testid="thanks"' in response.content.decode()
    fast = client.post(f"/f/{web_form.key}/", {"company": "机器人", "contact_name": "x", "timer": form_timer()})
    assert 'data-testid="thanks"' in fast.content.decode()
    no_timer = client.post(f"/f/{web_form.key}/", {"company": "机器人", "contact_name": "x"})
    assert 'data-testid="thanks"' in no_timer.content.decode()
    assert not Lead.objects.exists()
    assert set(FormSubmission.objects.values_list("outcome", flat=True)) == {"spam"}


def test_each_visitor_is_rate_limited_per_form(web_form):
    client = Client()
    for i in range(3):
        assert post(client, web_form, company=f"公司{i}", contact_name="张三").status_code == 200
    refused = post(client, web_form, company="公司9", contact_name="张三")
    assert refused.status_code == 429
    assert post(client, web_form, company="别家", contact_name="李四", ip="10.0.0.2").status_code == 200
    assert Lead.objects.count() == 4


def test_json_submission_for_embedding(web_form):
    client = Client()
    ok = client.post(
        f"/f/{web_form.key}/", {"company": "甲公司", "contact_name": "王五"}, content_type="application/json"
    )
    assert ok.status_code == 201 and ok.json()["ok"] is True
    bad = client.post(f"/f/{web_form.key}/", {"contact_name": "王五"}, content_type="application/json")
    assert bad.status_code == 422 and "company" in bad.json()["errors"]
    assert client.post(f"/f/{web_form.key}/", "[1,2]", content_type="application/json").status_code == 400


def test_closed_and_unknown_forms_are_not_found(web_form):
    web_form.is_active = False
    web_form.save()
    assert Client().get(f"/f/{web_form.key}/").status_code == 404
    assert Client().get("/f/nope/").status_code == 404


def test_admins_manage_forms_in_the_ui_and_api(org, web_form, web_for, api_for):
    rep = org.user("plainrep", org.sh, scope=Scope.OWN)
    assert web_for(rep).get("/f/forms/").status_code == 403
    assert api_for(rep).get("/forms/").status_code == 403
    admin = web_for(org.admin)
    assert "官网试用" in admin.get("/f/forms/").content.decode()
    response = admin.post(
        "/f/forms/new/",
        {
            "name": "展会登记",
            "title": "展会登记",
            "source": "exhibition",
            "run_as": web_form.run_as_id,
            "rate_limit_per_hour": 10,
            "is_active": "on",
            "ask_company": "on",
            "require_company": "on",
            "ask_phone": "on",
            "require_phone": "on",
        },
    )
    assert response.status_code == 302
    created = WebForm.objects.get(name="展会登记")
    assert created.fields == [{"name": "company", "required": True}, {"name": "phone", "required": True}]
    api = api_for(org.admin)
    r = api.post(
        "/forms/",
        {
            "name": "API 表单",
            "title": "联系我们",
            "run_as_id": web_form.run_as_id,
            "fields": [{"name": "company", "required": True}, {"name": "nope"}],
        },
    )
    assert r.status_code == 422 and "fields" in r.json_body["errors"]
    nobody = org.user("cannotcreate", org.sh)
    r = api.post(
        "/forms/",
        {
            "name": "API 表单",
            "title": "联系我们",
            "run_as_id": nobody.pk,
            "fields": [{"name": "company", "required": True}],
        },
    )
    assert r.status_code == 422 and "run_as_id" in r.json_body["errors"]


@pytest.mark.parametrize("visible_to_form_user", [False, True])
def test_a_blocked_duplicate_goes_to_the_existing_lead_and_nothing_about_it_is_told(
    org, web_form, visible_to_form_user
):
    """A blocking rule keeps a second lead out: the submission lands in the existing lead's history and
    its owner is told; the visitor gets the same thanks and learns nothing."""
    from core.models import ChangeLog, Notification
    from dedupe.models import DuplicateRule
    from leads.actions import create_lead

    DuplicateRule.objects.create(object_type="lead", kind="phone", action="block", threshold=100)
    secret_rep = org.user("secretrep", org.south, scope=Scope.OWN)
    if visible_to_form_user:  # the form's user sees the whole company: the check would name the record
        web_form.run_as.roles.set([org.role(Scope.ALL)])
    create_lead(user=secret_rep, data={"company": "绝密客户有限公司", "phone": "13800138000", "owner": secret_rep})
    page = post(Client(), web_form, company="访客公司", contact_name="张三", phone="13800138000")
    json_answer = Client().post(
        f"/f/{web_form.key}/",
        {"company": "另一访客", "contact_name": "李四", "phone": "13800138000"},
        content_type="application/json",
        REMOTE_ADDR="10.0.0.2",
    )
    assert page.status_code == 200 and 'data-testid="thanks"' in page.content.decode()
    assert json_answer.status_code == 201 and json_answer.json()["ok"] is True
    for body in (page.content.decode(), json.dumps(json_answer.json(), ensure_ascii=False)):
        assert "绝密客户有限公司" not in body and "Secretrep" not in body and "华南分公司" not in body
    assert list(Lead.objects.filter(phone="+8613800138000").values_list("company", flat=True)) == ["绝密客户有限公司"]
    secret = Lead.objects.get(company="绝密客户有限公司")
    assert list(FormSubmission.objects.values_list("outcome", "detail", "lead")) == [
        ("matched", "duplicate", secret.pk),
        ("matched", "duplicate", secret.pk),
    ]
    notes = list(
        ChangeLog.objects.filter(object_type="lead", object_id=secret.pk, actor=None).values_list("note", flat=True)
    )
    assert len(notes) == 2 and any("访客公司" in n and "张三" in n for n in notes)
    assert all(n.startswith(f"Filled in the web form “{web_form.name}” again — ") for n in notes)
    told = Notification.objects.filter(user=secret_rep, kind="form_resubmitted")
    assert told.count() == 2 and all(n.url == f"/leads/{secret.pk}/" for n in told)


def test_a_duplicate_a_rule_only_warns_about_is_kept(org, web_form):
    from dedupe.models import DuplicateRule
    from leads.actions import create_lead

    DuplicateRule.objects.create(object_type="lead", kind="phone", action="warn", threshold=100)
    create_lead(user=org.admin, data={"company": "老线索有限公司", "phone": "13800138000"})
    assert post(Client(), web_form, company="访客公司", contact_name="张三", phone="13800138000").status_code == 200
    assert Lead.objects.filter(phone="+8613800138000").count() == 2
    assert list(FormSubmission.objects.values_list("outcome", "detail")) == [("created", "possible_duplicate")]


def test_rate_limit_counts_the_address_the_proxy_saw_not_the_one_the_client_wrote(web_form, settings):
    settings.TIDE_TRUST_X_FORWARDED_FOR = True
    client = Client()
    answers = [
        client.post(
            f"/f/{web_form.key}/",
            {"timer": old_timer(), "company": f"公司{i}", "contact_name": "张三"},
            HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 9.9.9.9",
        ).status_code
        for i in range(6)
    ]
    assert answers == [200, 200, 200, 429, 429, 429]
    assert Lead.objects.count() == 3


def test_json_values_that_are_not_text_are_refused_per_field(web_form):
    client = Client()
    url = f"/f/{web_form.key}/"
    for payload in (
        {"company": ["a", "b"], "contact_name": "王五"},
        {"company": {"name": "甲公司"}, "contact_name": "王五"},
        {"company": 42, "contact_name": "王五"},
    ):
        answer = client.post(url, payload, content_type="application/json")
        assert answer.status_code == 422, payload
        assert answer.json()["errors"] == {"company": ["Enter this value as text."]}
    assert not Lead.objects.exists()
    assert set(FormSubmission.objects.values_list("outcome", flat=True)) == {"invalid"}


def test_null_characters_are_refused_and_nothing_is_stored(web_form):
    answer = Client().post(
        f"/f/{web_form.key}/", {"company": "a\x00b", "contact_name": "王五"}, content_type="application/json"
    )
    assert answer.status_code == 422 and list(answer.json()["errors"]) == ["company"]
    page = post(Client(), web_form, company="甲公司", contact_name="王\x00五", ip="10.0.0.3")
    assert page.status_code == 200 and 'data-field-error="contact_name"' in page.content.decode()
    assert "Null characters are not allowed." in page.content.decode()
    assert not Lead.objects.exists()


def test_deeply_nested_json_is_answered_as_invalid_json(web_form):
    answer = Client().post(f"/f/{web_form.key}/", "[" * 200000, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["code"] == "validation_error"
    assert not Lead.objects.exists()


def test_an_oversized_json_body_is_answered_in_json(web_form, settings):
    body = '{"company": "' + "大" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 3 + 1) + '"}'
    answer = Client().post(f"/f/{web_form.key}/", body.encode(), content_type="application/json")
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"
    assert not Lead.objects.exists()


def test_a_missing_field_is_reported_once(web_form):
    page = post(Client(), web_form, company="", contact_name="张三")
    assert page.content.decode().count('data-field-error="company"') == 1
