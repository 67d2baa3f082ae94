"""Shared fixtures: a small group org (group → subsidiary → region), users in each scope, API clients."""

import json
import os

import pytest

os.environ.setdefault("TIDE_TESTING", "1")


@pytest.fixture(autouse=True)
def _english_by_default(settings, tmp_path):
    settings.LANGUAGE_CODE = "en"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = str(tmp_path / "media")


class Org:
    """Group 集团 → 华东分公司 (east) → 上海大区 (sh); 华南分公司 (south)."""

    def __init__(self):
        from org.models import Department, Role, RolePermission, User

        def dept(name, parent=None):
            d = Department.objects.create(name=name, parent=parent)
            d.path = d.compute_path()
            d.depth = d.path.count("/") - 2
            d.save(update_fields=["path", "depth"])
            return d

        self.group = dept("集团总部")
        self.east = dept("华东分公司", self.group)
        self.sh = dept("上海大区", self.east)
        self.south = dept("华南分公司", self.group)
        self.Role, self.RolePermission, self.User = Role, RolePermission, User
        self.admin = self.user("admin", self.group, superuser=True)
        self._roles = {}

    def role(self, scope, actions=("view", "create", "edit", "delete", "export", "transfer"), types=None):
        from core.choices import ObjectType

        key = (scope, tuple(actions), tuple(types or ()))
        if key not in self._roles:
            role = self.Role.objects.create(name=f"r{len(self._roles)}-{scope}", code=f"r{len(self._roles)}-{scope}")
            for object_type in types or ObjectType.values:
                self.RolePermission.objects.create(
                    role=role, object_type=object_type, actions=list(actions), scope=scope
                )
            self._roles[key] = role
        return self._roles[key]

    def user(self, username, department, *, scope=None, superuser=False, manager=None, **role_kwargs):
        user = self.User.objects.create_user(
            username=username,
            password="pass-word-123",
            department=department,
            name=username.title(),
            is_superuser=superuser,
            is_staff=superuser,
            manager=manager,
        )
        if scope is not None:
            user.roles.add(self.role(scope, **role_kwargs))
        return user


@pytest.fixture
def org(db):
    return Org()


class Api:
    """A JSON client with a bearer token, as an integrator would call the API."""

    def __init__(self, user):
        from django.test import Client

        from core.models import ApiToken

        self.user = user
        _token, self.token = ApiToken.issue(user=user, name="test")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {self.token}")

    def _call(self, method, path, data=None, headers=None):
        kwargs = {"content_type": "application/json"}
        if data is not None:
            kwargs["data"] = json.dumps(data, default=str)
        for k, v in (headers or {}).items():
            kwargs["HTTP_" + k.upper().replace("-", "_")] = v
        response = getattr(self.client, method)(f"/api/v1{path}", **kwargs)
        try:
            response.json_body = response.json()
        except (ValueError, json.JSONDecodeError):
            response.json_body = None
        return response

    def get(self, path, params=None, **kw):
        from urllib.parse import urlencode

        if params:
            path = f"{path}?{urlencode(params)}"
        return self._call("get", path, **kw)

    def post(self, path, data=None, **kw):
        return self._call("post", path, data or {}, **kw)

    def patch(self, path, data=None, **kw):
        return self._call("patch", path, data or {}, **kw)

    def put(self, path, data=None, **kw):
        return self._call("put", path, data or {}, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)


@pytest.fixture
def api_for():
    return Api


@pytest.fixture
def web_for(client):
    def login(user):
        from django.test import Client

        c = Client()
        c.force_login(user)
        return c

    return login


def seed_defaults() -> None:
    """Re-create what the data migrations seed (stages, roles, the classic qualification rule).

    A transactional test ends with a flush that empties every table, migrations' rows included;
    tests that need them after such a test call this (each seeding function is idempotent)."""
    import importlib

    from django.apps import apps

    for module, function in [
        ("opportunities.migrations.0003_default_stages", "add_stages"),
        ("org.migrations.0002_default_roles", "add_roles"),
        ("assignment.migrations.0002_classic_qualification", "seed"),
        ("pools.migrations.0003_seed_holidays", "seed"),
    ]:
        getattr(importlib.import_module(module), function)(apps, None)
