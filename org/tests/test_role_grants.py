"""Whoever may edit users may not make himself (or anyone) administrator, nor take over an account with
more rights than his own: found by an audit, where the HR system's account granted itself 系统管理员 and
reset the administrator's password."""

import pytest

from core.choices import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def hr(org):
    hr = org.user("hr", org.group)
    hr.roles.add(org.Role.objects.get(code="hr_integration"))
    return hr


def test_an_hr_account_gives_sales_roles_but_not_the_administrators(org, hr, api_for):
    from org.models import User

    api = api_for(hr)
    admin_role = org.Role.objects.get(code="admin")
    rep_role = org.Role.objects.get(code="sales_rep")
    made = api.post("/users/", {"username": "boss2", "department_id": org.sh.pk, "role_ids": [admin_role.pk]})
    assert made.status_code == 422 and "系统管理员" in made.json_body["errors"]["role_ids"][0]
    assert not User.objects.filter(username="boss2").exists()
    # his own account: adding the role is refused the same way, and nothing else of the change is saved
    patched = api.patch(
        f"/users/{hr.pk}", {"title": "改过", "role_ids": [admin_role.pk, *hr.roles.values_list("pk", flat=True)]}
    )
    assert patched.status_code == 422 and "role_ids" in patched.json_body["errors"]
    hr.refresh_from_db()
    assert not hr.roles.filter(code="admin").exists() and hr.title != "改过"
    # nor taken away from the administrator
    org.admin.roles.add(admin_role)
    assert api.patch(f"/users/{org.admin.pk}", {"role_ids": []}).status_code == 422
    assert org.admin.roles.filter(code="admin").exists()
    # a new hire with the sales role: HR's job (no password: HR cannot sign in as him)
    assert (
        api.post("/users/", {"username": "rep9", "department_id": org.sh.pk, "role_ids": [rep_role.pk]}).status_code
        == 201
    )
    # with a password HR could sign in with rights it does not have itself
    with_password = {
        "username": "rep10",
        "department_id": org.sh.pk,
        "role_ids": [rep_role.pk],
        "password": "a-long-pass-1",
    }
    assert api.post("/users/", with_password).status_code == 422
    # a role with rights over roles (its holder could rewrite any role) is not HR's to give
    roles_editor = org.role(Scope.ALL, actions=["view", "edit"], types=["role"])
    assert (
        api.post("/users/", {"username": "re", "department_id": org.sh.pk, "role_ids": [roles_editor.pk]}).status_code
        == 422
    )
    # an administrator gives any role
    assert api_for(org.admin).post("/users/", {**with_password, "role_ids": [admin_role.pk]}).status_code == 201


def test_an_hr_account_cannot_set_the_password_of_a_user_with_more_rights(org, hr, web_for):
    from org.models import User

    target = org.admin
    form = {
        "name": "改名",
        "department": target.department_id or org.group.pk,
        "password": "Pwned-by-HR-2026!",
        "version": target.version,
        "is_active": "on",
    }
    page = web_for(hr).post(f"/org/users/{target.pk}/edit/", form)
    assert page.status_code == 200 and "You may not set the password" in page.content.decode()
    target = User.objects.get(pk=target.pk)
    assert not target.check_password("Pwned-by-HR-2026!") and target.name != "改名"
    # a user whose rights HR holds too (another HR account) may have his password set by it
    colleague = org.user("hr2", org.group)
    colleague.roles.add(org.Role.objects.get(code="hr_integration"))
    form = {
        **form,
        "version": colleague.version,
        "department": org.group.pk,
        "roles": list(colleague.roles.values_list("pk", flat=True)),
    }
    assert web_for(hr).post(f"/org/users/{colleague.pk}/edit/", form).status_code == 302
    assert User.objects.get(pk=colleague.pk).check_password("Pwned-by-HR-2026!")
