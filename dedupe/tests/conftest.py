"""Fixtures of the duplicate-check tests: reps in different departments and quick record factories."""

import pytest

from core.choices import Scope


@pytest.fixture
def rep(org):
    """A rep in 上海大区 who sees only his own records."""
    return org.user("rep", org.sh, scope=Scope.OWN)


@pytest.fixture
def other(org):
    """A rep in 华南分公司: his records are invisible to `rep`."""
    user = org.user("zhang", org.south, scope=Scope.OWN)
    user.name = "张三"
    user.save(update_fields=["name"])
    return user


@pytest.fixture
def make(org):
    """Create records through the domain actions, as a page would (the duplicate check may run)."""

    class Make:
        @staticmethod
        def account(user=None, **data):
            from accounts.actions import create_account

            return create_account(user=user or org.admin, data={"name": "测试公司", **data})

        @staticmethod
        def lead(user=None, **data):
            from leads.actions import create_lead

            data.setdefault("company", "测试公司")
            if user is not None:
                data.setdefault("owner", user)
            return create_lead(user=user or org.admin, data=data)

        @staticmethod
        def contact(user=None, **data):
            from contacts.actions import create_contact

            return create_contact(user=user or org.admin, data={"name": "王五", **data})

    return Make


@pytest.fixture
def set_rule():
    """Configure one rule as an administrator would."""

    def configure(object_type, kind, action="warn", threshold=85, is_active=True, conditions=None):
        from dedupe.models import DuplicateRule

        DuplicateRule.objects.update_or_create(
            object_type=object_type,
            kind=kind,
            defaults={
                "action": action,
                "threshold": threshold,
                "is_active": is_active,
                "conditions": conditions or {},
            },
        )

    return configure
