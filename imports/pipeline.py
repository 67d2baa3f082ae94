"""The import pipeline: rows → normalised lead data → duplicate check → assignment → bulk insert.

Rows are processed in batches; each batch is one transaction that also advances the job's cursor,
so a crash or restart either keeps a whole batch or none of it, and the job resumes where the last
committed batch ended. Every row ends in exactly one outcome: created, merged, skipped or rejected.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import islice
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.bulk import insert_instances
from core.choices import Action, HistoryAction, ObjectType
from core.models import ChangeLog
from core.permissions import can, owner_assignable
from core.validators import normalize_phone, parse_cn_phone

from .choices import JobStatus, OnDuplicate, RowOutcome
from .models import ImportJob, ImportRow
from .parsing import iter_rows

BATCH_SIZE = 2000
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STRIP = re.compile(r"[\s\-()（）]")


@dataclass
class RowResult:
    row_number: int
    outcome: str = ""
    data: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)
    values: list = field(default_factory=list)
    fingerprint: str = ""
    record_id: int | None = None


# --- value normalisation -------------------------------------------------------------------------


def fast_phone(raw: str) -> tuple[str, bool]:
    """E.164 for the common mobile forms without the (slow) full parser; the parser for the rest."""
    compact = _STRIP.sub("", raw)
    match = _MOBILE.match(compact)
    if match:
        return "+86" + match.group(1), True
    if parse_cn_phone(raw) is None:
        return raw, False
    return normalize_phone(raw), True


@lru_cache(maxsize=1)
def _region_index():
    """Names as people write them → codes: 广东省/广东 → 44, 深圳市/深圳 → 4403; districts by (city, name)."""
    from core.regions import regions

    r = regions()
    provinces, cities, districts = {}, {}, {}
    for code, name in r.names.items():
        short = re.sub(r"(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区|地区|盟|自治州)$", "", name)
        if len(code) == 2:
            for key in {name, short}:
                provinces[key] = code
        elif len(code) == 4:
            for key in {name, short}:
                cities.setdefault(key, code)
        else:
            districts[(r.parent[code], name)] = code
    return r, provinces, cities, districts


def resolve_region(province: str, city: str, district: str) -> tuple[dict, dict]:
    """Codes for the names (or codes) in a row, and field errors for what cannot be resolved."""
    r, provinces, cities, districts = _region_index()
    out, errors = {"province_code": "", "city_code": "", "district_code": ""}, {}
    if province:
        code = province if province in r.names and len(province) == 2 else provinces.get(province)
        if code is None:
            errors["province"] = [_("Unknown province “%(v)s”.") % {"v": province}]
        else:
            out["province_code"] = code
    if city:
        code = city if city in r.names and len(city) == 4 else cities.get(city)
        if code is None or (out["province_code"] and r.parent.get(code) != out["province_code"]):
            errors["city"] = [_("Unknown city “%(v)s” in this province.") % {"v": city}]
        else:
            out["city_code"] = code
            out["province_code"] = out["province_code"] or r.parent[code]
    if district:
        code = district if district in r.names and len(district) == 6 else districts.get((out["city_code"], district))
        if code is None or r.parent.get(code) != out["city_code"]:
            errors["district"] = [_("Unknown district “%(v)s” in this city.") % {"v": district}]
        else:
            out["district_code"] = code
    return out, errors


@lru_cache(maxsize=1)
def _choice_index():
    """Codes and labels in every UI language → code, so a file in Chinese or English both work."""
    from django.conf import settings
    from django.utils import translation

    from accounts.choices import Industry
    from leads.choices import LeadSource

    index = {"industry": {}, "source": {}}
    for kind, choices in (("industry", Industry), ("source", LeadSource)):
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                for value, label in choices.choices:
                    index[kind][value.lower()] = value
                    index[kind][str(label).lower()] = value
    index["source"].update(SOURCE_SYNONYMS)
    return index


# What people write in the source column besides the labels themselves.
SOURCE_SYNONYMS = {
    "官网": "website",
    "网站": "website",
    "广告": "advertising",
    "投放": "advertising",
    "推荐": "referral",
    "转介绍": "referral",
    "介绍": "referral",
    "展会": "exhibition",
    "会展": "exhibition",
    "陌拜": "cold_call",
    "电话": "cold_call",
    "微信": "wechat",
    "公众号": "wechat",
    "渠道": "partner",
    "代理商": "partner",
    "表单": "web_form",
    "其他": "other",
    "其它": "other",
}


def _choice(kind: str, raw: str) -> str | None:
    return _choice_index()[kind].get(raw.strip().lower())


class RowNormaliser:
    """Turns one row of cells into lead field values, or field-level reasons why it cannot be imported."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.columns = {target: int(index) for index, target in job.mapping.items() if target}
        self.owners: dict[str, object] = {}
        self.importer = job.created_by

    def owner(self, raw: str):
        if raw not in self.owners:
            from django.db.models import Q

            from org.models import User

            user = User.objects.filter(Q(username=raw) | Q(employee_no=raw) | Q(name=raw), is_active=True).first()
            ok = user is not None and owner_assignable(self.importer, ObjectType.LEAD, Action.CREATE, user)
            self.owners[raw] = user if ok else None
        return self.owners[raw]

    def __call__(self, number: int, cells: list[str]) -> RowResult:
        result = RowResult(row_number=number, values=cells)
        get = {t: (cells[i].strip() if i < len(cells) else "") for t, i in self.columns.items()}
        errors: dict[str, list[str]] = {}
        data = {
            "company": get.get("company", "")[:200],
            "contact_name": get.get("contact_name", "")[:60],
            "title": get.get("title", "")[:60],
            "address": get.get("address", "")[:300],
            "campaign": get.get("campaign", "")[:100],
            "notes": get.get("notes", ""),
            "source": self.job.default_source,
        }
        if not data["company"]:
            errors["company"] = [_("The company name is required.")]
        phone = get.get("phone", "")
        if phone:
            data["phone"], ok = fast_phone(phone)
            if not ok:
                errors["phone"] = [_("“%(v)s” is not a valid phone number.") % {"v": phone}]
        email = get.get("email", "").lower()
        if email:
            if _EMAIL.match(email) and len(email) <= 254:
                data["email"] = email
            else:
                errors["email"] = [_("“%(v)s” is not a valid email address.") % {"v": email}]
        for kind in ("industry", "source"):
            raw = get.get(kind, "")
            if raw:
                value = _choice(kind, raw)
                if value is None:
                    errors[kind] = [_("“%(v)s” is not a known value.") % {"v": raw}]
                else:
                    data[kind] = value
        if get.get("score"):
            try:
                data["score"] = int(Decimal(get["score"]))
            except (InvalidOperation, ValueError):
                errors["score"] = [_("Enter a whole number.")]
        region, region_errors = resolve_region(get.get("province", ""), get.get("city", ""), get.get("district", ""))
        data.update(region)
        errors.update(region_errors)
        if get.get("owner"):
            owner = self.owner(get["owner"])
            if owner is None:
                errors["owner"] = [_("“%(v)s” is not an active user you may assign leads to.") % {"v": get["owner"]}]
            else:
                data["owner"] = owner
        if errors:
            result.outcome = RowOutcome.REJECTED
            result.reasons = errors
            return result
        result.data = data
        key = "\x1f".join([data["company"], data["contact_name"], data.get("phone", ""), data.get("email", "")])
        result.fingerprint = hashlib.sha256(key.encode()).hexdigest()[:32]
        return result


# --- duplicate matching --------------------------------------------------------------------------


def match_existing(rows: list[RowResult]) -> dict[int, int]:
    """row_number → id of an existing lead with the same phone or email (indexed lookups, never a scan)."""
    from leads.models import Lead

    by_phone, by_email = {}, {}
    for row in rows:
        if row.data.get("phone"):
            by_phone.setdefault(row.data["phone"], row.row_number)
        if row.data.get("email"):
            by_email.setdefault(row.data["email"], row.row_number)
    found: dict[int, int] = {}
    if by_phone:
        for pk, phone in Lead.objects.filter(phone__in=list(by_phone)).values_list("pk", "phone"):
            for row in rows:
                if row.data.get("phone") == phone:
                    found.setdefault(row.row_number, pk)
    if by_email:
        for pk, email in Lead.objects.filter(email__in=list(by_email)).values_list("pk", "email"):
            for row in rows:
                if row.data.get("email") == email:
                    found.setdefault(row.row_number, pk)
    return found


def match_by_rules(rows: list[RowResult]) -> dict[int, tuple[str, int]]:
    """row_number → (object type, id) of the best hit of the duplicate rules an admin made warn or block.

    Rules left at "allow" only report, so they cost an import nothing; a similarity rule switched on costs
    a few milliseconds per row (it looks at the row's blocking buckets, never at every record)."""
    from dedupe.service import Probe, find_duplicates, rules_for

    rules = [rule for rule in rules_for(ObjectType.LEAD) if rule.enforced]
    found: dict[int, tuple[str, int]] = {}
    if not rules:
        return found
    for row in rows:
        probe = Probe.build(
            ObjectType.LEAD, name=row.data["company"], phone=row.data.get("phone", ""), email=row.data.get("email", "")
        )
        hits = [h for h in find_duplicates(probe, rules, limit=5) if h.action != "allow"]
        if hits:
            found[row.row_number] = (hits[0].object_type, hits[0].pk)
    return found


def describe_match(object_type: str, pk: int, user) -> str:
    """What the importer may learn about the record a row matched: its name when he can see it,
    otherwise only who owns it (the duplicate check's own wording)."""
    from dedupe.service import describe_hidden, model_for

    model = model_for(object_type)
    record = model.objects.visible_to(user, Action.VIEW).filter(pk=pk).first()
    if record is not None:
        return _("Already exists: %(type)s “%(name)s”.") % {"type": model._meta.verbose_name, "name": record}
    hidden = model.all_objects.select_related("owner__department").filter(pk=pk).first()
    return describe_hidden(hidden) if hidden is not None else _("Already exists.")


# --- the batch -----------------------------------------------------------------------------------


def _merge_into(lead_id: int, data: dict, user) -> bool:
    """Fill the empty fields of an existing lead the importer may edit; False when he may not."""
    from core import actions as core_actions
    from leads.models import Lead

    lead = Lead.objects.visible_to(user, Action.EDIT).filter(pk=lead_id).first()
    if lead is None:
        return False
    fill = {k: v for k, v in data.items() if k not in ("owner", "source") and v and not getattr(lead, k, None)}
    if fill:
        core_actions.update_record(instance=lead, user=user, data=fill)
    return True


def process_batch(job: ImportJob, start: int, cells_by_number: list[tuple[int, list[str]]]) -> None:
    """Import one batch in one transaction, advancing the job's cursor with it."""
    from leads.models import Lead
    from search.indexer import bulk_index

    normalise = RowNormaliser(job)
    results = [normalise(number, cells) for number, cells in cells_by_number]
    valid = [r for r in results if r.outcome != RowOutcome.REJECTED]

    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.processed_rows != start or locked.status != JobStatus.RUNNING:
            return  # another worker took this batch, or the job was cancelled
        # the same row imported before (this job or an earlier one) is skipped, pointing at what it created
        prints = {r.fingerprint for r in valid}
        previous = dict(
            ImportRow.objects.filter(fingerprint__in=prints, outcome=RowOutcome.CREATED).values_list(
                "fingerprint", "record_id"
            )
        )
        seen_in_batch: dict[str, int] = {}
        fresh = []
        for row in valid:
            if row.fingerprint in previous:
                row.outcome, row.record_id = RowOutcome.SKIPPED, previous[row.fingerprint]
            elif row.fingerprint in seen_in_batch:
                row.outcome = RowOutcome.SKIPPED
                row.reasons = {"__all__": [_("Same as row %(n)d.") % {"n": seen_in_batch[row.fingerprint]}]}
            else:
                seen_in_batch[row.fingerprint] = row.row_number
                fresh.append(row)
        to_create = fresh
        if job.on_duplicate != OnDuplicate.CREATE:
            matches = match_existing(fresh)
            elsewhere = match_by_rules([r for r in fresh if r.row_number not in matches])
            to_create = []
            for row in fresh:
                matched = matches.get(row.row_number)
                if row.row_number in elsewhere:  # an account, a contact or a lead found by the admin's rules
                    object_type, matched = elsewhere[row.row_number]
                    row.reasons = {"__all__": [describe_match(object_type, matched, job.created_by)]}
                    if object_type != ObjectType.LEAD:  # rows are leads: keep only the description
                        row.outcome = RowOutcome.SKIPPED
                        continue
                if matched is None:
                    to_create.append(row)
                elif job.on_duplicate == OnDuplicate.MERGE and _merge_into(matched, row.data, job.created_by):
                    row.outcome, row.record_id = RowOutcome.MERGED, matched
                else:
                    row.outcome, row.record_id = RowOutcome.SKIPPED, matched
        now = timezone.now()
        leads = []
        for row in to_create:
            owner = row.data.pop("owner", None) or job.created_by
            leads.append(
                Lead(
                    **row.data, owner=owner, owner_since=now, created_by=job.created_by, created_at=now, updated_at=now
                )
            )
        insert_instances(leads)
        for row, lead in zip(to_create, leads, strict=True):
            row.outcome, row.record_id = RowOutcome.CREATED, lead.pk
        _assign(leads, job)
        bulk_index(leads)
        note = _("Imported from %(file)s, row %(row)s")
        insert_instances(
            [
                ChangeLog(
                    object_type=ObjectType.LEAD,
                    object_id=lead.pk,
                    object_repr=str(lead)[:300],
                    action=HistoryAction.CREATE,
                    actor=job.created_by,
                    at=now,
                    note=(note % {"file": job.original_name, "row": row.row_number})[:500],
                )
                for row, lead in zip(to_create, leads, strict=True)
            ]
        )
        insert_instances(
            [
                ImportRow(
                    job=job,
                    row_number=r.row_number,
                    outcome=r.outcome,
                    record_id=r.record_id,
                    fingerprint=r.fingerprint if r.outcome == RowOutcome.CREATED else "",
                    reasons=r.reasons,
                    values=r.values if r.outcome == RowOutcome.REJECTED else [],
                )
                for r in results
            ]
        )
        counts = {o: sum(1 for r in results if r.outcome == o) for o in RowOutcome.values}
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=start + len(results),
            created_count=F("created_count") + counts[RowOutcome.CREATED],
            merged_count=F("merged_count") + counts[RowOutcome.MERGED],
            skipped_count=F("skipped_count") + counts[RowOutcome.SKIPPED],
            rejected_count=F("rejected_count") + counts[RowOutcome.REJECTED],
        )


def _assign(leads: list, job: ImportJob) -> None:
    """Leads without an owner column go through the assignment rules, when the rules app offers them."""
    try:
        from assignment.service import assign_leads
    except ImportError:
        return
    unowned = [lead for lead in leads if lead.owner_id == job.created_by_id]
    if unowned:
        assign_leads(leads=unowned, actor=job.created_by)


def run_job(job_id: int) -> ImportJob:
    """Run (or resume) an import from its cursor to the end of the file."""
    job = ImportJob.objects.get(pk=job_id)
    if job.finished:
        return job
    if not can(job.created_by, ObjectType.LEAD, Action.CREATE):
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error=_("You may not create leads."))
        return ImportJob.objects.get(pk=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=job.started_at or timezone.now())
    job.refresh_from_db()
    try:
        rows = iter_rows(Path(job.file.path), job.kind)
        next(rows, None)  # header
        numbered = ((n, cells) for n, cells in enumerate(rows, start=1) if any(cells))
        numbered = islice(numbered, job.processed_rows, None)  # resume after the last committed batch
        start = job.processed_rows
        while True:
            batch = list(islice(numbered, BATCH_SIZE))
            if not batch:
                break
            process_batch(job, start, batch)
            job.refresh_from_db()
            if job.status != JobStatus.RUNNING:
                return job
            start = job.processed_rows
    except Exception as error:
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error=str(error)[:2000])
        raise
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE, finished_at=timezone.now(), total_rows=F("processed_rows")
    )
    job.refresh_from_db()
    from core.notify import notify

    notify(
        users=[job.created_by],
        kind="import_done",
        title=_("Import of %(file)s finished") % {"file": job},
        body=_("%(c)d created, %(m)d merged, %(s)d skipped, %(r)d rejected.")
        % {"c": job.created_count, "m": job.merged_count, "s": job.skipped_count, "r": job.rejected_count},
        url=job.get_absolute_url(),
    )
    return job
