"""The database matches what the models declare: every index and constraint a model names exists.

Indexes created outside the migration state are lost on SQLite when a later migration rebuilds the table;
this is the check that would have caught it."""

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.utils import timezone

pytestmark = pytest.mark.django_db

PROJECT_APPS = [a for a in apps.get_app_configs() if str(a.path).startswith(str(settings.BASE_DIR))]


@pytest.mark.parametrize("app", PROJECT_APPS, ids=lambda a: a.label)
def test_every_declared_index_and_constraint_exists(app):
    missing = []
    with connection.cursor() as cursor:
        for model in app.get_models():
            if not model._meta.managed or model._meta.proxy:
                continue
            existing = connection.introspection.get_constraints(cursor, model._meta.db_table)
            declared = [*model._meta.indexes, *model._meta.constraints]
            missing += [f"{model._meta.label}.{item.name}" for item in declared if item.name not in existing]
    assert missing == []


def test_the_sweep_and_the_claim_list_use_the_pool_indexes():
    """The due records are a range of (pool, owner_since); the claim list reads (pool, newest) of unowned."""
    from leads.models import Lead

    due = Lead.objects.filter(pool_id=1, owner__isnull=False, owner_since__lt=timezone.now()).values("id")
    claimable = Lead.objects.filter(pool_id=1, owner__isnull=True).order_by("-created_at", "-id").values("id")[:50]
    for qs, index in ((due, "lead_pool_owned_idx"), (claimable, "lead_pool_open_idx")):
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            else:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("EXPLAIN " + sql, params)
                plan = " ".join(row[0] for row in cursor.fetchall())
        assert index in plan, plan
