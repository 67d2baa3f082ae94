"""Leads arriving at the same moment take turns: the round-robin cursor is a locked database row."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from core.choices import Scope

THREADS = 12


def _arrive_together(count, make):
    """Run `make(i)` in `count` threads released at once; each thread uses its own connection."""
    barrier = threading.Barrier(count)
    errors = []

    def worker(i):
        try:
            barrier.wait(timeout=30)
            make(i)
        except Exception as exc:  # noqa: BLE001 - reported below, the test fails on any
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("strategy", ["round_robin", "least_loaded"])
def test_concurrent_arrivals_never_pick_the_same_slot(org, strategy):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    from assignment import actions
    from leads.actions import create_lead
    from leads.models import Lead

    reps = [org.user(f"rep{i}", org.sh, scope=Scope.OWN) for i in range(1, 4)]
    actions.create_rule(user=org.admin, data={"name": "rr", "strategy": strategy}, member_ids=[u.pk for u in reps])
    admin = org.admin

    _arrive_together(THREADS, lambda i: create_lead(user=admin, data={"company": f"并发{i}"}))

    owners = Counter(Lead.objects.filter(company__startswith="并发").values_list("owner__username", flat=True))
    assert owners == {"rep1": 4, "rep2": 4, "rep3": 4}


@pytest.mark.django_db(transaction=True)
def test_concurrent_arrivals_respect_the_cap(org):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    from assignment import actions
    from leads.actions import create_lead
    from leads.models import Lead

    reps = [org.user(f"rep{i}", org.sh, scope=Scope.OWN) for i in range(1, 3)]
    actions.create_rule(
        user=org.admin,
        data={"name": "capped", "strategy": "round_robin", "max_open_leads": 3},
        member_ids=[u.pk for u in reps],
    )
    admin = org.admin

    _arrive_together(10, lambda i: create_lead(user=admin, data={"company": f"封顶{i}"}))

    owners = Counter(Lead.objects.filter(company__startswith="封顶").values_list("owner__username", flat=True))
    assert owners == {"rep1": 3, "rep2": 3, "admin": 4}


@pytest.mark.django_db(transaction=True)
def test_a_users_own_cap_holds_across_rules_arriving_together(org):
    """Two named-user rules (no rotation to lock) give leads to the same rep, whose own cap is 3: leads of
    both arriving at once still give him 3, not one more per rule."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    from assignment import actions
    from leads.actions import create_lead
    from leads.models import Lead

    rep = org.user("capped", org.sh, scope=Scope.OWN)
    actions.set_lead_limit(user=org.admin, target=rep, max_open_leads=3)
    for source in ("web_form", "referral"):
        actions.create_rule(
            user=org.admin,
            data={
                "name": f"named {source}",
                "strategy": "users",
                "conditions": {"all": [{"field": "source", "op": "in", "value": [source]}]},
            },
            member_ids=[rep.pk],
        )
    admin = org.admin
    sources = ["web_form", "referral"]

    _arrive_together(
        THREADS, lambda i: create_lead(user=admin, data={"company": f"双规则{i}", "source": sources[i % 2]})
    )

    owners = Counter(Lead.objects.filter(company__startswith="双规则").values_list("owner__username", flat=True))
    assert owners == {"capped": 3, "admin": THREADS - 3}
