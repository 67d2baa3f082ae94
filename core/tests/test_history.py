"""A record's history: shown in the reader's language whatever the writer's, paged through the API,
and only to those who may see the record."""

import pytest
from django.utils import translation

from core.choices import Scope
from core.keyset import encode_cursor
from core.models import ChangeLog
from leads import actions as lead_actions
from leads.models import Lead


def change_status(lead, user, status, language):
    with translation.override(language):
        lead_actions.update_lead(lead=lead, user=user, data={"status": status})
    return Lead.objects.get(pk=lead.pk)


@pytest.mark.django_db
def test_labels_and_choice_values_follow_the_reader_not_the_writer(org, web_for, api_for):
    rep = org.user("rep", org.sh, scope=Scope.OWN)
    lead = Lead.objects.create(company="语言测试有限公司", owner=rep)
    lead = change_status(lead, rep, "contacted", "zh-hans")  # a rep working in Chinese
    lead = change_status(lead, rep, "qualified", "en")  # an integrator in English
    page = web_for(rep).get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "status: <del" in page and "Contacted" in page and "Qualified" in page
    assert "已联系" not in page and "状态" not in page
    page = web_for(rep).get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已联系" in page and "Contacted" not in page
    body = api_for(rep).get(f"/leads/{lead.pk}/history", headers={"Accept-Language": "en"}).json_body
    newest = body["results"][0]["changes"]
    assert newest == [{"field": "status", "label": "status", "old": "Contacted", "new": "Qualified"}]
    assert body["results"][1]["changes"][0] == {"field": "status", "label": "status", "old": "New", "new": "Contacted"}


@pytest.mark.django_db
def test_the_writers_own_words_are_left_as_written(org, api_for):
    rep = org.user("rep", org.sh, scope=Scope.OWN)
    other = org.user("other", org.sh, scope=Scope.OWN)
    lead = Lead.objects.create(company="备注测试有限公司", owner=rep)
    with translation.override("zh-hans"):
        lead_actions.transfer_leads(ids=[lead.pk], user=org.admin, new_owner=other, note="客户要求换人 Converted")
    [entry] = api_for(org.admin).get(f"/leads/{lead.pk}/history").json_body["results"]
    assert entry["note"] == "客户要求换人 Converted"
    # words that happen to be, or to look like, messages of the app or of Django are not messages
    # (only the app's registered history messages are: a note reading exactly "Converted" is that one)
    for words in [
        *["签约前", "预算 50 万元", "是", "已联系", "Yes", "导出数据", "新建客户", "深圳 管理", "甲 · 乙"],
        # shaped like the app's messages, but not in a form those are written in, or a label, not a note
        *["Team", "Note: Converted", "Converted — please call back", "Converted · Team", "Departed: 张三"],
        "Claimed from the public pool “Other”",  # a pool named like a release reason keeps its name
    ]:
        ChangeLog.objects.filter(object_id=lead.pk).update(note=words)
        for language in ("en", "zh-hans"):
            body = api_for(org.admin).get(f"/leads/{lead.pk}/history", headers={"Accept-Language": language})
            shown = body.json_body["results"][0]["note"]
            assert shown == words or (language == "zh-hans" and shown == "从公海“Other”领取"), (words, shown)


@pytest.mark.django_db
def test_a_users_note_worded_exactly_like_an_app_message_stays_as_written(org, api_for, web_for):
    """A transfer's reason is the user's own words, even when they read word for word like one of the app's
    messages; the app's own note on the same kind of entry is still shown in the reader's language."""
    rep = org.user("rep", org.sh, scope=Scope.OWN)
    other = org.user("other", org.sh, scope=Scope.OWN)
    lead = Lead.objects.create(company="原话测试有限公司", owner=rep)
    words = "Claimed from the public pool “华东”"
    lead_actions.transfer_leads(ids=[lead.pk], user=org.admin, new_owner=other, note=words)
    app = ChangeLog.objects.create(
        object_type="lead", object_id=lead.pk, object_repr=str(lead), action="transfer", note=words
    )
    body = api_for(org.admin).get(f"/leads/{lead.pk}/history", headers={"Accept-Language": "zh-hans"}).json_body
    notes = {entry["id"]: entry["note"] for entry in body["results"]}
    assert notes.pop(app.pk) == "从公海“华东”领取" and list(notes.values()) == [words]
    page = web_for(org.admin).get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert words in page and "从公海“华东”领取" in page


@pytest.mark.django_db
def test_history_pages_through_every_entry_once_and_only_for_those_who_see_the_record(org, api_for):
    rep = org.user("rep", org.sh, scope=Scope.OWN)
    stranger = org.user("stranger", org.south, scope=Scope.OWN)
    lead = Lead.objects.create(company="分页测试有限公司", owner=rep)
    for n in range(7):
        lead = change_status(lead, rep, ["contacted", "qualified"][n % 2], "en")
    api = api_for(rep)
    seen, cursor = [], None
    while True:
        body = api.get(f"/leads/{lead.pk}/history", {"limit": 3, **({"cursor": cursor} if cursor else {})}).json_body
        seen += [e["id"] for e in body["results"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7 and seen == sorted(seen, reverse=True)
    assert api.get(f"/leads/{lead.pk}/history", {"cursor": "not-a-cursor"}).status_code == 422
    assert api_for(stranger).get(f"/leads/{lead.pk}/history").status_code == 404
    for forged in (encode_cursor("2026-01-01T00:00:00", 1), encode_cursor(None, 1), encode_cursor("soon", 1)):
        assert api.get(f"/leads/{lead.pk}/history", {"cursor": forged}).status_code == 422
        assert api.get("/leads/", {"cursor": forged}).status_code == 422  # the lists share the cursor
    assert api.get(f"/leads/{lead.pk}/history", {"limit": 500}).status_code == 422


def test_a_process_that_rendered_nothing_yet_knows_every_apps_messages(tmp_path):
    """A worker process that has imported no app's actions (no page served, no job run) still reads the
    app's messages in the reader's language: they are found by importing every app's actions module."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "from django.utils import translation; from core import history; "
        "translation.activate('zh-hans'); "
        "print(history.in_reader_language('Import of leads.csv finished')); "
        "print(history.in_reader_language('Returned to the public pool “华东”: Other — 客户要求换人'))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TIDE_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "tide.settings"}
    env.pop("DATABASE_URL", None)  # reads no table
    script = f"import django; django.setup(); {code}"
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, check=True)
    imported, returned = out.stdout.strip().splitlines()[-2:]
    assert "leads.csv" in imported and "finished" not in imported
    assert returned.startswith("退回公海“华东”") and "其他" in returned and returned.endswith(" — 客户要求换人")


@pytest.mark.django_db
def test_a_team_change_reads_its_access_in_the_readers_language(org, api_for):
    from core import actions as core_actions

    rep = org.user("rep", org.sh, scope=Scope.OWN)
    colleague = org.user("colleague", org.sh, scope=Scope.OWN)
    lead = Lead.objects.create(company="团队测试有限公司", owner=rep)
    with translation.override("zh-hans"):
        core_actions.share_record(instance=lead, user=rep, member=colleague, access="edit")
    stored = ChangeLog.objects.get(object_id=lead.pk, action="share").changes[0]["new"]
    assert stored.startswith("Colleague (") and "edit" not in stored.lower()  # written in Chinese
    [entry] = api_for(rep).get(f"/leads/{lead.pk}/history", headers={"Accept-Language": "en"}).json_body["results"]
    assert entry["changes"] == [{"field": "team", "label": "Team", "old": "", "new": "Colleague (Can edit)"}]
