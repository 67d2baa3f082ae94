"""The duplicate-check keys stay in step with the names, bulk loads can be backfilled, and every
candidate lookup is an index lookup, never a scan of the table."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.choices import ObjectType
from dedupe import service
from dedupe.models import NameKey

pytestmark = pytest.mark.django_db


def keys_of(record):
    return set(
        NameKey.objects.filter(object_type=record.object_type, object_id=record.pk).values_list("key", flat=True)
    )


def test_saving_a_lead_or_an_account_keeps_its_keys(org, rep, make):
    from accounts.actions import update_account
    from accounts.models import Account
    from leads.models import Lead

    account = make.account(rep, name="廣州汽車集團股份有限公司")
    stored = Account.objects.get(pk=account.pk)
    assert stored.match_name == "汽车"
    assert keys_of(account) == {"广汽"}
    update_account(account=stored, user=rep, data={"name": "中国工商银行股份有限公司"})
    stored = Account.objects.get(pk=account.pk)
    assert stored.match_name == "工商银行"
    assert keys_of(account) == {"工银", "工行", "中工"}
    lead = make.lead(rep, company="紫光国芯微电子股份有限公司")
    lead.company = "华为技术有限公司"
    lead.save(update_fields=["company"])  # a partial save writes the keys too
    assert Lead.objects.values_list("match_name", flat=True).get(pk=lead.pk) == "华为技术"
    Lead.all_objects.filter(pk=lead.pk).delete()
    assert not NameKey.objects.filter(object_type=ObjectType.LEAD, object_id=lead.pk).exists()


def test_bulk_created_rows_are_found_after_the_backfill(org, rep, api_for):
    from leads.models import Lead

    Lead.objects.bulk_create(
        [Lead(company="中国南方航空股份有限公司", owner=rep), Lead(company="广州汽车集团", owner=rep)]
    )
    assert not Lead.objects.exclude(match_name="").exists()
    api = api_for(rep)
    assert api.post("/duplicates/check", {"object": "lead", "name": "南航"}).json_body["candidates"] == []
    out = io.StringIO()
    call_command("dedupe_backfill", stdout=out)
    assert "lead: 2 keys updated" in out.getvalue()
    assert Lead.objects.filter(match_name="南方航空").exists()
    found = api.post("/duplicates/check", {"object": "lead", "name": "南航"}).json_body["candidates"]
    assert [c["name"] for c in found] == ["中国南方航空股份有限公司"]
    again = io.StringIO()
    call_command("dedupe_backfill", "--only", "lead", stdout=again)
    assert "lead: 0 keys updated" in again.getvalue()
    assert NameKey.objects.filter(object_type="lead").count() == len(
        service.name_keys(service.normalize_name("中国南方航空股份有限公司"))
    ) + len(service.name_keys(service.normalize_name("广州汽车集团")))


def test_the_migration_fills_the_keys_of_existing_rows(org, rep):
    import importlib

    from django.apps import apps

    from accounts.models import Account

    Account.objects.bulk_create([Account(name="中国工商银行股份有限公司", owner=rep)])
    importlib.import_module("dedupe.migrations.0002_backfill_keys").fill(apps, None)
    account = Account.objects.get()
    assert account.match_name == "工商银行" and keys_of(account) == {
        "工银",
        "工行",
        "中工",
    }


def test_the_backfill_job_runs_the_same_backfill(org, rep):
    from dedupe.jobs import backfill_keys_job
    from leads.models import Lead

    Lead.objects.bulk_create([Lead(company="华为技术有限公司", owner=rep)])
    result = backfill_keys_job.call(["lead"])
    assert result["lead"]["updated"] == 1


def _plans(sqls):
    plans = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # tiny test tables: ask whether an index path exists
        for sql in sqls:
            if connection.vendor == "postgresql":
                cursor.execute("EXPLAIN " + sql)
                plans.append((sql, "\n".join(r[0] for r in cursor.fetchall())))
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                plans.append((sql, "\n".join(str(r[-1]) for r in cursor.fetchall())))
    return plans


@pytest.mark.parametrize(
    "object_type, values",
    [
        (ObjectType.ACCOUNT, {"name": "广汽集团", "phone": "13800138000", "credit_code": "91440300708461136T"}),
        (ObjectType.LEAD, {"name": "广汽集团", "phone": "13800138000", "email": "a@b.cn"}),
        (ObjectType.CONTACT, {"name": "王五", "mobile": "13800138000", "email": "a@b.cn", "account_id": 1}),
    ],
)
def test_every_candidate_lookup_uses_an_index(org, rep, make, object_type, values):
    make.account(rep, name="广州汽车集团股份有限公司", phone="13800138000")
    rules = [service.Rule(object_type, r.kind, True, "warn", 85, {}) for r in service.rules_for(object_type)]
    with CaptureQueriesContext(connection) as captured:
        service.find_duplicates(service.Probe.build(object_type, **values), rules)
    tables = ("accounts_account", "leads_lead", "contacts_contact", "dedupe_namekey")
    sqls = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and any(t in q["sql"] for t in tables)
    ]
    assert len(sqls) >= 3
    for sql, plan in _plans(sqls):
        if connection.vendor == "postgresql":
            assert "Seq Scan" not in plan, (sql, plan)
        else:
            scans = [line for line in plan.splitlines() if line.startswith("SCAN") and "USING" not in line]
            assert not scans, (sql, plan)


@pytest.mark.parametrize(
    ("first", "then", "same"),
    [
        ("紫光国芯微电子股份有限公司", "紫光国微", True),
        ("紫光国微", "紫光国芯微电子股份有限公司", True),
        ("广州汽车集团股份有限公司", "广汽集团", True),
        ("中国工商银行股份有限公司", "工行", True),
        ("北京银行", "上海银行", False),
        ("华为技术有限公司", "华润置地有限公司", False),
    ],
)
def test_names_held_in_memory_are_found_as_stored_ones_would_be(first, then, same, make, rep):
    """NameIndex (an import chunk's rows before they are written) answers as the database lookup does."""
    from dedupe.normalize import normalize_name
    from leads.models import Lead

    index = service.NameIndex()
    index.add(normalize_name(first), "earlier row")
    found = [item for item, _score in index.matches(normalize_name(then), 85)]
    assert found == (["earlier row"] if same else [])
    make.lead(rep, company=first)
    rule = service.Rule(ObjectType.LEAD, "name", True, "block", 85)
    assert bool(service.name_hits(Lead, normalize_name(then), rule)) == same
