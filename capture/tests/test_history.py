"""A web form's settings history: who created or changed it, and which fields from what to what."""

import json

import pytest

from capture.actions import save_form
from capture.choices import WEB_FORM_HISTORY_TYPE
from capture.models import WebForm
from core.choices import Scope
from core.models import ChangeLog

pytestmark = pytest.mark.django_db


def entries(form):
    return list(ChangeLog.objects.filter(object_type=WEB_FORM_HISTORY_TYPE, object_id=form.pk).order_by("at", "id"))


def as_text(form) -> str:
    return json.dumps(
        [[e.object_repr, e.note, e.changes] for e in entries(form)],
        ensure_ascii=False,
    )


@pytest.fixture
def rep(org):
    return org.user("formrep", org.sh, scope=Scope.OWN)


def create(org, rep, **extra):
    data = {
        "name": "官网试用",
        "title": "申请试用",
        "campaign": "2026 秋季",
        "run_as": rep,
        "fields": [{"name": "company", "required": True}, {"name": "phone", "required": False}],
        **extra,
    }
    return save_form(user=org.admin, data=data)


def edit_post(form, **changes):
    """What the edit page posts for `form` as it is, with `changes` applied."""
    data = {
        "name": form.name,
        "title": form.title,
        "intro": form.intro,
        "source": form.source,
        "campaign": form.campaign,
        "run_as": form.run_as_id,
        "success_message": form.success_message,
        "rate_limit_per_hour": form.rate_limit_per_hour,
        "is_active": "on" if form.is_active else "",
    }
    for spec in form.fields:
        data[f"ask_{spec['name']}"] = "on"
        if spec.get("required"):
            data[f"require_{spec['name']}"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v not in ("", None)}


def test_creating_a_form_writes_one_entry_with_every_setting_and_not_the_token(org, rep):
    form = create(org, rep, key="chosen-by-caller")
    assert form.key != "chosen-by-caller"  # the token is not an editable setting
    [entry] = entries(form)
    assert (entry.action, entry.actor, entry.object_repr) == ("create", org.admin, "官网试用")
    assert {c["field"]: (c["label"], c["old"], c["new"]) for c in entry.changes} == {
        "name": ("name", "", "官网试用"),
        "title": ("page title", "", "申请试用"),
        "fields": ("fields", "", "company (required), phone"),
        "source": ("lead source", "", "Web form"),
        "campaign": ("campaign", "", "2026 秋季"),
        "run_as": ("create leads as", "", "Formrep"),
        "rate_limit_per_hour": ("submissions per visitor per hour", "", "5"),
        "is_active": ("active", "", "✓"),
    }
    assert "key" not in {c["field"] for c in entry.changes}
    assert form.key not in as_text(form)


def test_changing_two_fields_on_the_edit_page_records_old_and_new_and_an_unchanged_save_nothing(org, rep, web_for):
    form = create(org, rep)
    admin = web_for(org.admin)
    response = admin.post(f"/f/forms/{form.pk}/edit/", edit_post(form, campaign="2027 春季", require_phone="on"))
    assert response.status_code == 302
    create_entry, update_entry = entries(form)
    assert create_entry.action == "create"
    assert (update_entry.action, update_entry.actor) == ("update", org.admin)
    assert update_entry.changes == [
        {
            "field": "fields",
            "label": "fields",
            "old": "company (required), phone",
            "new": "company (required), phone (required)",
        },
        {"field": "campaign", "label": "campaign", "old": "2026 秋季", "new": "2027 春季"},
    ]
    form.refresh_from_db()
    assert admin.post(f"/f/forms/{form.pk}/edit/", edit_post(form)).status_code == 302
    save_form(user=org.admin, data={"title": form.title, "is_active": True}, form=form)
    assert len(entries(form)) == 2  # nothing changed, nothing written
    assert form.key not in as_text(form)


def test_a_change_through_the_api_is_recorded_too(org, rep, api_for):
    form = create(org, rep)
    payload = {
        "name": form.name,
        "title": "联系我们",
        "run_as_id": rep.pk,
        "campaign": form.campaign,
        "is_active": False,
        "fields": form.fields,
    }
    assert api_for(org.admin).put(f"/forms/{form.pk}", payload).status_code == 200
    update = entries(form)[-1]
    assert update.action == "update"
    assert [(c["field"], c["old"], c["new"]) for c in update.changes] == [
        ("title", "申请试用", "联系我们"),
        ("is_active", "✓", "✗"),
    ]
    assert form.key not in as_text(form)


def test_admins_see_the_history_on_the_form_pages_escaped_and_others_see_nothing(org, rep, web_for):
    form = create(org, rep, campaign="<b>秋季</b>")
    save_form(user=org.admin, data={"title": "展会登记"}, form=form)
    admin = web_for(org.admin)
    for url in (f"/f/forms/{form.pk}/", f"/f/forms/{form.pk}/edit/"):
        page = admin.get(url).content.decode()
        assert 'data-testid="history"' in page, url
        assert "page title: <del" in page and "申请试用</del> → 展会登记" in page, url
        assert "Admin · <strong>Changed</strong>" in page and "<strong>Created</strong>" in page, url
        assert "&lt;b&gt;秋季&lt;/b&gt;" in page and "<b>秋季" not in page, url
        assert form.key not in page.split('data-testid="history"')[1], url
    outsider = web_for(org.user("plainrep", org.sh, scope=Scope.ALL))
    for url in (f"/f/forms/{form.pk}/", f"/f/forms/{form.pk}/edit/"):
        answer = outsider.get(url)
        assert answer.status_code == 403
        assert "展会登记" not in answer.content.decode()


def test_a_new_form_from_the_page_has_its_creation_in_the_history(org, rep, web_for):
    response = web_for(org.admin).post(
        "/f/forms/new/",
        {
            "name": "展会登记",
            "title": "展会登记",
            "source": "exhibition",
            "run_as": rep.pk,
            "rate_limit_per_hour": 10,
            "is_active": "on",
            "ask_company": "on",
            "require_company": "on",
        },
    )
    assert response.status_code == 302
    form = WebForm.objects.get(name="展会登记")
    [entry] = entries(form)
    assert (entry.action, entry.actor) == ("create", org.admin)
    shown = {c["field"]: c["new"] for c in entry.changes}
    assert shown["source"] == "Exhibition" and shown["rate_limit_per_hour"] == "10"
    assert shown["fields"] == "company (required)"
