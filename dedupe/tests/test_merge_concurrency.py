"""Two people merging the same pair at the same moment, in opposite directions, on PostgreSQL with one
connection each: one merge goes through, the other finds its record gone. (SQLite runs one writer at a
time, so there is no race.)"""

import contextlib
import threading

import pytest
from django.db import connection

from core import actions as core_actions
from core.choices import Action
from core.errors import DomainError
from dedupe.actions import merge_records

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"),
    pytest.mark.django_db(transaction=True),  # threads need committed rows
]


def test_merging_a_pair_both_ways_at_once_merges_it_once(org, monkeypatch):
    from dedupe.models import MergeRecord
    from leads.models import Lead

    # The same compared values (company, phone, email): the merges take no lead-creation lock, so it is
    # their row locks that meet.
    a = Lead.objects.create(company="华为技术有限公司", contact_name="张三", owner=org.admin)
    b = Lead.objects.create(company="华为技术有限公司", contact_name="李四", owner=org.admin)
    # Hold each merge after it has locked its first record until the other has too: the moment two
    # merges that lock one record after the other wait for each other for good.
    both_locked_one = threading.Barrier(2, timeout=5)
    real_get_for = core_actions.get_for

    def get_for(model, user, action, pk, **kwargs):
        record = real_get_for(model, user, action, pk, **kwargs)
        if kwargs.get("lock") and action == Action.VIEW and pk in (a.pk, b.pk):
            with contextlib.suppress(threading.BrokenBarrierError):
                both_locked_one.wait()
        return record

    monkeypatch.setattr(core_actions, "get_for", get_for)
    results = [None, None]

    def worker(i, survivor, loser):
        try:
            merge_records(object_type="lead", user=org.admin, survivor_id=survivor.pk, loser_id=loser.pk)
            results[i] = "ok"
        except DomainError as error:
            results[i] = error.code
        except Exception as error:  # noqa: BLE001 - surfaced by the assertion
            results[i] = repr(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=worker, args=(0, a, b)),
        threading.Thread(target=worker, args=(1, b, a)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["not_found", "ok"], results
    assert Lead.objects.count() == 1 and MergeRecord.objects.count() == 1


@contextlib.contextmanager
def another_writer(org, *, creating_phone: str = "", release_after: float | None = 0.5):
    """A second connection takes the lead-creation lock, as an import's transaction does, creates a lead
    with `creating_phone` if given, and holds both: until `release_after` seconds into the block (the
    block then waits for it), or else until the block ends."""
    from django.db import transaction

    from dedupe.service import lock_lead_creation
    from leads.models import Lead

    holding, release = threading.Event(), threading.Event()

    def hold():
        from django.db import connection as own

        try:
            with transaction.atomic():
                lock_lead_creation()
                if creating_phone:
                    Lead.objects.create(company="另一个写入者的线索", phone=creating_phone, owner=org.admin)
                holding.set()
                release.wait(10)
        finally:
            own.close()

    other = threading.Thread(target=hold)
    other.start()
    try:
        assert holding.wait(10)
        if release_after is not None:
            threading.Timer(release_after, release.set).start()
        yield
    finally:
        release.set()
        other.join(10)


def test_a_lead_created_while_another_writer_holds_the_phone_waits_and_is_refused(org, set_rule):
    """Another writer (an import, or someone creating a lead) has created, not yet committed, a lead with
    this phone: this create waits for it instead of checking past it, and is refused by the block rule."""
    from dedupe.service import DuplicateError
    from leads.actions import create_lead
    from leads.models import Lead

    set_rule("lead", "phone", action="block")
    with another_writer(org, creating_phone="+8613900139000"), pytest.raises(DuplicateError):
        create_lead(user=org.admin, data={"company": "后到的线索", "phone": "13900139000"})
    assert Lead.objects.filter(phone="+8613900139000").count() == 1


def _holds_lead_creation_lock() -> bool:
    from dedupe.service import LEAD_CREATION_LOCK

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND ((classid::bigint << 32) | objid::bigint) = %s",
            [LEAD_CREATION_LOCK],
        )
        return cursor.fetchone()[0] > 0


def test_an_edit_takes_the_lead_lock_only_when_it_changes_what_the_rules_compare(org, set_rule):
    from django.db import transaction

    from leads.actions import restore_lead, update_lead
    from leads.models import Lead

    set_rule("lead", "phone", action="block")
    lead = Lead.objects.create(company="某公司", phone="+8613800138000", owner=org.admin)
    with transaction.atomic():
        lead = update_lead(lead=lead, user=org.admin, data={"notes": "回访", "phone": "+8613800138000"})
        assert not _holds_lead_creation_lock()
    with transaction.atomic():
        lead = update_lead(lead=lead, user=org.admin, data={"phone": "13900139000"})
        assert _holds_lead_creation_lock()
    core_actions.delete_record(instance=lead, user=org.admin)
    with transaction.atomic():
        restore_lead(lead=lead, user=org.admin)
        assert _holds_lead_creation_lock()


def test_an_edit_to_a_phone_another_writer_is_creating_waits_and_is_refused(org, set_rule):
    """Another writer (an import) has created, not yet committed, a lead with this phone: an edit that
    gives another lead the same phone waits for it, then the block rule refuses the edit."""
    from dedupe.service import DuplicateError
    from leads.actions import update_lead
    from leads.models import Lead

    set_rule("lead", "phone", action="block")
    edited = Lead.objects.create(company="已有的线索", phone="+8613700137000", owner=org.admin)
    with another_writer(org, creating_phone="+8613900139000"), pytest.raises(DuplicateError):
        update_lead(lead=edited, user=org.admin, data={"phone": "13900139000"})
    assert Lead.objects.filter(phone="+8613900139000").count() == 1


def test_a_writer_holding_a_row_lock_does_not_wait_for_the_lead_lock(org):
    """The check of an edit that found its change only after locking its row must not wait (an import
    holding the lead lock may be waiting for that row): it is told to save again instead."""
    from django.db import transaction

    from dedupe.service import hold_lead_creation_lock

    with another_writer(org, release_after=None), transaction.atomic(), pytest.raises(DomainError) as caught:
        hold_lead_creation_lock()
    assert caught.value.code == "duplicate_check_busy" and caught.value.status == 409
    with transaction.atomic():
        hold_lead_creation_lock()  # free again
        assert _holds_lead_creation_lock()


def test_a_merge_taking_the_losers_phone_waits_for_an_import_instead_of_deadlocking_with_it(org, set_rule):
    """An import holds the lead-creation lock and is about to merge a row into the survivor (its row lock
    next). A merge that gives the survivor the loser's phone takes the lead lock before its row locks, so
    it waits for the import instead of holding the survivor while waiting for the lock (a deadlock, which
    PostgreSQL would break by failing one of the two)."""
    from django.db import transaction

    from dedupe.service import lock_lead_creation
    from leads.models import Lead

    set_rule("lead", "phone", action="block")
    survivor = Lead.objects.create(company="华为技术有限公司", phone="+8613800138000", owner=org.admin)
    loser = Lead.objects.create(company="华为技术", phone="+8613900139000", owner=org.admin)
    holding, outcome = threading.Event(), []

    def importer():
        from django.db import connection as own

        try:
            with transaction.atomic():
                lock_lead_creation()
                holding.set()
                threading.Event().wait(0.5)  # the merge starts meanwhile
                Lead.objects.select_for_update().get(pk=survivor.pk)
            outcome.append("ok")
        except Exception as error:  # noqa: BLE001 - surfaced by the assertion
            outcome.append(repr(error))
        finally:
            own.close()

    other = threading.Thread(target=importer)
    other.start()
    assert holding.wait(10)
    merge_records(
        object_type="lead", user=org.admin, survivor_id=survivor.pk, loser_id=loser.pk, picks={"phone": "loser"}
    )
    other.join(20)
    assert outcome == ["ok"]
    survivor.refresh_from_db()
    assert survivor.phone == "+8613900139000"


def test_someone_who_may_not_edit_the_lead_is_refused_without_waiting_for_an_import(org, set_rule):
    from django.db import transaction

    from core.choices import Scope
    from core.errors import NotFoundError
    from leads.actions import update_lead
    from leads.models import Lead

    set_rule("lead", "phone", action="block")
    lead = Lead.objects.create(company="别人的线索", phone="+8613700137000", owner=org.admin)
    outsider = org.user("outsider", org.south, scope=Scope.OWN)
    with another_writer(org, release_after=None), transaction.atomic():
        with connection.cursor() as cursor:  # were it to wait for the import, it would fail here instead
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        with pytest.raises(NotFoundError):
            update_lead(lead=lead, user=outsider, data={"phone": "13900139000"})
