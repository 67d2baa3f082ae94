"""Importing a spreadsheet of leads: every row ends somewhere, nothing twice, never half a batch."""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from core.choices import Scope
from imports import actions, parsing, pipeline
from imports.choices import JobStatus
from imports.models import ImportJob, ImportRow, job_rows
from leads.models import Lead

pytestmark = pytest.mark.django_db

HEADER = ["客户名称", "联系人", "手机", "邮箱", "省份", "城市", "线索来源", "备注"]
ROWS = [
    ["深圳市华为技术有限公司", "张三", "138 0013 8000", "ZHANG@huawei.com", "广东", "深圳市", "展会", "大客户"],
    ["广州汽车集团股份有限公司", "李四", "13912345678", "", "广东省", "广州", "Referral", ""],
    ["", "无名", "13700000000", "", "", "", "", ""],  # no company
    ["坏电话公司", "王五", "12345", "not-an-email", "火星", "", "", ""],  # bad phone, email, province
    [
        "深圳市华为技术有限公司",
        "张三",
        "138 0013 8000",
        "ZHANG@huawei.com",
        "广东",
        "深圳市",
        "展会",
        "大客户",
    ],  # repeat
    ['=HYPERLINK("http://x")', "公式", "13600000000", "", "", "", "", ""],
]


def csv_file(rows, encoding="utf-8-sig", header=HEADER, name="leads.csv"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode(encoding), content_type="text/csv")


@pytest.fixture
def rep(org):
    return org.user("importer", org.sh, scope=Scope.OWN)


def run(job):
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
    return pipeline.run_job(job.pk)


def test_gbk_csv_is_read_mapped_and_imported_row_by_row(rep):
    job = actions.upload(user=rep, uploaded_file=csv_file(ROWS, encoding="gbk"))
    assert job.header == HEADER and job.total_rows == 6
    assert job.mapping == {
        "0": "company",
        "1": "contact_name",
        "2": "phone",
        "3": "email",
        "4": "province",
        "5": "city",
        "6": "source",
        "7": "notes",
    }
    preview = actions.preview(job)
    assert preview[0]["data"]["phone"] == "+8613800138000" and not preview[0]["reasons"]
    assert set(preview[3]["reasons"]) == {"phone", "email", "province"}
    job = run(job)
    assert job.status == JobStatus.DONE
    assert (job.created_count, job.skipped_count, job.rejected_count, job.merged_count) == (3, 1, 2, 0)
    assert job.created_count + job.skipped_count + job.rejected_count + job.merged_count == job.total_rows == 6
    huawei = Lead.objects.get(company="深圳市华为技术有限公司")
    assert (huawei.phone, huawei.email, huawei.province_code, huawei.city_code, huawei.source, huawei.owner) == (
        "+8613800138000",
        "zhang@huawei.com",
        "44",
        "4403",
        "exhibition",
        rep,
    )
    assert Lead.objects.get(company__startswith="广州汽车").source == "referral"
    outcomes = {r.row_number: r.outcome for r in job_rows(job)}
    assert outcomes == {1: "created", 2: "created", 3: "rejected", 4: "rejected", 5: "skipped", 6: "created"}
    from core import history

    [created] = history.entries_for(huawei)
    assert (created.action, created.actor, created.at) == ("create", rep, huawei.created_at)
    assert "leads.csv" in created.note and "1" in created.note
    from search.service import search

    assert search(rep, "hwjs").groups["lead"][0].id == huawei.pk


def test_reimporting_the_same_file_creates_nothing_twice(rep):
    run(actions.upload(user=rep, uploaded_file=csv_file(ROWS)))
    second = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS)))
    assert second.created_count == 0 and second.skipped_count == 4 and second.rejected_count == 2
    assert Lead.objects.count() == 3
    skipped = ImportRow.objects.get(job=second, row_number=1)
    assert skipped.record_id == Lead.objects.get(company="深圳市华为技术有限公司").pk


def test_rows_matching_existing_leads_are_skipped_or_merged(rep, api_for):
    existing = api_for(rep).post("/leads/", {"company": "老客户", "phone": "13912345678"}).json_body
    job = actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2]))
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate="merge")
    job = run(job)
    assert (job.created_count, job.merged_count) == (1, 1)
    merged = Lead.objects.get(pk=existing["id"])
    assert merged.company == "老客户" and merged.contact_name == "李四" and merged.province_code == "44"


def test_rejected_rows_download_with_reasons_and_formula_safety(rep, web_for):
    job = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS)))
    response = web_for(rep).get(f"/imports/{job.pk}/rejected.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [*HEADER, "Reason"]
    assert [r[1] for r in rows[1:]] == ["无名", "王五"]
    assert "company" in rows[1][-1] and "phone" in rows[2][-1]
    formula = Lead.objects.get(contact_name="公式")
    assert formula.company.startswith("=")  # stored as typed; exports escape it
    export = web_for(rep).get("/leads/", {"export": "csv"})
    assert "'=HYPERLINK" in b"".join(export.streaming_content).decode("utf-8-sig")


def test_fixed_rejected_rows_import_again_with_the_files_mapping(org, rep, web_for, api_for):
    """The downloaded file (original columns + reason, formula cells quoted) goes back in as it is, fixed:
    the mapping chosen for the original layout applies, and the quotes the download added come off."""
    header = ["名头", "人", "电话号", "说明"]  # nothing guess_mapping knows
    mapping = {"0": "company", "1": "contact_name", "2": "phone", "3": "notes"}
    rows = [["好公司", "甲", "13800000001", ""], ["=公式公司", "乙", "12345", "-5 折"]]
    job = actions.upload(user=rep, uploaded_file=csv_file(rows, header=header))
    actions.set_mapping(job=job, user=rep, mapping=mapping, on_duplicate="skip")
    job = run(job)
    assert (job.created_count, job.rejected_count) == (1, 1)
    web = web_for(rep)
    web.cookies["django_language"] = "zh-hans"
    download = web.get(f"/imports/{job.pk}/rejected.csv").content.decode("utf-8-sig")
    fixed = list(csv.reader(io.StringIO(download)))
    assert fixed[0] == [*header, "原因"] and fixed[1][0] == "'=公式公司" and fixed[1][3] == "'-5 折"
    fixed[1][2] = "13800000002"  # the rep fixes the phone and leaves the reason where it is
    again = actions.upload(user=rep, uploaded_file=csv_file(fixed[1:], header=fixed[0], name="fixed.csv"))
    assert again.mapping == mapping
    again = run(again)
    assert (again.created_count, again.rejected_count) == (1, 0)
    lead = Lead.objects.get(contact_name="乙")
    assert lead.company == "=公式公司" and lead.notes == "-5 折" and lead.phone == "+8613800000002"
    # the same file through the Open API, for the importer only
    api = api_for(rep).get(f"/imports/{job.pk}/rejected.csv")
    assert api.status_code == 200 and api["Content-Type"].startswith("text/csv")
    assert api.content.decode("utf-8-sig").splitlines()[0] == ",".join([*header, "Reason"])
    assert "'=公式公司" in api.content.decode("utf-8-sig")
    assert api_for(org.user("nosy", org.sh, scope=Scope.ALL)).get(f"/imports/{job.pk}/rejected.csv").status_code == 404
    # in other files a leading quote is the user's own and stays
    plain = run(actions.upload(user=rep, uploaded_file=csv_file([["'=引号公司", "丙", "", ""]], header=header)))
    assert plain.created_count == 1 and Lead.objects.get(contact_name="丙").company == "'=引号公司"


def test_a_crash_mid_import_keeps_whole_batches_and_resumes(rep, monkeypatch):
    rows = [[f"公司{i:03d}", f"联系人{i}", f"1390000{i:04d}", "", "", "", "", ""] for i in range(25)]
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 10)
    job = actions.upload(user=rep, uploaded_file=csv_file(rows))
    calls = {"n": 0}
    real = pipeline.BatchWriter.record

    def crash_on_second_batch(writer, outcomes, decisions):  # the batch's leads are in, its row records are not
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(writer, outcomes, decisions)

    monkeypatch.setattr(pipeline.BatchWriter, "record", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        run(job)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.processed_rows == 10
    assert Lead.objects.count() == 10 and len(job_rows(job)) == 10  # never half a batch
    monkeypatch.setattr(pipeline.BatchWriter, "record", real)
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, error="")
    job = pipeline.run_job(job.pk)
    assert job.status == JobStatus.DONE and job.created_count == 25
    assert Lead.objects.count() == 25
    assert [r.row_number for r in job_rows(job)] == list(range(1, 26))


def test_xlsx_with_numeric_phone_cells(rep):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Company", "Name", "Mobile", "Province"])
    sheet.append(["ABB（中国）有限公司", "李娜", 13987654321, "北京"])
    data = io.BytesIO()
    book.save(data)
    job = actions.upload(user=rep, uploaded_file=SimpleUploadedFile("leads.xlsx", data.getvalue()))
    assert job.mapping == {"0": "company", "1": "contact_name", "2": "phone", "3": "province"}
    job = run(job)
    lead = Lead.objects.get()
    assert (lead.phone, lead.province_code) == ("+8613987654321", "11")


def test_the_mapping_is_remembered_for_the_same_layout(rep):
    header = ["A列", "B列"]
    job = actions.upload(user=rep, uploaded_file=csv_file([["甲公司", "张三"]], header=header))
    assert job.mapping == {}
    actions.set_mapping(job=job, user=rep, mapping={"0": "company", "1": "contact_name"}, on_duplicate="skip")
    again = actions.upload(user=rep, uploaded_file=csv_file([["乙公司", "李四"]], header=header))
    assert again.mapping == {"0": "company", "1": "contact_name"}


@pytest.mark.parametrize(
    "mapping, field",
    [
        ({"0": "contact_name"}, "mapping"),
        ({"0": "company", "1": "company"}, "mapping"),
        ({"0": "password"}, "mapping"),
        ({"99": "company"}, "mapping"),
    ],
)
def test_bad_mappings_are_refused(rep, mapping, field):
    from django.core.exceptions import ValidationError

    job = actions.upload(user=rep, uploaded_file=csv_file(ROWS))
    with pytest.raises(ValidationError) as error:
        actions.set_mapping(job=job, user=rep, mapping=mapping, on_duplicate="skip")
    assert field in error.value.message_dict


def test_bad_files_are_refused_with_a_reason(rep):
    from django.core.exceptions import ValidationError

    for upload in [
        SimpleUploadedFile("x.pdf", b"%PDF"),
        SimpleUploadedFile("x.csv", b""),
        SimpleUploadedFile("x.xlsx", b"not a zip"),
    ]:
        with pytest.raises(ValidationError) as error:
            actions.upload(user=rep, uploaded_file=upload)
        assert "file" in error.value.message_dict


def test_pages_upload_preview_and_progress(org, rep, web_for, django_capture_on_commit_callbacks, settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default", "imports"]}
    }
    web = web_for(rep)
    response = web.post("/imports/", {"file": csv_file(ROWS)})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    page = web.get(f"/imports/{job.pk}/").content.decode()
    assert 'data-testid="preview"' in page and "+8613800138000" in page
    mapping = {f"col_{i}": t for i, t in job.mapping.items()}
    with django_capture_on_commit_callbacks(execute=True):
        web.post(f"/imports/{job.pk}/", {**mapping, "on_duplicate": "skip", "default_source": "import", "start": "1"})
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 3
    progress = web.get(f"/imports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "100%" in progress and "rejected.csv" in progress
    other = org.user("other", org.sh, scope=Scope.OWN)
    assert web_for(other).get(f"/imports/{job.pk}/").status_code == 404
    nobody = org.user("nobody", org.sh)
    assert web_for(nobody).get("/imports/").status_code == 403


def test_the_finished_import_page_lists_what_became_of_each_row(org, rep, web_for, monkeypatch):
    """Per outcome, 50 rows a page: the lead a row created or matched is linked where the importer may
    open it; a row that matched a colleague's hidden lead says whose it is and links nothing."""
    from imports import views

    colleague = org.user("colleague", org.sh, scope=Scope.OWN)
    hidden = Lead.objects.create(company="同事的线索", phone="+8613912345678", owner=colleague)
    job = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS)))
    assert (job.created_count, job.skipped_count, job.rejected_count) == (2, 2, 2)
    web = web_for(rep)
    page = web.get(f"/imports/{job.pk}/").content.decode()
    assert 'data-testid="rows"' in page and page.count('<tr data-row="') == 6
    huawei = Lead.objects.get(company="深圳市华为技术有限公司")
    assert f'href="/leads/{huawei.pk}/">{huawei}</a>' in page

    skipped = web.get(f"/imports/{job.pk}/", {"outcome": "skipped"}).content.decode()
    assert skipped.count('<tr data-row="') == 2
    assert f"/leads/{hidden.pk}/" not in skipped and "同事的线索" not in skipped
    assert "owned by" in skipped  # the reason says whose lead it matched
    rejected = web.get(f"/imports/{job.pk}/", {"outcome": "rejected"}).content.decode()
    assert rejected.count('<tr data-row="') == 2 and "table-danger" in rejected

    monkeypatch.setattr(views, "ROWS_PER_PAGE", 4)
    first = web.get(f"/imports/{job.pk}/").content.decode()
    assert first.count('<tr data-row="') == 4 and "after=4" in first
    rest = web.get(f"/imports/{job.pk}/", {"after": "4"}).content.decode()
    assert rest.count('<tr data-row="') == 2 and 'data-testid="rows-next"' not in rest
    for bad in ({"outcome": "<script>"}, {"after": "x"}, {"after": "-3"}):
        assert web.get(f"/imports/{job.pk}/", bad).status_code == 200
    # a lead the import created and that has since gone to someone the importer cannot see: no link, and
    # no "already exists" either (that is for rows that matched a lead)
    Lead.objects.filter(pk=huawei.pk).update(owner=colleague)
    monkeypatch.setattr(views, "ROWS_PER_PAGE", 50)
    created = web.get(f"/imports/{job.pk}/", {"outcome": "created"}).content.decode()
    assert created.count('<tr data-row="') == 2 and f"/leads/{huawei.pk}/" not in created
    assert "Already exists" not in created


def test_duplicate_rules_an_admin_enforced_apply_to_imports(org, rep):
    from accounts.models import Account
    from dedupe.models import DuplicateRule

    account = Account.objects.create(name="华为技术有限公司", owner=rep)
    DuplicateRule.objects.update_or_create(
        object_type="lead", kind="account_name", defaults={"is_active": True, "action": "warn", "threshold": 85}
    )
    job = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2])))
    assert (job.created_count, job.skipped_count) == (1, 1)
    skipped = ImportRow.objects.get(job=job, row_number=1)
    assert skipped.outcome == "skipped" and skipped.record_id is None  # rows are leads; the account is named
    assert account.name in skipped.reasons["__all__"][0]
    assert not Lead.objects.filter(company="深圳市华为技术有限公司").exists()


def test_create_anyway_confirms_warnings_but_not_an_admins_block(org, rep):
    from dedupe.models import DuplicateRule

    existing = Lead.objects.create(company="老线索", phone="+8613912345678", owner=rep)
    warned = Lead.objects.create(company="另一条", email="zhang@huawei.com", owner=rep)
    DuplicateRule.objects.update_or_create(
        object_type="lead", kind="phone", defaults={"is_active": True, "action": "block", "threshold": 100}
    )
    DuplicateRule.objects.update_or_create(
        object_type="lead", kind="email", defaults={"is_active": True, "action": "warn", "threshold": 100}
    )
    job = actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2]))
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate="create")
    job = run(job)
    assert (job.created_count, job.skipped_count) == (1, 1)
    blocked = ImportRow.objects.get(job=job, row_number=2)  # 13912345678: the phone rule blocks
    assert blocked.outcome == "skipped" and blocked.record_id == existing.pk
    assert "老线索" in blocked.reasons["__all__"][0]
    # the e-mail rule only warns: "create it anyway" is the importer's confirmation
    assert Lead.objects.filter(company="深圳市华为技术有限公司").exists() and Lead.objects.filter(pk=warned.pk).exists()
    assert Lead.objects.filter(phone="+8613912345678").count() == 1
    # two new rows of one file sharing a phone: the block rule keeps the second out too
    twins = [
        ["双胞胎一", "甲", "13700000001", "", "", "", "", ""],
        ["双胞胎二", "乙", "13700000001", "", "", "", "", ""],
    ]
    job = actions.upload(user=rep, uploaded_file=csv_file(twins, name="twins.csv"))
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate="create")
    job = run(job)
    assert (job.created_count, job.skipped_count) == (1, 1)
    first = Lead.objects.get(company="双胞胎一")
    second = ImportRow.objects.get(job=job, row_number=2)
    assert second.outcome == "skipped" and second.record_id == first.pk
    assert "Same as row 1." in second.reasons["__all__"][0]


def name_rule(action, conditions=None):
    from dedupe.models import DuplicateRule

    DuplicateRule.objects.update_or_create(
        object_type="lead",
        kind="name",
        defaults={"is_active": True, "action": action, "threshold": 85, "conditions": conditions or {}},
    )


COMPANIES = [
    ["紫光国芯微电子股份有限公司", "甲", "13700000011", "", "", "", "", ""],
    ["广州汽车集团股份有限公司", "乙", "13700000012", "", "", "", "", ""],
    ["紫光国微", "丙", "13700000013", "", "", "", "", "大客户"],  # an abbreviation of row 1
    ["广汽集团", "丁", "13700000014", "", "", "", "", ""],  # of row 2, through 广州's initial
    ["北京银行", "戊", "13700000015", "", "", "", "", ""],
    ["上海银行", "己", "13700000016", "", "", "", "", ""],  # another bank, not a repeat of row 5
]


@pytest.mark.parametrize("on_duplicate", ["skip", "merge", "create"])
def test_a_name_rule_holds_rows_against_earlier_rows_of_the_same_file(rep, on_duplicate):
    """Rows of one file are not in the database while their chunk is checked: the admin's name rule must
    still find that 紫光国微 is the 紫光国芯微电子 of an earlier row (and 广汽集团 the 广州汽车集团)."""
    name_rule("block")
    job = actions.upload(user=rep, uploaded_file=csv_file(COMPANIES))
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate=on_duplicate)
    job = run(job)
    assert sorted(Lead.objects.values_list("company", flat=True)) == sorted(
        ["紫光国芯微电子股份有限公司", "广州汽车集团股份有限公司", "北京银行", "上海银行"]
    )
    unisoc = Lead.objects.get(company="紫光国芯微电子股份有限公司")
    gac = Lead.objects.get(company="广州汽车集团股份有限公司")
    outcome = "merged" if on_duplicate == "merge" else "skipped"
    rows = {r.row_number: r for r in job_rows(job)}
    assert (rows[3].outcome, rows[3].record_id) == (outcome, unisoc.pk)
    assert (rows[4].outcome, rows[4].record_id) == (outcome, gac.pk)
    assert rows[3].reasons["__all__"] == ["Same company as row 1."]
    assert [rows[n].outcome for n in (1, 2, 5, 6)] == ["created"] * 4
    assert (job.created_count, job.merged_count + job.skipped_count) == (4, 2)
    assert unisoc.notes == ("大客户" if on_duplicate == "merge" else "")  # merging fills what was empty


def test_a_name_rule_finds_an_abbreviation_of_a_row_in_an_earlier_chunk(rep, monkeypatch):
    """广汽集团 reaches 广州汽车集团 only through the abbreviation keys, which an import writes for its new
    leads chunk by chunk when a name rule applies (not only after the last row)."""
    name_rule("block")
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 2)
    rows = [COMPANIES[1], COMPANIES[4], COMPANIES[5], COMPANIES[3]]  # 广汽集团 in the second chunk
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert [(r.row_number, r.outcome) for r in job_rows(job)] == [
        (1, "created"),
        (2, "created"),
        (3, "created"),
        (4, "skipped"),
    ]
    assert job_rows(job)[3].record_id == Lead.objects.get(company="广州汽车集团股份有限公司").pk
    keys = [key for company, key in index_of_leads()[1] if company == "广州汽车集团股份有限公司"]
    assert "广汽" in keys and len(keys) == len(set(keys))  # written early, replaced when indexed: once each


def test_a_warning_name_rule_holds_rows_of_one_file_unless_the_importer_creates_anyway(rep):
    name_rule("warn")
    job = run(actions.upload(user=rep, uploaded_file=csv_file(COMPANIES[:3])))
    assert (job.created_count, job.skipped_count) == (2, 1)
    job = actions.upload(user=rep, uploaded_file=csv_file(COMPANIES[3:] + [["广汽", "庚", "", "", "", "", "", ""]]))
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate="create")
    job = run(job)
    assert job.created_count == 4  # a warning is the importer's to confirm
    assert Lead.objects.filter(company__in=["广汽集团", "广汽"]).count() == 2


def test_a_name_rules_conditions_apply_to_the_earlier_row(rep):
    """A rule that only holds against leads from exhibitions: a later row is held against an earlier
    exhibition row, not against one from elsewhere."""
    name_rule("block", {"all": [{"field": "source", "op": "in", "value": ["exhibition"]}]})
    rows = [
        ["紫光国芯微电子股份有限公司", "甲", "", "", "", "", "展会", ""],
        ["紫光国微", "乙", "", "", "", "", "", ""],
        ["北京银行股份有限公司", "丙", "", "", "", "", "Referral", ""],
        ["北京银行", "丁", "", "", "", "", "", ""],
    ]
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert [(r.row_number, r.outcome) for r in job_rows(job)] == [
        (1, "created"),
        (2, "skipped"),
        (3, "created"),
        (4, "created"),
    ]


def test_rows_matching_leads_the_importer_cannot_see_reveal_only_the_owner(org, rep, api_for):
    from leads.models import Lead

    other = org.user("southrep", org.south, scope=Scope.OWN)
    hidden = Lead.objects.create(company="别人的线索", phone="+8613912345678", owner=other)
    job = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2])))
    assert job.skipped_count == 1
    stored = ImportRow.objects.get(job=job, row_number=2)
    assert stored.record_id == hidden.pk  # kept internally so a re-import can point at it
    rows = api_for(rep).get(f"/imports/{job.pk}/rows", {"outcome": "skipped"}).json_body["results"]
    assert [r["record_id"] for r in rows] == [None]
    assert "别人的线索" not in str(rows) and "13912345678" not in str(rows)
    assert rows[0]["reasons"] == {"__all__": [f"Already exists, owned by {other.name} (华南分公司)."]}


def outcomes_of(job):
    return [(r.row_number, r.outcome, r.reasons) for r in job_rows(job)]


def index_of_leads():
    """Search tokens and abbreviation keys of the live leads, by company (ids differ between runs)."""
    from dedupe.models import NameKey
    from search.models import SearchEntry

    companies = dict(Lead.objects.values_list("pk", "company"))
    entries = SearchEntry.objects.filter(object_type="lead", object_id__in=companies)
    keys = NameKey.objects.filter(object_type="lead", object_id__in=companies)
    return (
        sorted((companies[e.object_id], e.tokens) for e in entries),
        sorted((companies[k.object_id], k.key) for k in keys),
    )


@pytest.mark.django_db(transaction=True)  # the helper reads on its own connection: data must be committed
def test_a_helper_process_normalises_big_files_with_the_same_outcomes(rep, settings):
    """Above the threshold a forked helper reads, normalises and screens, and another builds the search
    tokens; every row must end the same way and be found by the same tokens and abbreviation keys."""
    Lead.objects.create(company="早已有之", phone="+8613600000000")  # the last row's phone: found by the helper
    settings.TIDE_IMPORT_PARALLEL_ROWS = 0
    small = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS)))
    in_process = [(n, o, r) for n, o, r in outcomes_of(small)]
    index_in_process = index_of_leads()
    assert index_in_process[0] and index_in_process[1]
    Lead.all_objects.exclude(company="早已有之").delete()
    ImportJob.objects.all().delete()
    settings.TIDE_IMPORT_PARALLEL_ROWS = 1
    job = actions.upload(user=rep, uploaded_file=csv_file(ROWS))
    assert pipeline.use_helper_process(job)
    job = run(job)
    assert job.status == JobStatus.DONE and job.indexed
    assert outcomes_of(job) == in_process
    assert (job.created_count, job.rejected_count, job.skipped_count) == (2, 2, 2)
    assert index_of_leads() == index_in_process


def test_the_new_leads_become_searchable_and_findable_by_abbreviation(rep):
    from dedupe.models import NameKey
    from dedupe.service import Probe, find_duplicates, rules_for
    from search.models import SearchEntry
    from search.service import search

    job = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS)))
    assert job.indexed and not job.indexing
    gac = Lead.objects.get(company="广州汽车集团股份有限公司")
    assert search(rep, "gzqc").groups["lead"][0].id == gac.pk  # pinyin initials of the imported name
    assert NameKey.objects.filter(object_type="lead", object_id=gac.pk).exists()
    probe = Probe.build("lead", name="广汽集团")
    assert gac.pk in {hit.pk for hit in find_duplicates(probe, rules_for("lead"))}
    # running the indexing again (a restart) leaves one set of entries, not two
    entries = SearchEntry.objects.filter(object_type="lead").count()
    keys = NameKey.objects.filter(object_type="lead").count()
    pipeline.index_job(job)
    assert SearchEntry.objects.filter(object_type="lead").count() == entries
    assert NameKey.objects.filter(object_type="lead").count() == keys


def test_a_deleted_lead_is_not_indexed_when_indexing_catches_up(rep):
    from search.models import SearchEntry

    job = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2])))
    lead = Lead.objects.get(company="广州汽车集团股份有限公司")
    Lead.objects.filter(pk=lead.pk).update(deleted_at=lead.created_at)
    ImportJob.objects.filter(pk=job.pk).update(indexed=False)
    pipeline.index_job(job)
    assert not SearchEntry.objects.filter(object_type="lead", object_id=lead.pk).exists()


def test_the_same_phone_or_email_twice_in_one_file_creates_one_lead(rep):
    rows = [
        ["甲公司", "甲", "13811112222", "", "", "", "", ""],
        ["乙公司", "乙", "+86 138-1111-2222", "", "", "", "", ""],  # the same number, written differently
        ["丙公司", "丙", "", "boss@bing.cn", "", "", "", ""],
        ["丁公司", "丁", "", "BOSS@bing.cn", "", "", "", ""],
    ]
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert job.created_count == 2 and job.skipped_count == 2
    second = ImportRow.objects.get(job=job, row_number=2)
    assert second.outcome == "skipped" and "1" in second.reasons["__all__"][0]
    fourth = ImportRow.objects.get(job=job, row_number=4)
    assert second.record_id == Lead.objects.get(company="甲公司").pk  # the lead the earlier row created
    assert fourth.record_id == Lead.objects.get(company="丙公司").pk


def test_a_repeat_points_at_the_lead_its_earlier_row_was_merged_into(rep):
    """The earlier row matched an existing lead: its repeats go to that lead too (merged, in merge mode)."""
    assert run(actions.upload(user=rep, uploaded_file=csv_file([ROWS[0]]))).created_count == 1
    existing = Lead.objects.get(company=ROWS[0][0])
    rows = [
        ["新公司", "", "", "", "", "", "", ""],
        ["华为分部", "新联系人", ROWS[0][2], "", "", "", "", ""],  # the existing lead's phone: merged
        ["华为又一分部", "", ROWS[0][2], "", "", "", "", ""],  # repeats row 2's phone
    ]
    job = actions.upload(user=rep, uploaded_file=csv_file(rows))
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate="merge")
    job = run(job)
    outcomes = {r.row_number: (r.outcome, r.record_id) for r in job_rows(job)}
    assert outcomes[2] == ("merged", existing.pk) and outcomes[3] == ("merged", existing.pk)


def test_phone_and_email_lookups_use_the_partial_indexes(rep):
    """A lookup that scans every lead makes a big import quadratic; the query plan must name the index."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    with CaptureQueriesContext(connection) as captured:
        pipeline.match_existing({"+8613800138000"}, {"a@b.cn"})
    for query in captured.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "lead_phone_idx" in plan or "lead_email_idx" in plan, plan


def test_import_runs_the_assignment_rules_and_says_so_in_the_history(rep, org, web_for, api_for):
    from django.utils import translation

    from assignment.models import AssignmentRule, RuleMember
    from core import history
    from pools.models import Pool

    a, b = org.user("rep_a", org.sh), org.user("rep_b", org.sh)
    rule = AssignmentRule.objects.create(
        name="展会轮询",
        order=1,
        strategy="round_robin",
        conditions={"all": [{"field": "source", "op": "in", "value": ["exhibition"]}]},
    )
    RuleMember.objects.create(rule=rule, user=a, position=0)
    RuleMember.objects.create(rule=rule, user=b, position=1)
    pool = Pool.objects.create(name="公海", object_type="lead")
    AssignmentRule.objects.create(name="其余进公海", order=2, strategy="pool", pool=pool)
    rows = [[f"展会公司{i}", "", f"1390000{i:04d}", "", "", "", "展会", ""] for i in range(4)]
    rows.append(["官网公司", "", "13911110000", "", "", "", "官网", ""])
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert job.created_count == 5
    owners = list(Lead.objects.filter(company__startswith="展会公司").order_by("pk").values_list("owner", flat=True))
    assert owners == [a.pk, b.pk, a.pk, b.pk]  # round-robin in a fixed order
    web = Lead.objects.get(company="官网公司")
    assert web.owner_id is None and web.pool_id == pool.pk and web.pool_entered_at is not None
    with translation.override("en"):
        [entry] = history.entries_for(web)
    assert "其余进公海" in entry.note and "leads.csv, row 5" in entry.note  # the rule that placed it, and the row
    second = Lead.objects.filter(company="展会公司1").get()
    with translation.override("zh-hans"):
        [entry] = history.entries_for(second)
    assert "展会轮询" in entry.note and "第 2 行" in entry.note  # in the reader's language
    page = web_for(org.admin).get(f"/leads/{web.pk}/")
    assert "其余进公海" in page.content.decode()  # the lead's page shows it
    [entry] = api_for(org.admin).get(f"/leads/{web.pk}/history").json_body["results"]  # and the API
    assert entry["id"] is None and entry["action"] == "create" and "leads.csv, row 5" in entry["note"]
    # a merge keeps the imported lead's origin on the survivor
    from dedupe.actions import merge_records

    merge_records(object_type="lead", user=org.admin, survivor_id=second.pk, loser_id=web.pk)
    notes = [e.note for e in history.entries_for(second)]
    assert any("其余进公海" in n for n in notes) and any("展会轮询" in n for n in notes)


def test_an_import_whose_indexing_died_is_indexed_again_by_the_scheduler(rep, settings):
    import datetime

    from django.utils import timezone

    from search.models import SearchEntry

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": []}}
    job = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2])))
    SearchEntry.objects.filter(object_type="lead").delete()  # the worker died before indexing
    ImportJob.objects.filter(pk=job.pk).update(indexed=False)
    assert actions.resume_interrupted() == 0  # within the grace period a live worker may still be at it
    ImportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - datetime.timedelta(minutes=3))
    assert actions.resume_interrupted() == 1
    job.refresh_from_db()
    assert job.indexed and SearchEntry.objects.filter(object_type="lead").count() == 2


def test_big_files_commit_in_bigger_batches_within_a_bounded_write_lock():
    """A million-row file commits every 50,000 rows (fewer index page write-backs); small files keep the
    base size, and no file holds the write lock for more than five base batches at a time."""
    base = pipeline.BATCH_SIZE
    assert pipeline.rows_per_batch(25) == pipeline.rows_per_batch(150_000) == base
    assert base < pipeline.rows_per_batch(300_000) < 10 * base
    assert pipeline.rows_per_batch(1_000_000) == pipeline.rows_per_batch(50_000_000) == 10 * base


def test_created_rows_are_stored_as_runs_and_read_back_row_by_row(rep, api_for):
    """Consecutive created rows are one stored run; the API still pages through them one row at a time,
    each with its own lead, in either order and filtered by outcome."""
    rows = [[f"连号公司{i}", "赵六", f"1390000{i:04d}", "", "", "", "", ""] for i in range(1, 8)]
    rows[2] = ["", "无名", "13700000000", "", "", "", "", ""]  # row 3: rejected, breaks the run
    rows[4] = list(rows[3])  # row 5 repeats row 4: skipped
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert (job.created_count, job.rejected_count, job.skipped_count) == (5, 1, 1)
    created = ImportRow.objects.filter(job=job, outcome="created").order_by("row_number")
    assert [(e.row_number, e.row_count) for e in created] == [(1, 2), (4, 1), (6, 2)]
    leads = {lead.company: lead.pk for lead in Lead.objects.all()}
    expected = [
        (1, "created", leads["连号公司1"]),
        (2, "created", leads["连号公司2"]),
        (3, "rejected", None),
        (4, "created", leads["连号公司4"]),
        (5, "skipped", leads["连号公司4"]),  # as the lead row 4 created
        (6, "created", leads["连号公司6"]),
        (7, "created", leads["连号公司7"]),
    ]
    client = api_for(rep)

    def walk(**params):
        seen, cursor = [], None
        while True:
            body = client.get(
                f"/imports/{job.pk}/rows", {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
            )
            assert body.status_code == 200
            seen += [(r["row_number"], r["outcome"], r["record_id"]) for r in body.json_body["results"]]
            cursor = body.json_body["next_cursor"]
            if not cursor:
                return seen

    assert "4" in job_rows(job, outcome="skipped")[0].reasons["__all__"][0]  # "same as row 4"
    assert walk() == expected
    assert walk(ordering="-row_number") == expected[::-1]
    assert walk(outcome="created") == [row for row in expected if row[1] == "created"]
    assert [r.row_number for r in job_rows(job, after=1, limit=3)] == [2, 3, 4]  # starts inside a run
    assert [r.row_number for r in job_rows(job, after=7, descending=True, limit=3)] == [6, 5, 4]


def test_a_lead_imported_before_creations_were_derived_shows_its_creation_once(rep):
    """Imports used to write a history entry per lead; the migration marks their outcome records so such a
    lead keeps that one entry and gets no second, derived one."""
    import importlib

    from django.apps import apps as django_apps

    from core import history
    from core.models import ChangeLog

    run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:1])))
    lead = Lead.objects.get()
    [derived] = history.entries_for(lead)
    assert derived.pk is None and "leads.csv" in derived.note
    ChangeLog.objects.create(
        object_type="lead", object_id=lead.pk, object_repr=str(lead), action="create", actor=rep, note="旧的导入记录"
    )
    importlib.import_module("imports.migrations.0003_import_row_runs").mark_stored(django_apps, None)
    assert [e.note for e in history.entries_for(lead)] == ["旧的导入记录"]


@pytest.mark.django_db(transaction=True)  # the helper reads on its own connection: data must be committed
@pytest.mark.parametrize("on_duplicate", ["skip", "merge"])
def test_a_row_repeating_an_earlier_row_of_one_transaction_is_that_row_again(rep, settings, monkeypatch, on_duplicate):
    """With a helper process several chunks share a transaction. A row sharing an earlier row's phone is
    skipped as the lead that row created, or merged into it, as it would be were that lead older; a row
    repeating an earlier one whole is skipped as it."""
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 10)
    settings.TIDE_IMPORT_PARALLEL_ROWS = 1  # the helper process, as for a big file
    rows = [[f"分块公司{i}", "", f"1380000{i:04d}", "", "", "", "", ""] for i in range(1, 201)]
    rows[14] = ["分块公司五", "另一个人", rows[4][2], "", "", "", "", ""]  # row 15 repeats row 5's mobile
    rows[44] = ["分块公司七", "", rows[6][2], "", "", "", "", ""]  # row 45: row 7's mobile, two transactions on
    rows[45] = list(rows[8])  # row 46 repeats row 9 whole
    # row 100 (chunk 10) repeats row 1 (chunk 1): as far back as the screen remembers (two generations of
    # five chunks), so the writer must remember as far
    rows[99] = ["分块公司一", "", rows[0][2], "", "", "", "", ""]
    job = actions.upload(user=rep, uploaded_file=csv_file(rows))
    assert pipeline.rows_per_batch(job.total_rows) == 20  # two chunks to a transaction
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate=on_duplicate)
    job = run(job)
    merging = on_duplicate == "merge"
    assert (job.created_count, job.skipped_count, job.merged_count) == (196, 1 if merging else 4, 3 if merging else 0)
    outcomes = {r.row_number: (r.outcome, r.record_id, r.reasons) for r in job_rows(job) if r.outcome != "created"}
    lead = {n: Lead.objects.get(company=f"分块公司{n}").pk for n in (1, 5, 7, 9)}
    kept = "merged" if merging else "skipped"
    assert outcomes[15][:2] == (kept, lead[5]) and "5" in outcomes[15][2]["__all__"][0]
    assert outcomes[45][:2] == (kept, lead[7]) and "7" in outcomes[45][2]["__all__"][0]
    assert outcomes[46][:2] == ("skipped", lead[9])
    assert outcomes[100][:2] == (kept, lead[1]) and "1" in outcomes[100][2]["__all__"][0]
    assert Lead.objects.get(pk=lead[5]).contact_name == ("另一个人" if merging else "")  # its empty field filled


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write-ahead log")
@pytest.mark.django_db(transaction=True)
def test_a_big_imports_checkpoints_run_beside_it_and_the_connection_gets_its_own_back(rep, settings, monkeypatch):
    """Transactions of several chunks are checkpointed by a thread of their own while the writer goes on;
    every row is in, and the worker's connection checkpoints
    its own commits again afterwards (or its log would grow without end)."""
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 10)
    settings.TIDE_IMPORT_PARALLEL_ROWS = 1
    checkpoints = []
    real = pipeline.BackgroundCheckpoints.committed

    def counted(self):
        real(self)
        checkpoints.append(self.thread is not None)

    monkeypatch.setattr(pipeline.BackgroundCheckpoints, "committed", counted)
    rows = [[f"检查点公司{i}", "", f"1390000{i:04d}", "", "", "", "", ""] for i in range(1, 201)]
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert job.created_count == 200 and Lead.objects.filter(company__startswith="检查点公司").count() == 200
    assert len(checkpoints) == 10 and all(checkpoints)  # ten transactions of two chunks, each handed over
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 1000


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write-ahead log")
@pytest.mark.django_db(transaction=True)
def test_when_the_checkpoint_thread_fails_the_writer_checkpoints_its_commits_again(rep, settings, monkeypatch):
    import sqlite3

    monkeypatch.setattr(pipeline, "BATCH_SIZE", 10)
    settings.TIDE_IMPORT_PARALLEL_ROWS = 1

    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3, "connect", refuse)  # the thread's own connection (Django's is already open)
    automatic = []
    real = pipeline.BackgroundCheckpoints.committed

    def observed(self):
        real(self)
        if self.thread is not None:
            self.thread.join(5)  # let it fail
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            automatic.append(cursor.fetchone()[0])

    monkeypatch.setattr(pipeline.BackgroundCheckpoints, "committed", observed)
    rows = [[f"失败检查点{i}", "", f"1370000{i:04d}", "", "", "", "", ""] for i in range(1, 201)]
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert job.created_count == 200
    assert automatic == [0] + [1000] * 9  # ten transactions: after the failure, the writer's own checkpoints


def test_rows_of_an_import_meet_the_rules_as_lead_instances_would(org):
    """The planner reads an import row's fields straight from its values tuple; the rules must see the
    same source, score and region there as on a lead."""
    from assignment.models import AssignmentRule, RuleMember, Territory, TerritoryMember, TerritoryRegion
    from assignment.service import plan

    reps = [org.user(f"planner{i}", org.sh) for i in range(3)]
    hot = AssignmentRule.objects.create(
        name="hot", order=1, strategy="users", conditions={"field": "score", "op": "gte", "value": 50}
    )
    RuleMember.objects.create(rule=hot, user=reps[0], position=0)
    web = AssignmentRule.objects.create(
        name="web", order=2, strategy="users", conditions={"field": "source", "op": "eq", "value": "web_form"}
    )
    RuleMember.objects.create(rule=web, user=reps[1], position=0)
    AssignmentRule.objects.create(name="region", order=3, strategy="territory")
    east = Territory.objects.create(name="华东")
    TerritoryRegion.objects.create(territory=east, code="3101")
    TerritoryMember.objects.create(territory=east, user=reps[2], position=0)
    cases = [(80, "api", "44", ""), (10, "web_form", "44", ""), (10, "api", "31", "3101"), (10, "api", "31", "3102")]

    def row(score, source, province, city):
        values = dict.fromkeys(pipeline.LEAD_FIELDS, "") | {
            "company": "某公司",
            "score": score,
            "source": source,
            "province_code": province,
            "city_code": city,
        }
        return tuple(values[name] for name in pipeline.LEAD_FIELDS)

    pending = [pipeline.PendingLead(n, row(*case), None, None) for n, case in enumerate(cases)]
    leads = [Lead(company="某公司", score=s, source=src, province_code=p, city_code=c) for s, src, p, c in cases]
    placed = [
        [(d.rule and d.rule.name, d.owner and d.owner.username) for d in plan(batch)] for batch in (pending, leads)
    ]
    assert placed[0] == placed[1] == [("hot", "planner0"), ("web", "planner1"), ("region", "planner2"), (None, None)]


@pytest.mark.django_db(transaction=True)  # the helper reads on its own connection: data must be committed
def test_a_repeat_of_a_row_long_before_is_found_as_the_lead_that_row_created(rep, settings, monkeypatch):
    """The helper remembers the file's recent rows only; an older row's lead is committed by then and
    its repeat is skipped pointing at it."""
    monkeypatch.setattr(pipeline, "BATCH_SIZE", 10)
    settings.TIDE_IMPORT_PARALLEL_ROWS = 1
    rows = [[f"远处公司{i}", "", f"1370000{i:04d}", "", "", "", "", ""] for i in range(1, 201)]
    rows[149] = ["远处公司重复", "", rows[4][2], "", "", "", "", ""]  # row 150 repeats row 5's mobile
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert (job.created_count, job.skipped_count) == (199, 1)
    [repeat] = job_rows(job, outcome="skipped")
    assert repeat.row_number == 150 and repeat.record_id == Lead.objects.get(company="远处公司5").pk
    assert not Lead.objects.filter(company="远处公司重复").exists()


def test_a_purged_record_no_longer_stops_its_row_from_being_imported_again(rep):
    """A fingerprint counts while its record exists, in the recycle bin included; once the record is
    purged the row is imported again and the fingerprint points at the new lead."""
    first = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2])))
    assert first.created_count == 2
    huawei = Lead.objects.get(company="深圳市华为技术有限公司")
    Lead.objects.filter(pk=huawei.pk).update(deleted_at=huawei.created_at)  # in the recycle bin
    again = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2])))
    assert (again.created_count, again.skipped_count) == (0, 2)
    Lead.all_objects.filter(pk=huawei.pk).delete()  # purged
    third = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2])))
    assert (third.created_count, third.skipped_count) == (1, 1)
    reborn = Lead.objects.get(company="深圳市华为技术有限公司")
    fourth = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:1])))
    assert ImportRow.objects.get(job=fourth, row_number=1).record_id == reborn.pk


@pytest.mark.django_db(transaction=True)  # the helper reads on its own connection: data must be committed
@pytest.mark.parametrize("parallel", [0, 1], ids=["in-process", "helper"])
def test_a_repeat_of_a_row_that_was_rejected_or_imported_before_is_judged_on_its_own(rep, settings, parallel):
    """A row that ends rejected (its owner) or imported before is not "the earlier row" of its repeats:
    a repeat without the bad owner is created, and a row sharing the earlier lead's phone is merged into it."""
    settings.TIDE_IMPORT_PARALLEL_ROWS = parallel
    header = [*HEADER, "负责人"]
    earlier = [["早先公司", "甲", "13500000001", "", "", "", "", "", ""]]
    assert run(actions.upload(user=rep, uploaded_file=csv_file(earlier, header=header))).created_count == 1
    rows = [
        ["无主公司", "乙", "13500000002", "", "", "", "", "", "nobody-here"],  # no such owner: rejected
        ["无主公司", "乙", "13500000002", "", "", "", "", "", ""],  # the same row without it: created
        earlier[0],  # imported before: skipped, pointing at its lead
        ["早先公司分部", "丙", "13500000001", "", "", "", "", "", ""],  # the earlier lead's phone: merged into it
    ]
    job = actions.upload(user=rep, uploaded_file=csv_file(rows, header=header))
    assert job.mapping["8"] == "owner"
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate="merge")
    assert pipeline.use_helper_process(job) == bool(parallel)
    job = run(job)
    outcomes = {r.row_number: (r.outcome, r.record_id) for r in job_rows(job)}
    lead = Lead.objects.get(company="早先公司").pk
    assert outcomes[1][0] == "rejected" and outcomes[2][0] == "created"
    assert outcomes[3] == ("skipped", lead) and outcomes[4] == ("merged", lead)
    assert Lead.objects.filter(company="无主公司").count() == 1


def test_a_lead_created_elsewhere_after_the_screen_looked_is_still_found(rep, monkeypatch):
    """The screen reads before the writer takes the write lock; a lead with the row's phone created in
    between (by someone else) is found when the writer looks again, so the row is not created twice
    (SQLite: its lead counter moved; PostgreSQL: every chunk is looked up again)."""
    real = pipeline.RowScreen.__call__

    def screen_then_someone_creates_it(screen, rows):
        verdicts = real(screen, rows)
        Lead.objects.create(company="抢先一步", phone="+8613800138000")  # row 1's mobile
        return verdicts

    monkeypatch.setattr(pipeline.RowScreen, "__call__", screen_then_someone_creates_it)
    job = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:1])))
    first = Lead.objects.get(company="抢先一步")
    assert (job.created_count, job.skipped_count) == (0, 1)
    assert ImportRow.objects.get(job=job, row_number=1).record_id == first.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer at a time anyway")
@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_on_postgresql_do_not_both_create_a_phone(rep):
    """Another import holding the import lock has created (not yet committed) a lead with row 1's phone:
    this import's writer waits for it to commit, then finds that lead instead of creating a second one."""
    import threading

    holding, release = threading.Event(), threading.Event()

    def other_import():
        from django.db import connection as own
        from django.db import transaction

        try:
            with transaction.atomic():
                pipeline.lock_lead_creation()
                Lead.objects.create(company="另一批导入", phone="+8613800138000")
                holding.set()
                release.wait(10)
        finally:
            own.close()

    other = threading.Thread(target=other_import)
    other.start()
    assert holding.wait(10)
    job = actions.upload(user=rep, uploaded_file=csv_file(ROWS[:1]))
    threading.Timer(0.5, release.set).start()  # the other import commits while this one waits for the lock
    job = run(job)
    other.join(10)
    first = Lead.objects.get(company="另一批导入")
    assert (job.created_count, job.skipped_count) == (0, 1)
    assert ImportRow.objects.get(job=job, row_number=1).record_id == first.pk
    assert Lead.objects.filter(phone="+8613800138000").count() == 1


def test_a_rows_lead_merged_since_is_shown_as_the_lead_it_was_merged_into(rep, org, api_for):
    """Rows keep the lead they created or matched; when that lead is merged later (even twice over), the
    rows page points at the one it lives on in, not at the merged-away record."""
    from dedupe.actions import merge_records

    rows = [[f"合并后公司{i}", "", f"1360000{i:04d}", "", "", "", "", ""] for i in range(1, 4)]
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    first, second, third = (Lead.objects.get(company=f"合并后公司{i}").pk for i in range(1, 4))
    merge_records(object_type="lead", user=org.admin, survivor_id=second, loser_id=first)
    merge_records(object_type="lead", user=org.admin, survivor_id=third, loser_id=second)
    body = api_for(rep).get(f"/imports/{job.pk}/rows").json_body
    assert [(r["row_number"], r["record_id"]) for r in body["results"]] == [(1, third), (2, third), (3, third)]


def raw_file(data: bytes, name="raw.csv"):
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_the_encoding_is_read_off_the_whole_file(rep, monkeypatch):
    """A small GBK file whose only Chinese is at its very end is GBK; a file that is UTF-8 Chinese at first
    and GBK later (two exports pasted together) is refused at upload, before anything is imported."""
    from django.core.exceptions import ValidationError

    tail = "company,phone\nabc,13800000009\nxyz,13800000010,北".encode("gbk")  # ASCII, then GBK at the end
    job = run(actions.upload(user=rep, uploaded_file=raw_file(tail)))
    assert job.header == ["company", "phone"] and job.total_rows == 2
    assert parsing.detect_encoding(Path(job.file.path)) == "gb18030"
    mixed = ("客户名称,手机\n" + "".join(f"甲{i}公司,1380000{i:04d}\n" for i in range(20))).encode()
    mixed += "乙公司,13900000000\n".encode("gbk")
    for block in (parsing.BLOCK, 64):  # the change of encoding in the first block, and beyond it
        monkeypatch.setattr(parsing, "BLOCK", block)
        with pytest.raises(ValidationError) as refused:
            actions.upload(user=rep, uploaded_file=raw_file(mixed))
        assert "UTF-8 text up to byte" in str(refused.value.message_dict["file"]), block
    with pytest.raises(ValidationError) as refused:
        actions.upload(user=rep, uploaded_file=raw_file(b"company,phone\nabc,1\n\xff"))
    assert refused.value.message_dict["file"] == ["The file is neither UTF-8 nor GBK text."]
    assert not Lead.objects.filter(company__startswith="甲").exists()


def test_a_cell_longer_than_the_csv_readers_default_limit_is_read(rep):
    """Python's csv module refuses cells over 131,072 characters by default (the upload answered 500)."""
    rows = [["长备注公司", "甲", "13800000001", "", "", "", "", "备" * 200_000], ROWS[0]]
    job = run(actions.upload(user=rep, uploaded_file=csv_file(rows)))
    assert (job.status, job.total_rows, job.created_count) == (JobStatus.DONE, 2, 2)
    assert len(Lead.objects.get(company="长备注公司").notes) == 200_000


def test_an_upload_through_the_api_names_its_errors_by_field(rep, api_for):
    api = api_for(rep)
    missing = api.client.post("/api/v1/imports/", {})
    assert missing.status_code == 422 and list(missing.json()["errors"]) == ["file"]
    broken = api.client.post("/api/v1/imports/", {"file": raw_file(b"company,phone\nabc,1\n\xff")})
    assert broken.status_code == 422 and broken.json()["errors"]["file"] == ["The file is neither UTF-8 nor GBK text."]
    mapping = api.client.put(
        f"/api/v1/imports/{actions.upload(user=rep, uploaded_file=csv_file(ROWS[:1])).pk}/mapping",
        data={"mapping": {"9" * 5000: "company"}},
        content_type="application/json",
    )
    assert mapping.status_code == 422 and "mapping" in mapping.json()["errors"]


def test_cells_no_database_can_store_reject_their_row_not_the_job(rep):
    """A NUL character (PostgreSQL stores none, in text or JSON), a score beyond an integer column, an
    infinite or fractional score, a company longer than its field: each row is rejected with its field's
    reason, the other rows are imported, and the rejected cells are kept (NUL shown as �)."""
    rows = [
        ["零\x00字符公司", "甲", "13800000001", "", "", "", "", ""],
        ["好公司", "乙", "13800000002", "", "", "", "", "备注\x00"],
        ["坏电话公司", "丙", "12\x0045", "", "", "", "", ""],
        ["长名公司" + "名" * 200, "丁", "13800000004", "", "", "", "", ""],
        ["正常公司", "戊", "13800000005", "", "", "", "", ""],
    ]
    header = HEADER[:-1] + ["备注"]
    job = actions.upload(user=rep, uploaded_file=csv_file(rows, header=["客户\x00名称", *header[1:]]))
    assert job.header[0] == "客户名称"
    job = run(job)
    assert job.status == JobStatus.DONE
    outcomes = {r.row_number: r for r in job_rows(job)}
    assert [outcomes[n].outcome for n in range(1, 6)] == ["rejected"] * 4 + ["created"]
    assert outcomes[1].reasons == {"company": ["Null characters are not allowed."]}
    assert outcomes[2].reasons == {"notes": ["Null characters are not allowed."]}
    assert "phone" in outcomes[3].reasons and outcomes[3].values[2] == "12\ufffd45"
    assert outcomes[4].reasons == {"company": ["At most 200 characters (this has 204)."]}
    assert list(Lead.objects.values_list("company", flat=True)) == ["正常公司"]


@pytest.mark.parametrize(
    ("score", "reason"),
    [
        ("2147483648", "Enter a whole number from -2147483648 to 2147483647."),
        ("-2147483649", "Enter a whole number from -2147483648 to 2147483647."),
        ("Infinity", "Enter a whole number."),
        ("1.5", "Enter a whole number."),
    ],
)
def test_a_score_an_integer_column_cannot_hold_rejects_its_row(rep, score, reason):
    header = ["客户名称", "线索评分"]
    job = actions.upload(user=rep, uploaded_file=csv_file([["甲公司", score], ["乙公司", "2147483647"]], header=header))
    actions.set_mapping(job=job, user=rep, mapping={"0": "company", "1": "score"}, on_duplicate="skip")
    job = run(job)
    outcomes = {r.row_number: r for r in job_rows(job)}
    assert outcomes[1].reasons == {"score": [reason]}
    assert Lead.objects.get(company="乙公司").score == 2147483647


def test_the_pages_say_what_the_preview_covers_and_why_rows_were_skipped(rep, web_for, api_for):
    web = web_for(rep)
    job = actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2]))
    actions.set_mapping(job=job, user=rep, mapping=job.mapping, on_duplicate="skip")
    preview = web.get(f"/imports/{job.pk}/").content.decode()
    assert 'data-testid="preview-scope"' in preview and "The first 2 of 2 rows." in preview
    run(job)
    again = run(actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2], name="again.csv")))
    assert again.skipped_count == 2
    page = web.get(f"/imports/{again.pk}/", {"outcome": "skipped"}).content.decode()
    assert page.count("Matches an existing lead: the same row imported before, or the same phone or e-mail.") == 2
    # the preview of the same file says so before it runs, row by row, through the API too
    third = actions.upload(user=rep, uploaded_file=csv_file([*ROWS[:2], ["新公司", "", "13500000000"]], name="3.csv"))
    actions.set_mapping(job=third, user=rep, mapping=third.mapping, on_duplicate="merge")
    preview = web.get(f"/imports/{third.pk}/").content.decode()
    assert preview.count("Matches an existing lead: its empty fields will be filled in from this row.") == 2
    rows = api_for(rep).get(f"/imports/{third.pk}/preview").json_body
    assert [bool(r["match"]) for r in rows] == [True, True, False]


def test_imports_whose_worker_died_are_found_by_their_silence_and_handed_over_again(
    rep, monkeypatch, django_capture_on_commit_callbacks
):
    """Found by killing workers: one killed as it took the task left the job queued for good (the old
    resume only looked at running jobs), and a queue that could not be reached left it queued too; a
    running job was handed over again every ten minutes, alive or not."""
    import datetime

    from django.utils import timezone

    from imports import jobs

    queued = []

    class Queue:
        def __init__(self, reachable=True):
            self.reachable = reachable

        def enqueue(self, pk):
            if not self.reachable:
                raise ConnectionError("redis down")
            queued.append(pk)

    monkeypatch.setattr(jobs, "run_import", Queue())
    now = timezone.now()

    def ago(**delta):
        return now - datetime.timedelta(**delta)

    alive = actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2]))
    waiting = actions.upload(user=rep, uploaded_file=csv_file(ROWS[2:4]))
    lost = actions.upload(user=rep, uploaded_file=csv_file(ROWS[4:6]))
    ImportJob.objects.filter(pk=alive.pk).update(
        status=JobStatus.RUNNING, progress_at=now - datetime.timedelta(seconds=30)
    )
    ImportJob.objects.filter(pk=waiting.pk).update(
        status=JobStatus.QUEUED, progress_at=now - datetime.timedelta(minutes=5)
    )
    ImportJob.objects.filter(pk=lost.pk).update(
        status=JobStatus.QUEUED, progress_at=now - datetime.timedelta(minutes=11)
    )
    assert actions.resume_interrupted(now=now) == 1 and queued == [lost.pk]
    assert not ImportJob.objects.get(pk=alive.pk).stalled
    # once handed over, not again at the next minute, only after as long a silence again
    assert actions.resume_interrupted(now=now + datetime.timedelta(minutes=1)) == 0
    later = now + datetime.timedelta(minutes=3)
    assert actions.resume_interrupted(now=later) == 1 and queued[-1] == alive.pk  # running, silent for 3.5 min

    # a queue that cannot be reached: the job stays queued, marked for the next run, which hands it over
    monkeypatch.setattr(jobs, "run_import", Queue(reachable=False))
    fresh = actions.upload(user=rep, uploaded_file=csv_file(ROWS[:1]))
    with django_capture_on_commit_callbacks(execute=True):
        fresh = actions.start(job=fresh, user=rep)
    fresh.refresh_from_db()
    assert fresh.status == JobStatus.QUEUED and fresh.progress_at is None and fresh.stalled
    monkeypatch.setattr(jobs, "run_import", Queue())
    assert actions.resume_interrupted() >= 1 and queued[-1] == fresh.pk


def test_the_job_page_says_when_an_import_shows_no_progress(rep, web_for, api_for):
    import datetime

    from django.utils import timezone

    job = actions.upload(user=rep, uploaded_file=csv_file(ROWS[:2]))
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, progress_at=timezone.now())
    page = web_for(rep).get(job.get_absolute_url()).content.decode()
    assert 'data-testid="stalled"' not in page
    ImportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - datetime.timedelta(minutes=5))
    page = web_for(rep).get(job.get_absolute_url()).content.decode()
    assert 'data-testid="stalled"' in page
    answer = api_for(rep).get(f"/imports/{job.pk}").json_body
    assert answer["stalled"] is True and answer["progress_at"]


def test_the_helper_process_ends_when_the_writer_dies(rep):
    """Found by killing a worker mid-import: its helper, forked with both ends of the pipe open, blocked
    for good writing into a full pipe it was itself the reader of (hundreds of MB and a database
    connection each, for ever). With the writer gone the helper must end."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork here")
    rows = [[f"管道测试{i}有限公司", "张三", f"139{i:08d}", "", "上海", "展会"] for i in range(3000)]
    job = actions.upload(user=rep, uploaded_file=csv_file(rows))
    job.on_duplicate = "create"  # no duplicate screen: the helper never reads the database
    args = pipeline.Chunks(job, 0, 1).args  # permits None: it sends every chunk, the pipe fills up
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    helper = context.Process(target=pipeline._produce, args=(sender, tuple(args), receiver), daemon=True)
    helper.start()
    sender.close()
    receiver.close()  # the writer is killed: nobody here reads any more
    helper.join(timeout=10)
    alive = helper.is_alive()
    if alive:
        helper.kill()
        helper.join()
    assert not alive


def test_a_municipality_written_as_its_own_city_is_understood():
    """北京市 / 北京 is how people fill in a municipality's city; its one city level is named 市辖区."""
    from imports.pipeline import resolve_region

    assert resolve_region("北京市", "北京", "朝阳区") == (
        {"province_code": "11", "city_code": "1101", "district_code": "110105"},
        {},
    )
    assert resolve_region("上海", "上海市", "")[0]["city_code"] == "3101"
    assert resolve_region("", "天津", "")[0] == {"province_code": "12", "city_code": "1201", "district_code": ""}
    assert resolve_region("吉林", "吉林市", "")[0]["city_code"] == "2202"  # a province and its city of one name
    assert "city" in resolve_region("北京", "上海", "")[1]


def test_uploaded_files_no_import_refers_to_are_removed_once_old(rep, settings, tmp_path):
    """A web process killed between storing an upload and saving its job left the file (up to 200 MB)
    for good; a failed upload removes its file itself."""
    import datetime
    import os

    from django.utils import timezone

    settings.MEDIA_ROOT = str(tmp_path)
    kept = actions.upload(user=rep, uploaded_file=csv_file(ROWS[:1]))
    folder = tmp_path / "imports" / "2026" / "01"
    folder.mkdir(parents=True)
    orphan, fresh = folder / "20260101000000-1.csv", folder / "20260101000001-1.csv"
    orphan.write_bytes(b"x" * 100)
    fresh.write_bytes(b"x" * 100)
    day_old = (timezone.now() - datetime.timedelta(days=2)).timestamp()
    os.utime(orphan, (day_old, day_old))
    os.utime(kept.file.path, (day_old, day_old))
    assert actions.remove_orphan_files() == 1
    assert not orphan.exists() and fresh.exists() and os.path.exists(kept.file.path)
