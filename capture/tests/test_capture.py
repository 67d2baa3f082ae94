"""Public web forms: anyone can leave a lead; bots and floods cannot."""

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
