"""Many reps claiming at the same moment, on PostgreSQL with one connection per thread: a record goes to
exactly one of them and no limit is exceeded. (SQLite runs one writer at a time, so there is no race.)"""

import threading

import pytest
from django.db import connection

from core.errors import DomainError
from core.models import ChangeLog
from leads.models import Lead
from pools import actions
from pools.models import ClaimLog, Pool
from pools.tests.conftest import at

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"),
    pytest.mark.django_db(transaction=True),  # threads need committed rows; needs no migration-seeded rows
]


def race(jobs):
    """Run the callables at the same moment, each in its own thread and database connection."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def worker(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except DomainError as error:
            results[i] = error.code
        except Exception as error:  # noqa: BLE001 - surfaced by the assertions
            results[i] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def claim_job(user_id, lead_id):
    def job():
        from org.models import User

        actions.claim_lead(lead_id=lead_id, user=User.objects.get(pk=user_id))
        return "ok"

    return job


def test_twenty_reps_one_lead(world):
    reps = [world.org.user(f"sales{i}", world.org.sh, scope=1).pk for i in range(20)]
    lead = world.lead("抢手的线索")
    results = race([claim_job(rep, lead.pk) for rep in reps])
    assert results.count("ok") == 1, results
    assert set(results) <= {"ok", "already_claimed", "not_in_pool"}, results
    winner = Lead.objects.get(pk=lead.pk).owner_id
    assert winner in reps
    assert ClaimLog.objects.filter(object_id=lead.pk, action="claim").count() == 1
    assert ChangeLog.objects.filter(object_type="lead", object_id=lead.pk).count() == 1


def test_daily_limit_under_a_burst(world):
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=3)
    leads = [world.lead(f"线索{i}").pk for i in range(10)]
    results = race([claim_job(world.rep.pk, lead) for lead in leads])
    assert results.count("ok") == 3, results
    assert results.count("daily_claim_limit") == 7, results
    assert Lead.objects.filter(owner=world.rep).count() == 3


def test_ownership_limit_under_a_burst(world):
    Pool.objects.filter(pk=world.lead_pool.pk).update(ownership_limit=2)
    leads = [world.lead(f"线索{i}").pk for i in range(8)]
    results = race([claim_job(world.rep.pk, lead) for lead in leads])
    assert results.count("ok") == 2, results
    assert Lead.objects.filter(owner=world.rep).count() == 2


def test_many_reps_many_leads_no_double_claims(world):
    Pool.objects.filter(pk=world.lead_pool.pk).update(daily_claim_limit=2)
    reps = [world.org.user(f"sales{i}", world.org.sh, scope=1).pk for i in range(10)]
    leads = [world.lead(f"线索{i}").pk for i in range(5)]
    results = race([claim_job(rep, lead) for rep in reps for lead in leads])
    assert results.count("ok") == 5, results
    claims = ClaimLog.objects.filter(action="claim")
    assert claims.count() == 5 and len(set(claims.values_list("object_id", flat=True))) == 5
    for rep in reps:
        assert claims.filter(user_id=rep).count() <= 2


def test_two_sweeps_at_once_recycle_each_record_once(world):
    world.rule(days=30)
    leads = [world.lead(f"线索{i}", owner=world.rep, owner_since=at("2026-01-01")).pk for i in range(30)]

    def sweep():
        return sum(actions.recycle_due_records(now=at("2026-11-26", 1)).values())

    results = race([sweep, sweep, sweep])
    assert sum(results) == 30, results
    assert not Lead.objects.filter(pk__in=leads, owner__isnull=False).exists()
    assert ChangeLog.objects.filter(object_type="lead", object_id__in=leads).count() == 30
    assert ClaimLog.objects.filter(action="recycle").count() == 30
