"""The database matches what the models declare: every index and constraint a model names exists.

Indexes created outside the migration state are lost on SQLite when a later migration rebuilds the table;
this is the check that would have caught it."""

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
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


# SQLite's planner picks among usable indexes by their columns alone when it has no statistics, so its
# plan on an empty test database is the plan it makes on a big one. PostgreSQL's is cost-based: on empty
# tables every index costs the same and its choice says nothing.
sqlite_plans = pytest.mark.skipif(connection.vendor != "sqlite", reason="cost-based planner: see above")


def plan_of(qs) -> str:
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


@sqlite_plans
def test_lists_by_owner_use_the_owned_records_indexes():
    """The owner indexes hold owned records only; a list by one owner or a team still reads them."""
    from leads.models import Lead
    from org.models import User

    newest = ("-created_at", "-id")
    team = User.objects.filter(department_id=1).values("id")
    mine = Lead.objects.filter(owner_id=1).order_by(*newest).values("id")[:50]
    mine_new = Lead.objects.filter(owner_id=1, status="new").order_by(*newest).values("id")[:50]
    teams = Lead.objects.filter(owner_id__in=team).values("id")
    for qs, index in ((mine, "lead_owner_new_idx"), (mine_new, "lead_owner_status_new_idx"), (teams, "lead_owner")):
        assert index in plan_of(qs)
    for qs in (mine, mine_new):  # newest first is the ascending index read backwards, not a sort
        assert "TEMP B-TREE" not in plan_of(qs)


@sqlite_plans
def test_the_sweep_and_the_claim_list_use_the_pool_indexes():
    """The due records are a range of (pool, owner_since); the claim list reads (pool, newest) of unowned."""
    from leads.models import Lead

    due = Lead.objects.filter(pool_id=1, owner__isnull=False, owner_since__lt=timezone.now()).values("id")
    claimable = Lead.objects.filter(pool_id=1, owner__isnull=True).order_by("-created_at", "-id").values("id")[:50]
    cases = [(due, "lead_pool_owned_idx"), (claimable, "lead_pool_open_idx")]
    for qs, index in cases:
        plan = plan_of(qs)
        assert index in plan, plan
    assert "TEMP B-TREE" not in plan_of(claimable)
    everyone = Lead.objects.order_by("-created_at", "-id").values("id")[:50]
    new_ones = Lead.objects.filter(status="new").order_by("-created_at", "-id").values("id")[:50]
    for qs, index in ((everyone, "lead_new_idx"), (new_ones, "lead_status_new_idx")):
        plan = plan_of(qs)
        assert index in plan and "TEMP B-TREE" not in plan, plan


@sqlite_plans
def test_a_reps_own_list_reads_his_records_by_index_until_something_is_shared_with_him(org):
    """A rep who owns a few old leads among many: without shares his list is the owner index alone (it was a
    read of the whole table newest first); once a lead is shared with him the list includes it."""
    from core.actions import share_record
    from core.choices import Scope
    from leads.models import Lead

    rep = org.user("newbie", org.sh, scope=Scope.OWN)
    other = org.user("veteran", org.sh, scope=Scope.OWN)
    Lead.objects.bulk_create([Lead(company=f"旧线索{i}", owner=rep) for i in range(3)])
    shared = Lead.objects.create(company="共享线索", owner=other)
    newest = ("-created_at", "-id")

    assert "lead_owner_new_idx" in plan_of(Lead.objects.visible_to(rep).order_by(*newest).values("id")[:50])
    assert shared not in Lead.objects.visible_to(rep)
    share_record(instance=shared, user=other, member=rep)
    assert shared in Lead.objects.visible_to(rep)
    assert Lead.objects.visible_to(rep).count() == 4


def test_the_duplicate_checks_name_bucket_is_a_range_of_the_name_index():
    """Names starting with the same two characters are read from the match_name index on both databases:
    a code-point range on SQLite, LIKE 'xx%' on PostgreSQL (its index uses pattern operators, so this holds
    under any collation). PostgreSQL is asked with sequential scans off: can it, not would it on empty tables."""
    from dedupe.service import _bucket
    from leads.models import Lead

    Lead.objects.create(company="紫光国芯微电子股份有限公司")
    Lead.objects.create(company="紫金矿业集团股份有限公司")
    with connection.cursor() as cursor, CaptureQueriesContext(connection) as queries:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
        found = _bucket(Lead, "紫光")
        sql = queries.captured_queries[-1]["sql"]
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + sql)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert [name for _pk, name in found] == ["紫光国芯微电子"]
    assert "lead_match_name_idx" in plan


def _visible_pages(rep, *, status=None, limit=2, qs=None):
    from core.keyset import keyset_page
    from leads.models import Lead

    qs = Lead.objects.visible_to(rep) if qs is None else qs
    if status:
        qs = qs.filter(status=status)
    seen, cursor = [], None
    while True:
        rows, cursor = keyset_page(qs, field="created_at", descending=True, cursor=cursor, limit=limit)
        seen += [row.pk for row in rows]
        if cursor is None:
            return seen


def test_a_list_of_own_and_shared_records_pages_as_one_list(org, monkeypatch):
    """His own leads and those shared with him come in one newest-first order, page after page, each
    once (also a lead both his and shared), filters applied to both; with more shares than are looked up
    one by one, the single query gives the same pages."""
    import datetime

    from core import keyset
    from core.actions import share_record
    from core.choices import Scope
    from leads.models import Lead

    rep = org.user("sharer_rep", org.sh, scope=Scope.OWN)
    other = org.user("sharer_other", org.sh, scope=Scope.OWN)
    now = timezone.now()
    leads = []
    for i, (owner, status) in enumerate(
        [
            (rep, "new"),
            (other, "new"),
            (other, "contacted"),
            (rep, "contacted"),
            (other, "new"),
            (rep, "new"),
            (other, "new"),
            (other, "new"),
            (rep, "new"),
        ]
    ):
        lead = Lead.objects.create(company=f"分页{i}", owner=owner, status=status, invalid_reason="other")
        Lead.objects.filter(pk=lead.pk).update(created_at=now - datetime.timedelta(minutes=i % 4))  # ties
        leads.append(lead)
    for i in (1, 2, 4, 5):  # 5 is his own: shared as well
        share_record(instance=leads[i], user=org.admin, member=rep)
    leads = list(Lead.objects.filter(pk__in=[lead.pk for lead in leads]))
    expect = [
        lead.pk
        for lead in sorted(leads, key=lambda x: (x.created_at, x.pk), reverse=True)
        if lead.owner_id == rep.pk or lead.company in ("分页1", "分页2", "分页4")
    ]
    assert _visible_pages(rep) == expect
    from core.views import capped_count

    assert capped_count(Lead.objects.visible_to(rep)) == (len(expect), False)  # the list page's count
    assert capped_count(Lead.objects.visible_to(rep), cap=3) == (3, True)
    new = [pk for pk in expect if Lead.objects.get(pk=pk).status == "new"]
    assert _visible_pages(rep, status="new") == new
    # | adds rows outside every visibility clause: paged (and counted) as one query, page after page
    combined = Lead.objects.visible_to(rep) | Lead.objects.filter(pk=leads[6].pk)  # not shared, not his
    with_extra = [
        lead.pk
        for lead in sorted(leads, key=lambda x: (x.created_at, x.pk), reverse=True)
        if lead.pk in expect or lead.pk == leads[6].pk
    ]
    assert _visible_pages(rep, qs=combined) == with_extra
    assert _visible_pages(rep, qs=combined, status="new") == [pk for pk in with_extra if pk in new or pk == leads[6].pk]
    assert capped_count(combined) == (len(with_extra), False)
    monkeypatch.setattr(keyset, "SHARED_IDS_AT_MOST", 2)
    assert _visible_pages(rep) == expect and _visible_pages(rep, status="new") == new


@sqlite_plans
def test_a_reps_list_with_shares_reads_indexes_not_the_whole_table(org):
    """A rep with a few leads and a few shared ones: as one OR, SQLite read the newest-first index of
    every lead to find them (0.4–1 s at a million leads); per clause, every read is an index search."""
    from core.actions import share_record
    from core.choices import Scope
    from leads.models import Lead

    rep = org.user("few_rep", org.sh, scope=Scope.OWN)
    other = org.user("many_rep", org.sh, scope=Scope.OWN)
    Lead.objects.bulk_create([Lead(company=f"他的{i}", owner=other) for i in range(20)])
    Lead.objects.bulk_create([Lead(company=f"我的{i}", owner=rep) for i in range(2)])
    for lead in Lead.objects.filter(owner=other)[:5]:
        share_record(instance=lead, user=other, member=rep)
    for status in (None, "new"):
        with CaptureQueriesContext(connection) as ctx:
            pages = _visible_pages(rep, status=status, limit=50)
        assert len(pages) == 7
        plans = [plan_of_sql(q["sql"]) for q in ctx.captured_queries if "leads_lead" in q["sql"]]
        assert plans and all("SCAN leads_lead" not in p and "lead_new_idx" not in p for p in plans), plans
        assert not [p for p in plans if "lead_status_new_idx" in p], plans


def plan_of_sql(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return " ".join(str(row[-1]) for row in cursor.fetchall())
