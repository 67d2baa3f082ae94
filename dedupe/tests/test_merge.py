"""Merging two accounts, contacts or leads: the survivor keeps everything of both, the loser goes to the
recycle bin marked as merged, and the merge can be reviewed."""

import datetime

import pytest
from django.utils import timezone

from core.choices import HistoryAction, ObjectType, Scope, ShareAccess
from core.errors import NotFoundError, PermissionDeniedError
from dedupe.actions import merge_preview, merge_records

pytestmark = pytest.mark.django_db

A, L, C = ObjectType.ACCOUNT, ObjectType.LEAD, ObjectType.CONTACT


@pytest.fixture
def stage(db):
    from opportunities.models import Stage

    return Stage.objects.filter(is_active=True).order_by("sort_order").first()


def followup(user, **links):
    from followups.actions import create_followup

    return create_followup(user=user, data={"content": "拜访", **links})


def opportunity(user, account, stage, **data):
    from opportunities.actions import create_opportunity

    return create_opportunity(
        user=user,
        data={
            "account": account,
            "name": "数据中心项目",
            "stage": stage,
            "expected_close_date": datetime.date(2030, 1, 1),
            **data,
        },
    )


def test_an_account_merge_keeps_everything_of_both(org, rep, other, make, stage):
    from accounts.models import Account
    from core import history
    from core.actions import share_record
    from core.models import RecordShare
    from dedupe.models import MergeRecord
    from search.models import SearchEntry

    survivor = make.account(rep, name="华为技术有限公司", phone="13800138000")
    loser = make.account(rep, name="華為技術（深圳）有限公司", credit_code="91440300708461136T")
    loser.tags.create(name="重点客户")
    child = make.account(rep, name="华为终端有限公司", parent=loser)
    contact = make.contact(rep, account=loser, name="李雷")
    deal = opportunity(rep, loser, stage, contact=contact)
    note = followup(rep, account=loser, contact=contact)
    share_record(instance=loser, user=rep, member=other, access=ShareAccess.EDIT)
    lead = make.lead(rep, company="华为")
    type(lead).all_objects.filter(pk=lead.pk).update(converted_account=loser)
    loser_history = history.for_record(loser).count()

    record = merge_records(
        object_type=A,
        user=rep,
        survivor_id=survivor.pk,
        loser_id=loser.pk,
        picks={"credit_code": "loser", "name": "survivor"},
    )

    survivor.refresh_from_db()
    assert survivor.credit_code == "91440300708461136T" and survivor.name == "华为技术有限公司"
    assert list(survivor.tags.values_list("name", flat=True)) == ["重点客户"]
    for related in (child, contact, deal, note):
        related.refresh_from_db()
    assert child.parent_id == contact.account_id == deal.account_id == note.account_id == survivor.pk
    lead.refresh_from_db()
    assert lead.converted_account_id == survivor.pk
    assert RecordShare.objects.filter(object_type=A, object_id=survivor.pk, user=other, access="edit").exists()
    assert not RecordShare.objects.filter(object_type=A, object_id=loser.pk).exists()
    survivor_history = history.for_record(survivor)
    assert survivor_history.filter(object_repr__startswith="華為").count() >= loser_history
    assert survivor_history.first().note.startswith("Merged “華為技術（深圳）有限公司”")
    loser = Account.all_objects.get(pk=loser.pk)
    assert loser.deleted_at is not None and loser.deleted_by == rep
    assert history.for_record(loser).get().action == HistoryAction.DELETE
    assert "Merged into “华为技术有限公司”" in history.for_record(loser).get().note
    assert not SearchEntry.objects.filter(object_type=A, object_id=loser.pk).exists()
    assert record == MergeRecord.objects.get(object_type=A, survivor_id=survivor.pk, loser_id=loser.pk)
    assert record.actor == rep and record.picks["credit_code"] == "loser" and record.picks["name"] == "survivor"
    moved = record.moved
    assert moved["contacts.contact"] == moved["opportunities.opportunity"] == moved["followups.followup"] == 1
    assert moved["children"] == 1 and moved["team"] == 1 and moved["history"] == loser_history


def test_picked_values_update_the_search_index_and_the_duplicate_keys(org, rep, make):
    from accounts.models import Account
    from search.models import SearchEntry

    survivor = make.account(rep, name="甲方有限公司")
    loser = make.account(rep, name="紫光国芯微电子股份有限公司")
    merge_records(object_type=A, user=rep, survivor_id=survivor.pk, loser_id=loser.pk, picks={"name": "loser"})
    survivor = Account.objects.get(pk=survivor.pk)
    assert (survivor.name, survivor.match_name) == ("紫光国芯微电子股份有限公司", "紫光国芯微电子")
    assert "紫光国芯" in SearchEntry.objects.get(object_type=A, object_id=survivor.pk).tokens


def test_merging_needs_edit_on_the_survivor_and_delete_on_the_loser(org, rep, other, make):
    no_delete = org.user("nodelete", org.sh, scope=Scope.OWN, actions=("view", "create", "edit"))
    survivor = make.lead(no_delete, company="甲")
    loser = make.lead(no_delete, company="乙")
    with pytest.raises(PermissionDeniedError):
        merge_records(object_type=L, user=no_delete, survivor_id=survivor.pk, loser_id=loser.pk)
    hidden = make.lead(other, company="丙")
    mine = make.lead(rep, company="丁")
    with pytest.raises(NotFoundError):
        merge_records(object_type=L, user=rep, survivor_id=mine.pk, loser_id=hidden.pk)
    with pytest.raises(NotFoundError):
        merge_records(object_type=L, user=rep, survivor_id=hidden.pk, loser_id=mine.pk)
    viewer = org.user("viewer", org.sh, scope=Scope.ALL, actions=("view", "delete"))
    with pytest.raises(PermissionDeniedError):
        merge_records(object_type=L, user=viewer, survivor_id=mine.pk, loser_id=hidden.pk)


def test_a_merge_is_one_transaction(org, rep, make):
    """A survivor that cannot take a picked value (its owner has left) leaves both records untouched."""
    from contacts.models import Contact
    from leads.models import Lead

    gone = org.user("gone", org.sh, scope=Scope.OWN)
    manager = org.user("manager", org.sh, scope=Scope.ALL)
    account = make.account(rep, name="甲方")
    survivor = make.contact(rep, account=account, name="王五")
    loser = make.contact(manager, account=account, name="王五", owner=gone)
    note = followup(manager, contact=loser)
    gone.is_active = False
    gone.save()
    with pytest.raises(Exception) as caught:
        merge_records(object_type=C, user=manager, survivor_id=survivor.pk, loser_id=loser.pk, picks={"owner": "loser"})
    assert "owner" in caught.value.message_dict
    assert Contact.objects.filter(pk=loser.pk).exists()
    note.refresh_from_db()
    assert note.contact_id == loser.pk
    assert not Lead.objects.exists()


def test_bad_picks_are_field_errors(org, rep, make):
    a, b = make.lead(rep, company="甲"), make.lead(rep, company="乙")
    with pytest.raises(Exception) as caught:
        merge_records(object_type=L, user=rep, survivor_id=a.pk, loser_id=b.pk, picks={"nope": "loser", "company": "x"})
    assert set(caught.value.message_dict) == {"picks.nope", "picks.company"}
    with pytest.raises(Exception) as caught:
        merge_records(object_type=L, user=rep, survivor_id=a.pk, loser_id=a.pk)
    assert "loser_id" in caught.value.message_dict


def test_a_lead_merge_moves_follow_ups_and_keeps_the_latest_activity_and_facts(org, rep, make):
    from leads.models import Lead

    survivor = make.lead(rep, company="华为技术有限公司", contact_name="张伟", facts={"budget": True})
    loser = make.lead(rep, company="华为技术", contact_name="李娜", phone="13800138000", facts={"has_project": True})
    followup(rep, lead=survivor, occurred_at=timezone.now() - datetime.timedelta(days=10))
    latest = followup(rep, lead=loser, occurred_at=timezone.now() - datetime.timedelta(days=1))
    merge_records(object_type=L, user=rep, survivor_id=survivor.pk, loser_id=loser.pk, picks={"phone": "loser"})
    survivor = Lead.objects.get(pk=survivor.pk)
    assert survivor.phone == "+8613800138000" and survivor.contact_name == "张伟"
    assert survivor.facts == {"budget": True, "has_project": True}
    assert survivor.last_followup_at == latest.occurred_at
    assert survivor.followups.count() == 2


def test_a_contact_merge_moves_its_deals_and_follow_ups(org, rep, make, stage):
    from contacts.models import Contact
    from opportunities.actions import update_opportunity

    account = make.account(rep, name="甲方")
    survivor = make.contact(rep, account=account, name="王五")
    loser = make.contact(rep, account=account, name="王五", email="wang@example.com")
    deal = opportunity(rep, account, stage, contact=loser)
    note = followup(rep, contact=loser)
    merge_records(object_type=C, user=rep, survivor_id=survivor.pk, loser_id=loser.pk, picks={"email": "loser"})
    survivor = Contact.objects.get(pk=survivor.pk)
    assert survivor.account_id == account.pk and survivor.email == "wang@example.com"
    deal.refresh_from_db()
    note.refresh_from_db()
    assert deal.contact_id == note.contact_id == survivor.pk
    assert update_opportunity(opportunity=deal, user=rep, data={"name": "数据中心二期"}).name == "数据中心二期"


@pytest.mark.parametrize(
    "picks",
    [{}, {"account": "loser"}],
    ids=["loser-deals-would-follow-the-survivor", "survivor-would-take-the-losers-account"],
)
def test_contacts_of_different_accounts_are_not_merged(org, rep, make, stage, picks):
    """The loser's deals would get a key contact working elsewhere, or, taking the loser's account, the
    survivor's own deals would: the merge is refused and nothing changes."""
    from contacts.models import Contact
    from core.errors import DomainError
    from dedupe.models import MergeRecord

    first, second = make.account(rep, name="甲方"), make.account(rep, name="乙方")
    survivor = make.contact(rep, account=first, name="王五")
    loser = make.contact(rep, account=second, name="王五", email="wang@example.com")
    own_deal = opportunity(rep, first, stage, contact=survivor)
    deal = opportunity(rep, second, stage, contact=loser)
    note = followup(rep, contact=loser)
    with pytest.raises(DomainError) as caught:
        merge_records(object_type=C, user=rep, survivor_id=survivor.pk, loser_id=loser.pk, picks=picks)
    assert caught.value.code == "merge_accounts_differ" and caught.value.status == 409
    assert "picks.account" in caught.value.fields and "乙方" in str(caught.value.message)
    assert Contact.objects.get(pk=survivor.pk).account_id == first.pk
    assert Contact.objects.filter(pk=loser.pk).exists() and not MergeRecord.objects.exists()
    for record in (own_deal, deal, note):
        record.refresh_from_db()
    assert (own_deal.contact_id, deal.contact_id, note.contact_id) == (survivor.pk, loser.pk, loser.pk)


def test_the_merge_page_and_the_api_refuse_contacts_of_different_accounts(org, rep, make, api_for, web_for):
    survivor = make.contact(rep, account=make.account(rep, name="甲方"), name="王五")
    loser = make.contact(rep, account=make.account(rep, name="乙方"), name="王五")
    body = {"object": "contact", "survivor_id": survivor.pk, "loser_id": loser.pk, "picks": {"account": "loser"}}
    r = api_for(rep).post("/duplicates/merge", body)
    assert r.status_code == 409 and r.json_body["code"] == "merge_accounts_differ"
    assert "picks.account" in r.json_body["errors"]
    page = web_for(rep).get("/duplicates/merge/", {"object": "contact", "survivor": survivor.pk, "loser": loser.pk})
    html = page.content.decode()
    assert page.status_code == 200 and "Only contacts of the same account can be merged" in html
    assert 'type="submit" class="btn btn-primary px-4" disabled' in html


def test_a_converted_lead_merged_into_an_open_one_leaves_a_converted_lead(org, rep, make):
    """The survivor takes the loser's conversion and says so: it is no longer invalid, and like any
    converted lead it does not go back to a public pool."""
    from core.errors import DomainError
    from leads.actions import convert_lead
    from leads.choices import LeadStatus
    from leads.models import Lead
    from pools.actions import release_lead
    from pools.models import Pool

    survivor = make.lead(
        rep, company="华为技术有限公司", status="invalid", invalid_reason="no_need", invalid_note="暂无"
    )
    loser = convert_lead(lead=make.lead(rep, company="华为技术", contact_name="李娜"), user=rep)
    merge_records(object_type=L, user=rep, survivor_id=survivor.pk, loser_id=loser.pk, picks={"status": "survivor"})
    survivor = Lead.objects.get(pk=survivor.pk)
    assert survivor.status == LeadStatus.CONVERTED and survivor.get_status_display() == "Converted"
    assert (survivor.invalid_reason, survivor.invalid_note) == ("", "")
    assert survivor.converted_account_id == loser.converted_account_id is not None
    pool = Pool.objects.create(name="华东线索公海", object_type="lead")
    pool.member_departments.add(org.east)
    with pytest.raises(DomainError) as caught:
        release_lead(lead_id=survivor.pk, user=rep, reason="no_need", pool=pool)
    assert caught.value.code == "converted"


def test_a_converted_survivor_stays_converted_whatever_status_is_picked(org, rep, make):
    from leads.actions import convert_lead
    from leads.choices import LeadStatus
    from leads.models import Lead

    survivor = convert_lead(lead=make.lead(rep, company="华为技术有限公司", contact_name="张伟"), user=rep)
    loser = make.lead(rep, company="华为技术", status="contacted")
    rows = {r["key"]: r for r in merge_preview(object_type=L, survivor=survivor, loser=loser)}
    assert rows["status"]["differs"] is False and rows["status"]["result"] == "Converted"
    merge_records(object_type=L, user=rep, survivor_id=survivor.pk, loser_id=loser.pk, picks={"status": "loser"})
    merged = Lead.objects.get(pk=survivor.pk)
    assert merged.status == LeadStatus.CONVERTED
    assert merged.converted_account_id == survivor.converted_account_id


def test_a_lead_left_converted_but_open_by_an_earlier_merge_comes_out_converted(org, rep, make):
    from django.utils import timezone

    from leads.choices import LeadStatus
    from leads.models import Lead

    survivor, loser = make.lead(rep, company="华为技术有限公司"), make.lead(rep, company="华为技术")
    Lead.objects.filter(pk=survivor.pk).update(converted_at=timezone.now())  # status still "new"
    survivor.refresh_from_db()
    merge_records(object_type=L, user=rep, survivor_id=survivor.pk, loser_id=loser.pk)
    assert Lead.objects.get(pk=survivor.pk).status == LeadStatus.CONVERTED


# --- what names the loser by id ---------------------------------------------------------------------------------


def test_a_previous_owners_cool_down_follows_the_merged_lead(org, rep, make):
    """A rep who returned a lead to the pool cannot take it back early by way of the lead it was merged
    into, and the survivor's pool story keeps the return."""
    from core.errors import DomainError
    from pools.actions import claim_lead, release_lead
    from pools.models import ClaimLog, Pool

    pool = Pool.objects.create(name="华东线索公海", object_type="lead", cooldown_days=30)
    pool.member_departments.add(org.east)
    loser = make.lead(rep, company="华为技术")
    release_lead(lead_id=loser.pk, user=rep, reason="no_need", pool=pool)
    survivor = make.lead(company="华为技术有限公司", pool=pool)
    record = merge_records(object_type=L, user=org.admin, survivor_id=survivor.pk, loser_id=loser.pk)
    with pytest.raises(DomainError) as caught:
        claim_lead(lead_id=survivor.pk, user=rep)
    assert caught.value.code == "cooldown"
    assert ClaimLog.objects.filter(object_type=L, object_id=survivor.pk, user=rep, action="release").exists()
    assert record.moved["pools.claimlog"] == 1


def test_the_losers_web_form_submission_points_at_the_survivor(org, rep, make):
    from capture.models import FormSubmission, WebForm

    survivor, loser = make.lead(rep, company="华为技术有限公司"), make.lead(rep, company="华为技术")
    form = WebForm.objects.create(name="官网试用", title="申请试用", run_as=rep)
    submission = FormSubmission.objects.create(form=form, outcome="created", lead=loser)
    record = merge_records(object_type=L, user=rep, survivor_id=survivor.pk, loser_id=loser.pk)
    submission.refresh_from_db()
    assert submission.lead_id == survivor.pk
    assert "capture.formsubmission" not in record.moved  # not something the merge page talks about


def test_re_importing_the_losers_row_is_skipped_as_the_survivor(org, rep, make):
    import csv
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports import actions as imports
    from imports import pipeline
    from imports.choices import JobStatus
    from imports.models import ImportJob, job_rows
    from leads.models import Lead

    def run_import():
        out = io.StringIO()
        csv.writer(out).writerows([["客户名称", "联系人", "手机"], ["华为技术", "李娜", "13800138000"]])
        upload = SimpleUploadedFile("leads.csv", out.getvalue().encode("utf-8-sig"), content_type="text/csv")
        job = imports.upload(user=rep, uploaded_file=upload)
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
        return pipeline.run_job(job.pk)

    assert run_import().created_count == 1
    loser = Lead.objects.get(company="华为技术")
    survivor = make.lead(rep, company="华为技术有限公司")
    merge_records(object_type=L, user=rep, survivor_id=survivor.pk, loser_id=loser.pk)
    again = run_import()
    assert (again.created_count, again.skipped_count) == (0, 1)
    assert [(r.outcome, r.record_id) for r in job_rows(again)] == [("skipped", survivor.pk)]
    # merged on, and the loser purged from the recycle bin: the row still belongs to the last survivor
    last = make.lead(rep, company="华为")
    merge_records(object_type=L, user=rep, survivor_id=last.pk, loser_id=survivor.pk)
    Lead.all_objects.filter(pk=loser.pk).delete()
    third = run_import()
    assert [(r.outcome, r.record_id) for r in job_rows(third)] == [("skipped", last.pk)]
    # once the last survivor is purged, the row may be imported again, though the merged survivor in
    # between still sits in the recycle bin (it can never come back)
    assert Lead.all_objects.filter(pk=survivor.pk, deleted_at__isnull=False).exists()
    Lead.all_objects.filter(pk=last.pk).delete()
    assert run_import().created_count == 1


def test_earlier_merges_into_the_loser_are_listed_under_the_survivor(org, rep, make):
    from dedupe.actions import visible_merges

    first, middle, last = (make.lead(rep, company=name) for name in ("华为甲", "华为乙", "华为丙"))
    earlier = merge_records(object_type=L, user=rep, survivor_id=middle.pk, loser_id=first.pk)
    merge_records(object_type=L, user=rep, survivor_id=last.pk, loser_id=middle.pk)
    earlier.refresh_from_db()
    assert earlier.survivor_id == last.pk
    assert visible_merges(rep).filter(survivor_id=last.pk).count() == 2


def test_a_recycling_reminder_already_sent_follows_the_survivor_once(org, rep, make):
    import datetime as dt

    from pools.models import Pool, RecyclingReminder

    pool = Pool.objects.create(name="华东线索公海", object_type="lead")
    survivor, loser = make.lead(rep, company="华为技术有限公司"), make.lead(rep, company="华为技术")
    day, later = dt.date(2030, 1, 2), dt.date(2030, 1, 9)
    for lead, due in ((survivor, day), (loser, day), (loser, later)):
        RecyclingReminder.objects.create(object_type=L, object_id=lead.pk, owner=rep, due_date=due, pool=pool)
    merge_records(object_type=L, user=rep, survivor_id=survivor.pk, loser_id=loser.pk)
    kept = RecyclingReminder.objects.filter(object_type=L, object_id=survivor.pk)
    assert sorted(kept.values_list("due_date", flat=True)) == [day, later]
    assert not RecyclingReminder.objects.filter(object_type=L, object_id=loser.pk).exists()


def test_merging_a_parent_into_its_child_makes_no_cycle(org, rep, make):
    from accounts.models import Account
    from core import history

    top = make.account(rep, name="集团")
    parent = make.account(rep, name="华为投资控股有限公司", parent=top)
    middle = make.account(rep, name="中间层", parent=parent)
    child = make.account(rep, name="华为投资控股", parent=middle)
    rows = {r["key"]: r for r in merge_preview(object_type=A, survivor=child, loser=parent)}
    assert rows["parent"]["differs"] is False and rows["parent"]["result"] == "集团"
    merge_records(object_type=A, user=rep, survivor_id=child.pk, loser_id=parent.pk, picks={"parent": "survivor"})
    child = Account.objects.get(pk=child.pk)
    middle.refresh_from_db()
    assert child.parent_id == top.pk and middle.parent_id == child.pk
    # the survivor's history says it moved up the tree
    entry = history.for_record(child).first()
    assert entry.note.startswith("Merged “华为投资控股有限公司”")
    assert {"field": "parent", "label": "parent account", "old": "中间层", "new": "集团"} in entry.changes


def test_the_loser_owner_is_notified(org, rep, make):
    from core.models import Notification

    manager = org.user("manager", org.sh, scope=Scope.ALL)
    survivor, loser = make.lead(manager, company="甲"), make.lead(rep, company="甲公司")
    merge_records(object_type=L, user=manager, survivor_id=survivor.pk, loser_id=loser.pk)
    note = Notification.objects.get(user=rep)
    assert note.kind == "dedupe.merged" and note.url == f"/leads/{survivor.pk}/"


# --- API and pages ------------------------------------------------------------------------------------------------


def test_merge_through_the_api_with_a_preview_and_the_history(org, rep, other, make, api_for):
    survivor = make.account(rep, name="甲方科技", phone="13800138000")
    loser = make.account(rep, name="甲方科技有限公司", phone="13900139000")
    api = api_for(rep)
    preview = api.get(
        "/duplicates/merge/preview", {"object": "account", "survivor_id": survivor.pk, "loser_id": loser.pk}
    )
    assert preview.status_code == 200
    differing = {row["key"] for row in preview.json_body if row["differs"]}
    assert differing == {"name", "phone"}
    merged = api.post(
        "/duplicates/merge",
        {"object": "account", "survivor_id": survivor.pk, "loser_id": loser.pk, "picks": {"phone": "loser"}},
    )
    assert merged.status_code == 200, merged.json_body
    body = merged.json_body
    assert body["survivor_id"] == survivor.pk and body["picks"] == {"name": "survivor", "phone": "loser"}
    assert api.get(f"/accounts/{survivor.pk}").json_body["phone"] == "+8613900139000"
    assert api.get(f"/accounts/{loser.pk}").status_code == 404
    listed = api.get("/duplicates/merges", {"object": "account"}).json_body["results"]
    assert [m["id"] for m in listed] == [body["id"]]
    assert api.get(f"/duplicates/merges/{body['id']}").status_code == 200
    # someone who cannot see the survivor does not see the merge
    outsider = api_for(other)
    assert outsider.get("/duplicates/merges").json_body["results"] == []
    assert outsider.get(f"/duplicates/merges/{body['id']}").status_code == 404


def test_a_merge_reads_in_the_readers_language_whoever_made_it(org, rep, make, api_for, web_for):
    """Made by a rep working in Chinese, reviewed by a manager in English: labels follow the reader."""
    from django.utils import translation

    survivor = make.lead(rep, company="甲方科技", phone="13800138000")
    loser = make.lead(rep, company="甲方科技有限公司", phone="13900139000")
    followup(rep, lead=loser)
    with translation.override("zh-hans"):
        record = merge_records(object_type=L, user=rep, survivor_id=survivor.pk, loser_id=loser.pk, picks={})
    with translation.override("en"):
        assert ("follow-ups", 1) in record.moved_display()
        assert {row["label"] for row in record.fields_display()} >= {"company", "phone"}
    with translation.override("zh-hans"):
        assert ("跟进记录", 1) in record.moved_display()
        assert "公司名称" in {row["label"] for row in record.fields_display()}
    body = api_for(rep).get(f"/duplicates/merges/{record.pk}").json_body
    assert body["moved"]["followups.followup"] == 1
    page = web_for(rep).get(f"/duplicates/merges/{record.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "follow-ups: 1" in page and "跟进记录" not in page


def test_merge_api_refuses_without_permission_and_with_bad_input(org, rep, other, make, api_for):
    mine, hidden = make.lead(rep, company="甲"), make.lead(other, company="乙")
    api = api_for(rep)
    r = api.post("/duplicates/merge", {"object": "lead", "survivor_id": mine.pk, "loser_id": hidden.pk})
    assert r.status_code == 404 and r.json_body["code"] == "not_found"
    r = api.post("/duplicates/merge", {"object": "lead", "survivor_id": mine.pk, "loser_id": mine.pk})
    assert r.status_code == 422 and "loser_id" in r.json_body["errors"]
    r = api.post("/duplicates/merge", {"object": "lead", "survivor_id": mine.pk, "loser_id": 1, "picks": {"x": "y"}})
    assert r.status_code == 422


def test_merge_page_lets_the_user_pick_values_and_records_the_merge(org, rep, make, web_for):
    from dedupe.models import MergeRecord
    from leads.models import Lead

    survivor = make.lead(rep, company="华为技术有限公司", phone="13800138000")
    loser = make.lead(rep, company="华为技术", email="hw@example.com")
    web = web_for(rep)
    page = web.get("/duplicates/merge/", {"object": "lead", "ids": [loser.pk, survivor.pk]})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="pick_company"' in html and 'name="pick_email"' in html and 'name="pick_title"' not in html
    done = web.post(
        "/duplicates/merge/",
        {
            "object": "lead",
            "survivor": survivor.pk,
            "loser": loser.pk,
            "pick_company": "survivor",
            "pick_email": "loser",
            "pick_phone": "survivor",
        },
    )
    assert done.status_code == 302 and done["Location"] == f"/leads/{survivor.pk}/"
    assert Lead.objects.get(pk=survivor.pk).email == "hw@example.com"
    merge = MergeRecord.objects.get()
    history_page = web.get("/duplicates/merges/").content.decode()
    assert f"/duplicates/merges/{merge.pk}/" in history_page
    detail = web.get(f"/duplicates/merges/{merge.pk}/").content.decode()
    assert "hw@example.com" in detail and "华为技术有限公司" in detail


def test_merge_page_refuses_a_user_who_may_not_delete_the_loser(org, make, web_for):
    no_delete = org.user("nodelete", org.sh, scope=Scope.OWN, actions=("view", "create", "edit"))
    a, b = make.lead(no_delete, company="甲"), make.lead(no_delete, company="乙")
    assert (
        web_for(no_delete).get("/duplicates/merge/", {"object": "lead", "survivor": a.pk, "loser": b.pk}).status_code
        == 403
    )


def test_merging_a_child_into_its_parent_offers_no_parent_choice(org, rep, make):
    from accounts.models import Account

    parent = make.account(rep, name="华为投资控股有限公司")
    child = make.account(rep, name="华为投资控股", parent=parent)
    grandchild = make.account(rep, name="华为终端", parent=child)
    rows = {r["key"]: r for r in merge_preview(object_type=A, survivor=parent, loser=child)}
    assert rows["parent"]["differs"] is False and rows["name"]["differs"] is True
    merge_records(object_type=A, user=rep, survivor_id=parent.pk, loser_id=child.pk, picks={"parent": "loser"})
    assert Account.objects.get(pk=parent.pk).parent_id is None
    assert Account.objects.get(pk=grandchild.pk).parent_id == parent.pk


def test_a_link_that_cannot_move_stops_the_merge_with_a_clear_error(org, rep, make):
    from unittest import mock

    from django.db import IntegrityError
    from django.db.models.query import QuerySet

    from accounts.models import Account
    from core.errors import DomainError

    survivor, loser = make.account(rep, name="甲方"), make.account(rep, name="甲方公司")
    contact = make.contact(rep, account=loser, name="王五")
    with (
        mock.patch.object(QuerySet, "update", side_effect=IntegrityError("unique")),
        pytest.raises(DomainError) as caught,
    ):
        merge_records(object_type=A, user=rep, survivor_id=survivor.pk, loser_id=loser.pk)
    assert caught.value.code == "merge_conflict" and caught.value.status == 409
    assert Account.objects.filter(pk=loser.pk).exists()
    contact.refresh_from_db()
    assert contact.account_id == loser.pk


@pytest.mark.django_db
def test_a_merged_record_cannot_be_restored_from_the_recycle_bin(org, web_for):
    from accounts.models import Account
    from core import actions as core_actions
    from core.errors import DomainError
    from dedupe.actions import merge_records

    survivor = Account.objects.create(name="华为技术有限公司", owner=org.admin)
    loser = Account.objects.create(name="华为技术", owner=org.admin)
    merge_records(object_type="account", user=org.admin, survivor_id=survivor.pk, loser_id=loser.pk)
    loser = Account.all_objects.get(pk=loser.pk)
    assert loser.deleted_at is not None
    with pytest.raises(DomainError) as error:
        core_actions.restore_record(instance=loser, user=org.admin)
    assert error.value.code == "merged_record"
    response = web_for(org.admin).post(f"/recycle-bin/account/{loser.pk}/restore/")
    assert response.status_code == 302 and Account.all_objects.get(pk=loser.pk).deleted_at is not None
