import datetime
import gc
import weakref

import pytest
from django.db import transaction
from django.utils import timezone

from core.bulk import cyclic_gc_paused, insert_instances, insert_rows


@pytest.mark.django_db
def test_fast_inserts_return_the_ids_of_what_they_wrote(org):
    from core.models import ChangeLog
    from leads.models import Lead

    when = timezone.now() - datetime.timedelta(days=3)
    with transaction.atomic():
        Lead.objects.create(company="先来的")
        leads = [
            Lead(
                company=f"公司{i}",
                phone=f"+86139000000{i:02d}",
                facts={"has_project": i % 2 == 0},
                is_locked=bool(i % 3),
                created_at=when,
            )
            for i in range(50)
        ]
        insert_instances(leads)
        ids = insert_rows(
            ChangeLog,
            ["object_type", "object_id", "object_repr", "action", "changes", "at", "note"],
            [("lead", lead.pk, lead.company, "create", [{"f": lead.pk}], when, "") for lead in leads],
        )
    for lead in leads:
        stored = Lead.objects.get(pk=lead.pk)
        assert (stored.company, stored.phone, stored.facts, stored.is_locked, stored.created_at) == (
            lead.company,
            lead.phone,
            lead.facts,
            lead.is_locked,
            when,
        )
    assert [ChangeLog.objects.get(pk=i).changes for i in ids] == [[{"f": lead.pk}] for lead in leads]
    assert len(set(ids)) == 50


class _Node:
    pass


def test_the_collector_is_back_and_cycles_are_freed_after_a_bulk_job_even_one_that_fails():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        assert not gc.isenabled()
        node = _Node()
        node.me = node  # a cycle only the collector can free
        alive = weakref.ref(node)
        del node
        raise RuntimeError("the job failed")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert alive() is None


@pytest.mark.django_db
def test_shared_values_are_written_to_every_row_as_given_quotes_and_percents_included():
    from core.bulk import adapt_value
    from core.models import ChangeLog

    note = "100% 'sure' -- ; DROP"
    shared = {
        "object_type": "lead",
        "action": "create",
        "at": adapt_value(ChangeLog, "at", timezone.now()),
        "changes": adapt_value(ChangeLog, "changes", []),
        "note": note,
        "actor_id": None,
    }
    with transaction.atomic():
        ids = insert_rows(ChangeLog, ("object_id", "object_repr"), [(1, "甲公司"), (2, "乙'公司")], constants=shared)
    rows = list(ChangeLog.objects.filter(pk__in=ids).order_by("pk").values_list("object_id", "object_repr", "note"))
    assert rows == [(1, "甲公司", note), (2, "乙'公司", note)]
    assert ChangeLog.objects.filter(pk__in=ids, action="create", actor=None, object_type="lead").count() == 2
