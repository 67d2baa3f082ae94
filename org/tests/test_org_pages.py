"""Admins run the organisation from the browser: departments, users, roles and departures."""

import pytest

from core.choices import Scope

pytestmark = pytest.mark.django_db


def test_admin_builds_a_role_and_a_user_through_the_pages(org, web_for):
    from org.models import Role, User

    web = web_for(org.admin)
    form = {
        "name": "大客户经理",
        "code": "kam",
        "description": "",
        "is_active": "on",
        "grant_account_view": "on",
        "grant_account_edit": "on",
        "scope_account": "3",
    }
    for object_type in ("contact", "lead", "opportunity", "followup", "department", "user", "role"):
        form[f"scope_{object_type}"] = "1"
    response = web.post("/org/roles/new/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    role = Role.objects.get(code="kam")
    assert {(p.object_type, tuple(p.actions), p.scope) for p in role.permissions.all()} == {
        ("account", ("edit", "view"), Scope.SUBTREE)
    }
    response = web.post(
        "/org/users/new/",
        {"username": "kam1", "name": "孙八", "department": org.sh.pk, "roles": [role.pk], "password": "a-long-pass-1"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(username="kam1")
    assert user.department == org.sh and list(user.roles.all()) == [role]
    assert web_for(user).get("/accounts/").status_code == 200
    assert web_for(user).get("/leads/").status_code == 403


def test_department_move_refuses_cycles_on_the_page(org, web_for):
    web = web_for(org.admin)
    response = web.post(
        f"/org/departments/{org.east.pk}/edit/",
        {"name": "华东分公司", "parent": org.sh.pk, "sort_order": 0, "is_active": "on", "version": 1},
    )
    assert response.status_code == 200 and 'data-field-error="parent"' in response.content.decode()


def test_departure_page_hands_over_and_deactivates(org, web_for, api_for):
    from leads.models import Lead

    leaving = org.user("leaving", org.sh, scope=Scope.OWN)
    successor = org.user("successor", org.sh, scope=Scope.OWN)
    api_for(leaving).post("/leads/", {"company": "卯公司"})
    page = web_for(org.admin).get(f"/org/users/{leaving.pk}/deactivate/").content.decode()
    assert "卯公司" not in page  # counts only, no record details
    response = web_for(org.admin).post(f"/org/users/{leaving.pk}/deactivate/", {"hand_over_to": successor.pk})
    assert response.status_code == 302
    assert Lead.objects.get(company="卯公司").owner == successor
    leaving.refresh_from_db()
    assert not leaving.is_active


def test_a_manager_cannot_edit_users_outside_his_scope(org, web_for):
    manager = org.user("mgr", org.east, scope=Scope.SUBTREE)
    outsider = org.user("outsider", org.south)
    assert web_for(manager).get(f"/org/users/{outsider.pk}/edit/").status_code == 404
    insider = org.user("insider", org.sh)
    assert web_for(manager).get(f"/org/users/{insider.pk}/edit/").status_code == 200
