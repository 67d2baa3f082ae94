"""The import pipeline: rows → normalised lead data → duplicate check → assignment → bulk insert.

Rows are normalised and written a chunk at a time (a helper process normalises the next chunk while
this one is written); a batch of chunks is one transaction that also advances the job's cursor, so a
crash or restart either keeps a whole batch or none of it, and the job resumes where the last committed
batch ended. Every row ends in exactly one outcome: created, merged, skipped or rejected; created rows
are recorded as runs, which also serve as the new leads' creation history (imports.history).
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import gc
import hashlib
import itertools
import math
import multiprocessing
import re
import threading
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from pathlib import Path

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from core.bulk import adapt_value, cyclic_gc_paused, insert_rows
from core.choices import Action, ObjectType
from core.permissions import can, owner_assignable
from core.validators import normalize_phone, parse_cn_phone
from dedupe.service import lock_lead_creation
from leads.choices import LeadStatus

from . import actions
from .choices import LEAD_TARGETS, JobStatus, OnDuplicate, RowOutcome
from .models import ImportFingerprint, ImportJob, ImportRow, job_rows
from .parsing import is_rejected_rows_header, iter_rows, unquote_cell

BATCH_SIZE = 10000  # rows normalised and written at a time (a chunk); transactions take several


def rows_per_batch(total_rows: int) -> int:
    """Rows per transaction: BATCH_SIZE, and up to ten times that for big files (a tenth of the file).

    Each commit writes back every page of the random-key indexes (phone, email, name keys, fingerprints)
    that its rows touched; at a million rows a transaction of 10,000 already touches most of them, so
    fewer, bigger transactions write far less. The write lock is then held a few seconds at a time, well
    within the busy timeout other writers wait for."""
    return BATCH_SIZE * max(1, min(10, total_rows // (10 * BATCH_SIZE)))


_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STRIP = re.compile(r"[\s\-()（）]")


# --- value normalisation -------------------------------------------------------------------------


def fast_phone(raw: str) -> tuple[str, bool]:
    """E.164 for the common mobile forms without the (slow) full parser; the parser for the rest."""
    if len(raw) == 11 and raw[0] == "1" and raw[1] in "3456789" and raw.isascii() and raw.isdigit():
        return "+86" + raw, True  # the plain form most files hold: 13800138000
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
    # A municipality's one city level is named 市辖区: a file writes the municipality itself there (北京市,
    # 北京), as people do.
    for code, name in r.names.items():
        if len(code) == 4 and name == "市辖区":
            for key, province in provinces.items():
                if province == r.parent[code]:
                    cities.setdefault(key, code)
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


# Lead columns a row fills, in the order RowNormaliser hands them over.
LEAD_FIELDS = (
    "company",
    "contact_name",
    "title",
    "phone",
    "email",
    "industry",
    "province_code",
    "city_code",
    "district_code",
    "address",
    "source",
    "campaign",
    "notes",
    "score",
    "match_name",
)
_PHONE, _EMAIL_AT = LEAD_FIELDS.index("phone"), LEAD_FIELDS.index("email")
SCORE_MIN, SCORE_MAX = -(2**31), 2**31 - 1


def fingerprint_of(company: str, contact_name: str, phone: str, email: str) -> int:
    """The row's identity for re-imports: the first 64 bits of a SHA-256, as a signed integer key."""
    key = "\x1f".join([company, contact_name, phone, email]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big", signed=True)


class RowNormaliser:
    """Turns one row of cells into lead field values, or field-level reasons why it cannot be imported.

    Pure computation, no database: it may run in a helper process while the database takes the
    previous batch. Its results are plain tuples (cheap to pass between processes):
    valid rows `(number, values in LEAD_FIELDS order, fingerprint, owner as written)`,
    rejected rows `(number, None, reasons, cells)`.

    Cells come as `iter_rows` gives them (stripped). It runs for every row of a file, so the columns are
    picked by one itemgetter and the values that repeat down a column (regions, sources, industries) are
    resolved once each."""

    def __init__(self, mapping: dict, default_source: str, *, unquote: bool = False):
        self.unquote = unquote
        column = {target: int(index) for index, target in mapping.items() if target}
        # a missing target reads the "" appended after the row's last cell (index -1)
        self.pick = itemgetter(*(column.get(target, -1) for target in LEAD_TARGETS))
        self.width = max(column.values(), default=-1) + 1
        self.default_source = default_source
        self.names: dict[str, str] = {}
        self.regions: dict[tuple[str, str, str], tuple[tuple, dict]] = {}
        self.choices: dict[tuple[str, str], str | None] = {}

    @classmethod
    def for_job(cls, job: ImportJob) -> RowNormaliser:
        """A file of rejected rows, as downloaded, carries the quote the download put before cells that
        would read as formulas (core.export.safe_cell): it is taken off again, in such files only."""
        return cls(job.mapping, job.default_source, unquote=is_rejected_rows_header(job.header))

    def match_name(self, company: str) -> str:
        core = self.names.get(company)
        if core is None:
            from dedupe.normalize import name_core

            core = name_core(company)[:200]
            if len(self.names) > 100_000:
                self.names.clear()
            self.names[company] = core
        return core

    def choice(self, kind: str, raw: str) -> str | None:
        key = (kind, raw)
        if key not in self.choices:
            if len(self.choices) > 10_000:  # a column of free text mapped by mistake
                self.choices.clear()
            self.choices[key] = _choice(kind, raw)
        return self.choices[key]

    def region(self, province: str, city: str, district: str) -> tuple[tuple, dict]:
        key = (province, city, district)
        found = self.regions.get(key)
        if found is None:
            if len(self.regions) > 10_000:
                self.regions.clear()
            codes, errors = resolve_region(province, city, district)
            found = self.regions[key] = ((codes["province_code"], codes["city_code"], codes["district_code"]), errors)
        return found

    def __call__(self, number: int, cells: list[str]) -> tuple:
        padded = cells if len(cells) >= self.width else cells + [""] * (self.width - len(cells))
        if self.unquote:
            padded = [unquote_cell(cell) for cell in padded]
        (
            company,
            contact_name,
            title,
            phone,
            email,
            industry,
            province,
            city,
            district,
            address,
            source,
            campaign,
            score_text,
            owner,
            notes,
        ) = picked = self.pick([*padded, ""])
        errors: dict[str, list[str]] = {}
        if "\x00" in "".join(picked):  # no database stores it (PostgreSQL refuses it)
            for name, cell in zip(LEAD_TARGETS, picked, strict=False):
                if "\x00" in cell:
                    errors[name] = [_("Null characters are not allowed.")]
            return (number, None, errors, cells)
        for name, cell, limit in (
            ("company", company, 200),
            ("contact_name", contact_name, 60),
            ("title", title, 60),
            ("address", address, 300),
            ("campaign", campaign, 100),
        ):
            if len(cell) > limit:
                errors[name] = [_("At most %(max)d characters (this has %(n)d).") % {"max": limit, "n": len(cell)}]
        if not company:
            errors["company"] = [_("The company name is required.")]
        if phone:
            raw_phone = phone
            phone, ok = fast_phone(phone)
            if not ok:
                errors["phone"] = [_("“%(v)s” is not a valid phone number.") % {"v": raw_phone}]
        if email:
            email = email.lower()
            if not (_EMAIL.match(email) and len(email) <= 254):
                errors["email"] = [_("“%(v)s” is not a valid email address.") % {"v": email}]
        if industry:
            raw, industry = industry, self.choice("industry", industry)
            if industry is None:
                errors["industry"] = [_("“%(v)s” is not a known value.") % {"v": raw}]
        if source:
            raw, source = source, self.choice("source", source)
            if source is None:
                errors["source"] = [_("“%(v)s” is not a known value.") % {"v": raw}]
        else:
            source = self.default_source
        score = 0
        if score_text:
            try:
                given = Decimal(score_text)
            except (InvalidOperation, ValueError):
                given = None
            if given is None or not given.is_finite() or given != given.to_integral_value():
                errors["score"] = [_("Enter a whole number.")]
            elif not SCORE_MIN <= given <= SCORE_MAX:  # an integer column (PostgreSQL: 32 bits)
                errors["score"] = [
                    _("Enter a whole number from %(min)d to %(max)d.") % {"min": SCORE_MIN, "max": SCORE_MAX}
                ]
            else:
                score = int(given)
        codes = ("", "", "")
        if province or city or district:
            codes, region_errors = self.region(province, city, district)
            if region_errors:
                errors.update(region_errors)
        if errors:
            return (number, None, errors, cells)
        values = (
            company,
            contact_name,
            title,
            phone,
            email,
            industry,
            *codes,
            address,
            source,
            campaign,
            notes,
            score,
            self.match_name(company),
        )
        return (number, values, fingerprint_of(company, contact_name, phone, email), owner)


class PendingLead:
    """A row about to become a lead: what the assignment rules and the notifications read, without the
    cost of a model instance per row (the row's values stay one tuple; see the properties below)."""

    __slots__ = ("values", "pk", "owner_id", "pool_id", "row_number", "created_at")
    status = LeadStatus.NEW
    facts: dict = {}  # noqa: RUF012 - read-only: a new lead has established nothing yet

    def __init__(self, row_number: int, values: tuple, owner_id, now):
        self.values = values
        self.row_number = row_number
        self.pk = None
        self.owner_id = owner_id
        self.pool_id = None
        self.created_at = now

    def __str__(self):
        company, contact_name = self.values[0], self.values[1]  # LEAD_FIELDS order: read once per row
        return company if not contact_name else f"{company} · {contact_name}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("leads:detail", args=[self.pk])

    @staticmethod
    def getter_for(names: tuple[str, ...]):
        """A function giving the tuple of these fields of a row (the assignment planner's signature),
        reading the values tuple directly rather than through a property per field; None when one of
        them is not a lead field."""
        if not set(names) <= set(LEAD_FIELDS):
            return None
        values = itemgetter(*(LEAD_FIELDS.index(name) for name in names))
        return lambda pending: values(pending.values)


for _index, _name in enumerate(LEAD_FIELDS):
    setattr(PendingLead, _name, property(lambda self, i=_index: self.values[i]))


# --- duplicate matching --------------------------------------------------------------------------


def _chunks(values: list, size: int = 2000):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _lookup(sql: str, values: list, size: int = 2000) -> list[tuple]:
    """Rows of `sql` (with one `IN ({})` to fill) for many values, a chunk at a time, without the ORM's
    per-value overhead: these lookups run for every row of an import."""
    from django.db import connection

    found = []
    with connection.cursor() as cursor:
        for chunk in _chunks(values, size):
            cursor.execute(sql.format(", ".join(["%s"] * len(chunk))), chunk)
            found.extend(cursor.fetchall())
    return found


def match_existing(phones: set[str], emails: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Live leads by phone and by email: index probes (the `<> ''` lets SQLite use the partial indexes)."""
    from leads.models import Lead

    found: tuple[dict[str, int], dict[str, int]] = ({}, {})
    for values, column, out in ((phones, "phone", found[0]), (emails, "email", found[1])):
        sql = (
            f"SELECT {column}, id FROM {Lead._meta.db_table} WHERE {column} IN ({{}}) "  # noqa: S608 - fixed names, values bound
            f"AND NOT ({column} = '') AND deleted_at IS NULL ORDER BY id"
        )
        for value, pk in _lookup(sql, sorted(values)):
            out.setdefault(value, pk)
    return found


MATCHED = "matched"  # a screen verdict: an existing lead has the row's phone or email (merge or skip)
REPEAT = "repeat"  # a screen verdict: the row repeats an earlier row of the file (as a whole, or its phone or email)


class RowScreen:
    """What the file so far and the database say about each valid row before it reaches the writer: the
    same as an earlier row of this file (fingerprint, phone or email), or the phone or email of an
    existing lead. Reads only, so it runs beside the normaliser (in the helper process for big files)
    and the writer is left the lookups that must see its own transaction (fingerprints: a row
    imported before is never created twice, even by two imports of one file at the same time).

    The earlier rows are remembered for the last `keep` chunks at least: the screen is never more than
    that many chunks ahead of the writer's last commit (see Chunks), so rows before those are committed
    and found in the database instead, as the leads they created."""

    def __init__(self, check: bool, keep: int, importer_id: int):
        self.check = check  # phone and email too (the job does not create duplicates anyway)
        self.keep = keep
        self.importer_id = importer_id
        self.owners: _Owners | None = None
        self.seen: dict[object, int] = {}
        self.older: dict[object, int] = {}
        self.chunks = 0
        self.watermark: int | None = None  # the last lead id when the chunk screened last was looked up

    def owner(self, raw: str):
        """The user an owner column names, if the importer may hand leads to him (None otherwise)."""
        if self.owners is None:
            from org.models import User

            self.owners = _Owners(User.objects.get(pk=self.importer_id))
        return self.owners(raw)

    def __call__(self, rows: list[tuple]) -> dict[int, tuple]:
        """row number → (outcome, record id, reasons, owner id): (RowOutcome.REJECTED, None, reasons, None)
        for an owner column naming no one the importer may assign to; (REPEAT, (the earlier row's number,
        whether the whole row repeats), reasons, owner) for a repeat; (MATCHED, lead id, {}, owner) for an
        existing lead's phone or email; (None, None, {}, owner) for a row with an owner and nothing else to
        say. Rows that end rejected or imported before (the writer looks again under its lock) are not
        remembered as earlier rows."""
        if self.chunks and self.chunks % self.keep == 0:  # the older generation holds `keep` chunks
            self.older, self.seen = self.seen, {}
        self.chunks += 1
        valid = [row for row in rows if row[1] is not None]
        self.watermark = last_lead_id() if self.check else None  # before the lookups: see BatchWriter.recheck
        before, _purged = imported_before([row[2] for row in valid])
        check = self.check
        existing = existing_leads(valid) if check else {}
        verdicts: dict[int, tuple] = {}
        seen = self.seen
        seen_get, older_get = seen.get, self.older.get  # row numbers start at 1: `or` tells "not seen"
        phone = email = ""
        for number, values, fp, owner in valid:
            owner_id = None
            if owner:
                user = self.owner(owner)
                if user is None:
                    reason = _("“%(v)s” is not an active user you may assign leads to.") % {"v": owner}
                    verdicts[number] = (RowOutcome.REJECTED, None, {"owner": [reason]}, None)
                    continue
                owner_id = user.pk
            if fp in before:
                if owner_id:
                    verdicts[number] = (None, None, {}, owner_id)
                continue
            first = seen_get(fp) or older_get(fp)
            whole = first is not None
            if check:  # a row repeating an earlier row's phone or email is that row again
                phone, email = values[_PHONE], values[_EMAIL_AT]
                if first is None and phone:
                    first = seen_get(phone) or older_get(phone)
                if first is None and email:
                    first = seen_get(email) or older_get(email)
            if first is not None:
                reasons = {"__all__": [_("Same as row %(n)d.") % {"n": first}]}
                verdicts[number] = (REPEAT, (first, whole), reasons, owner_id)
                continue
            seen[fp] = number
            if phone:
                seen[phone] = number
            if email:
                seen[email] = number
            pk = existing.get(number)
            if pk:
                verdicts[number] = (MATCHED, pk, {}, owner_id)
            elif owner_id:
                verdicts[number] = (None, None, {}, owner_id)
        return verdicts


def last_lead_id() -> int | None:
    """The last lead id given out (SQLite's AUTOINCREMENT counter, which moves with every lead any
    transaction commits); None where no such counter can be read consistently (PostgreSQL sequences
    are not transactional)."""
    from django.db import connection

    from leads.models import Lead

    if connection.vendor != "sqlite":
        return None
    found = _lookup("SELECT seq FROM sqlite_sequence WHERE name IN ({})", [Lead._meta.db_table])
    return found[0][0] if found else 0


def imported_before(fingerprints: list[int]) -> tuple[dict[int, int], list[int]]:
    """For those of `fingerprints` imported before: fingerprint → the record it created, where that record
    still exists (in the recycle bin included), or the record it was merged into; and the fingerprints
    whose record was purged. Merges are followed here rather than by rewriting fingerprints when merging:
    fingerprints have no index by record, and a merge would read all of them."""
    from dedupe.models import MergeRecord
    from leads.models import Lead

    # Only fixed table names and the lead type's constant value are interpolated; fingerprints are bound.
    sql = (
        f"SELECT f.id, f.record_id, l.id, m.id, s.id FROM {ImportFingerprint._meta.db_table} f "  # noqa: S608
        f"LEFT JOIN {Lead._meta.db_table} l ON l.id = f.record_id "
        f"LEFT JOIN {MergeRecord._meta.db_table} m ON m.object_type = '{ObjectType.LEAD.value}' "
        f"AND m.loser_id = f.record_id "
        f"LEFT JOIN {Lead._meta.db_table} s ON s.id = m.survivor_id WHERE f.id IN ({{}})"
    )
    alive, gone = {}, set()
    for fp, record_id, lead_id, merge_id, survivor_id in _lookup(sql, sorted(fingerprints)):  # in key order
        if survivor_id is not None:
            alive[fp] = survivor_id
        elif merge_id is None and lead_id is not None:
            alive[fp] = record_id
        else:  # purged, or merged into a record since purged (the merged loser cannot come back)
            gone.add(fp)
    return alive, sorted(gone - set(alive))


def existing_leads(rows: list[tuple]) -> dict[int, int]:
    """Row number → the live lead that has the row's phone (or else its email), for valid rows."""
    by_phone, by_email = match_existing(
        {r[1][_PHONE] for r in rows if r[1][_PHONE]}, {r[1][_EMAIL_AT] for r in rows if r[1][_EMAIL_AT]}
    )
    found = {}
    for number, values, _fp, _owner in rows:
        pk = by_phone.get(values[_PHONE]) or by_email.get(values[_EMAIL_AT])
        if pk:
            found[number] = pk
    return found


def match_by_rules(rows, *, blocking_only: bool = False) -> dict[int, tuple[str, int]]:
    """row_number → (object type, id) of the best hit of the duplicate rules an admin made warn or block
    (`blocking_only`: block).

    Rules left at "allow" only report, so they cost an import nothing; a similarity rule switched on costs
    a few milliseconds per row (it looks at the row's blocking buckets, never at every record)."""
    from dedupe.service import Probe, enforced_rules, find_duplicates

    rules = enforced_rules(ObjectType.LEAD, blocking_only=blocking_only)
    found: dict[int, tuple[str, int]] = {}
    if not rules:
        return found
    for number, values, _fp, _owner in rows:
        probe = Probe.build(ObjectType.LEAD, name=values[0], phone=values[_PHONE], email=values[_EMAIL_AT])
        hits = [h for h in find_duplicates(probe, rules, limit=5) if h.action != "allow"]
        if hits:
            found[number] = (hits[0].object_type, hits[0].pk)
    return found


class ChunkNames:
    """The admin's lead-name rules (warn and block, or block only) between the rows of one chunk: the rows
    are not in the database until the chunk is written, so the duplicate check cannot find them there
    (and finds the rows of earlier chunks only through their keys: see `write_keys`).
    A row is held against the earlier rows of its chunk that will be created, as the check would hold it
    against their leads (a rule's conditions are read off the earlier row as a new lead)."""

    def __init__(self, *, blocking_only: bool):
        from core.conditions import predicate
        from dedupe.choices import RuleKind
        from dedupe.service import NameIndex, enforced_rules

        self.rules = [
            (rule.threshold, predicate(rule.conditions, ObjectType.LEAD) if rule.conditions else None)
            for rule in enforced_rules(ObjectType.LEAD, blocking_only=blocking_only)
            if rule.kind == RuleKind.NAME and rule.target == ObjectType.LEAD
        ]
        self.index = NameIndex() if self.rules else None

    def __bool__(self) -> bool:
        return bool(self.rules)

    @staticmethod
    def _name(row: tuple):
        from dedupe.normalize import normalize_name

        return normalize_name(row[1][0] or "")

    def add(self, row: tuple) -> None:
        if self.index is not None:
            number, values, _fp, owner_id = row
            self.index.add(self._name(row), (number, PendingLead(number, values, owner_id, timezone.now())))

    def earlier(self, row: tuple) -> int | None:
        """The number of the first earlier row whose company a rule matches with this row's, if any."""
        if self.index is None:
            return None
        name = self._name(row)
        found = [
            number
            for threshold, accepts in self.rules
            for (number, pending), _score in self.index.matches(name, threshold)
            if accepts is None or accepts(pending)
        ]
        return min(found, default=None)

    @staticmethod
    def reasons(first: int) -> dict:
        return {"__all__": [_("Same company as row %(n)d.") % {"n": first}]}

    def write_keys(self, created: list[PendingLead]) -> None:
        """The abbreviation keys of the chunk's new leads, written now rather than after the last row, so
        that a later chunk's short name (广汽) finds an earlier chunk's full one (广州汽车集团) as the rules
        would find a lead entered by hand; the indexing phase writes them again in place."""
        from dedupe.service import write_name_keys

        if self.index is not None and created:
            write_name_keys(ObjectType.LEAD, [(p.pk, p.values[0]) for p in created])


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


def _merge_into(lead_id: int, values: tuple, user) -> bool:
    """Fill the empty fields of an existing lead the importer may edit; False when he may not."""
    from core import actions as core_actions
    from leads.models import Lead

    lead = Lead.objects.visible_to(user, Action.EDIT).filter(pk=lead_id).first()
    if lead is None:
        return False
    data = dict(zip(LEAD_FIELDS, values, strict=True))
    skip = {"source", "match_name"}
    fill = {k: v for k, v in data.items() if k not in skip and v and not getattr(lead, k, None)}
    if fill:
        core_actions.update_record(instance=lead, user=user, data=fill)
    return True


class _Owners:
    """Owner column values → users the importer may hand leads to, looked up once per distinct value."""

    def __init__(self, importer):
        self.importer = importer
        self.cache: dict[str, object] = {}

    def __call__(self, raw: str):
        if raw not in self.cache:
            from django.db.models import Q

            from org.models import User

            user = User.objects.filter(Q(username=raw) | Q(employee_no=raw) | Q(name=raw), is_active=True).first()
            ok = user is not None and owner_assignable(self.importer, ObjectType.LEAD, Action.CREATE, user)
            self.cache[raw] = user if ok else None
        return self.cache[raw]


def explain_row(job: ImportJob):
    """For the preview: a function giving a row's lead field values (as text) and its reasons, if any."""
    normalise = RowNormaliser.for_job(job)
    owners = _Owners(job.created_by)
    hidden = {"match_name"}

    def explain(number: int, cells: list[str]) -> tuple[dict, dict]:
        _n, values, third, owner = normalise(number, cells)
        if values is None:
            return {}, third
        data = {k: str(v) for k, v in zip(LEAD_FIELDS, values, strict=True) if k not in hidden and v != ""}
        if owner:
            user = owners(owner)
            if user is None:
                return {}, {"owner": [_("“%(v)s” is not an active user you may assign leads to.") % {"v": owner}]}
            data["owner"] = str(user)
        return data, {}

    return explain


def preview_matches(job: ImportJob, rows: list[tuple[int, list[str]]]) -> dict[int, str]:
    """For the preview's rows: row number → what an existing lead it matches will mean (the same row imported
    before, or a lead with its phone or e-mail), as the import will find it. A handful of index lookups."""
    normalise = RowNormaliser.for_job(job)
    valid = [row for row in (normalise(number, cells) for number, cells in rows) if row[1] is not None]
    if not valid:
        return {}
    before, _purged = imported_before([row[2] for row in valid])
    matched = set(existing_leads(valid)) | {number for number, _values, fp, _owner in valid if fp in before}
    what = {
        OnDuplicate.SKIP: _("Matches an existing lead: it will be skipped."),
        OnDuplicate.MERGE: _("Matches an existing lead: its empty fields will be filled in from this row."),
        OnDuplicate.CREATE: _("Matches an existing lead: it will be created anyway."),
    }.get(job.on_duplicate, "")
    return dict.fromkeys(matched, what) if what else {}


class BatchWriter:
    """Writes normalised batches: one transaction per batch, which also advances the job's cursor."""

    INSERTS_KEPT = 100  # id ranges of the last chunks written: more than the screen can be ahead of them

    def __init__(self, job: ImportJob, screen_keep: int = 1):
        self.job = job
        self.inserted: list[tuple[int, int]] = []  # (first id, last id) of the leads of each chunk written
        # The rows of the last chunks written, as (first row, record id, rows) entries (created runs or single
        # rows): what the screen's repeats point back at. The screen remembers two generations of `keep`
        # chunks, so a repeat is never more than 2 × keep − 1 chunks after its earlier row.
        self.recent: collections.deque[list[tuple[int, int, int]]] = collections.deque(maxlen=2 * screen_keep)
        self.insert_columns = (
            *LEAD_FIELDS,
            "owner_id",
            "pool_id",
            "owner_since",
            "pool_entered_at",
        )

    def reject(self, number: int, reasons: dict, cells: list) -> tuple:
        if any("\x00" in cell for cell in cells) or "\x00" in str(reasons):  # PostgreSQL's JSON holds no NUL
            cells = [cell.replace("\x00", "\ufffd") for cell in cells]
            reasons = {k: [m.replace("\x00", "\ufffd") for m in v] for k, v in reasons.items()}
        return (number, RowOutcome.REJECTED, None, reasons, cells)

    def recheck(self, rows: list[tuple], verdicts: dict, watermark: int | None) -> dict:
        """The screen's verdicts, made good under the write lock: when leads other than this job's own
        were created after the screen looked (the lead counter moved further than this job's inserts since
        `watermark`), the rows it found nothing for are looked up again by phone and email. The usual
        case costs one read; the screen's lookups then stand as if they were made now."""
        if watermark is not None:
            moved = last_lead_id() - watermark
            own = sum(max(0, last - max(first, watermark + 1) + 1) for first, last in self.inserted)
            if moved == own:
                return verdicts
        elif connection.vendor != "postgresql" or self.job.on_duplicate == OnDuplicate.CREATE:
            return verdicts
        # PostgreSQL has no counter to read consistently: every chunk is looked up again (one indexed read
        # per 2,000 values), after the lock that keeps two imports from checking the same phone at once.
        unmatched = [r for r in rows if r[1] is not None and verdicts.get(r[0], (None,))[0] is None]
        verdicts = dict(verdicts)
        for number, pk in existing_leads(unmatched).items():
            owner_id = verdicts[number][3] if number in verdicts else None
            verdicts[number] = (MATCHED, pk, {}, owner_id)
        return verdicts

    def write(self, start: int, chunks) -> int | None:
        """Import the chunks (each `(rows, screen verdicts)`, consumed here) in one transaction that also
        advances the job's cursor: how many rows that was (0 at the end of the file), or None when the job
        moved on without them (cancelled, or another worker). The first chunk is taken before the
        transaction begins: the write lock is not held while it is read."""
        from assignment.service import notify_assignees

        chunks = iter(chunks)
        first = next(chunks, None)
        if first is None:
            return 0
        job = self.job
        counts = dict.fromkeys(RowOutcome.values, 0)
        decisions: list = []
        written = 0
        with transaction.atomic():
            locked = ImportJob.objects.select_for_update().get(pk=job.pk)
            if locked.processed_rows != start or locked.status != JobStatus.RUNNING:
                return None
            lock_lead_creation()
            for rows, verdicts, watermark in itertools.chain([first], chunks):
                self.write_chunk(rows, self.recheck(rows, verdicts, watermark), counts, decisions)
                written += len(rows)
            ImportJob.objects.filter(pk=job.pk).update(
                progress_at=timezone.now(),
                processed_rows=start + written,
                created_count=F("created_count") + counts[RowOutcome.CREATED],
                merged_count=F("merged_count") + counts[RowOutcome.MERGED],
                skipped_count=F("skipped_count") + counts[RowOutcome.SKIPPED],
                rejected_count=F("rejected_count") + counts[RowOutcome.REJECTED],
            )
            if decisions:
                notify_assignees(decisions, job.created_by)
        return written

    def write_chunk(self, results: list[tuple], verdicts: dict, counts: dict, placed: list) -> None:
        """One chunk of the transaction under way: owners, the admin's duplicate rules, assignment,
        inserts, outcomes; adds to `counts` per outcome and to `placed` the assignment decisions to
        notify about. `verdicts` are the RowScreen's (repeats, earlier imports, existing phones/emails)."""
        from assignment.service import plan

        job = self.job
        outcomes: list[tuple] = []  # (row number, outcome, record id, reasons, cells)
        repeats: list[tuple] = []  # (row number, (the earlier row's number, whole row?), reasons, values)
        fresh: list[tuple] = []
        matched: dict[int, int] = {}  # row number → the existing lead with its phone or email
        previous = self.imported_before(results)
        for row in results:
            number, values, third, fourth = row
            if values is None:
                outcomes.append(self.reject(number, third, fourth))
                continue
            verdict = verdicts.get(number)
            owner_id = None
            if verdict is not None:
                outcome, record_id, reasons, owner_id = verdict
                if outcome == RowOutcome.REJECTED:  # its owner column
                    outcomes.append(self.reject(number, reasons, []))
                    continue
            if third in previous:  # the same row imported before (this job or an earlier one)
                outcomes.append((number, RowOutcome.SKIPPED, previous[third], {}, []))
                continue
            if verdict is not None:
                if outcome == REPEAT:
                    repeats.append((number, record_id, reasons, values))
                    continue
                if outcome == MATCHED:
                    matched[number] = record_id
            fresh.append((number, values, third, owner_id))
        names = ChunkNames(blocking_only=job.on_duplicate == OnDuplicate.CREATE)
        if job.on_duplicate == OnDuplicate.CREATE:
            to_create = self.skip_blocked(fresh, outcomes, repeats, names)
        else:
            to_create = self.check_duplicates(fresh, matched, outcomes, repeats, names)
        now = timezone.now()
        pending = [PendingLead(number, values, owner_id, now) for number, values, _fp, owner_id in to_create]
        decisions = {}
        unowned = [p for p in pending if p.owner_id is None]
        for p, decision in zip(unowned, plan(unowned), strict=True):
            if decision.rule is not None:
                decisions[p.row_number] = decision
                p.owner_id = decision.owner.id if decision.owner else None
                p.pool_id = decision.pool.id if decision.pool else None
            else:
                p.owner_id = job.created_by_id  # no rule places it: the importer keeps it
        self.insert(pending, to_create, decisions, now)
        names.write_keys(pending)
        for outcome in outcomes:
            counts[outcome[1]] += 1
        counts[RowOutcome.CREATED] += len(pending)
        outcomes.extend((p.row_number, RowOutcome.CREATED, p.pk, {}, []) for p in pending)
        self.record(outcomes, decisions)
        if repeats:  # after the rest: the row a repeat points at may be in this chunk
            self.record(self.repeated(repeats, counts), {}, remember=False)  # never the earlier row of a repeat
        placed.extend(decisions.values())

    def repeated(self, repeats: list[tuple], counts: dict) -> list[tuple]:
        """Outcomes of the rows repeating an earlier row of the file: skipped as the record that row ended
        as; in merge mode a row sharing only its phone or email is merged into that record, as it would be
        were the earlier row's lead older than the screen remembers."""
        merge = self.job.on_duplicate == OnDuplicate.MERGE
        outcomes = []
        for number, (first, whole), reasons, values in repeats:
            record_id = self.record_of_row(first)
            outcome = RowOutcome.SKIPPED
            if merge and not whole and record_id is not None and _merge_into(record_id, values, self.job.created_by):
                outcome = RowOutcome.MERGED
            counts[outcome] += 1
            outcomes.append((number, outcome, record_id, reasons, []))
        return outcomes

    def record_of_row(self, number: int) -> int | None:
        """The record an earlier row of the file created, was merged into or was skipped as (None when it
        was rejected), from the chunks written last."""
        for chunk in reversed(self.recent):
            if not chunk or chunk[0][0] > number:
                continue
            at = bisect.bisect_right(chunk, (number, math.inf)) - 1
            if at >= 0:
                first_row, record_id, count = chunk[at]
                if number < first_row + count:
                    return record_id + (number - first_row)
            return None
        return None

    def imported_before(self, results: list[tuple]) -> dict[int, int]:
        """Fingerprint → the record it created, for the chunk's rows imported before. Looked up here, under
        the write lock, so that two imports of one file at the same time cannot both create a row."""
        previous, purged = imported_before([r[2] for r in results if r[1] is not None])
        if purged:  # its row may be imported again: the new record takes the fingerprint
            ImportFingerprint.objects.filter(pk__in=purged).delete()
        return previous

    def check_duplicates(
        self,
        fresh: list[tuple],
        matched: dict[int, int],
        outcomes: list[tuple],
        repeats: list[tuple],
        names: ChunkNames,
    ) -> list[tuple]:
        """Rows matching an existing lead (`matched`: by phone or email) or a record the admin's
        duplicate rules enforce are merged or skipped, and so is a row whose company the admin's name rule
        matches with an earlier row of its chunk (`repeats`); the rest are returned to be created."""
        job = self.job
        elsewhere = match_by_rules(r for r in fresh if r[0] not in matched)  # read only when rules apply
        if not matched and not elsewhere and not names:
            return fresh
        to_create = []
        for row in fresh:
            number, values = row[0], row[1]
            found = matched.get(number)
            reasons = {}
            if number in elsewhere:  # an account, a contact or a lead found by the admin's rules
                object_type, found = elsewhere[number]
                reasons = {"__all__": [describe_match(object_type, found, job.created_by)]}
                if object_type != ObjectType.LEAD:  # rows are leads: keep only the description
                    outcomes.append((number, RowOutcome.SKIPPED, None, reasons, []))
                    continue
            if found is None and (first := names.earlier(row)) is not None:
                repeats.append((number, (first, False), names.reasons(first), values))
                continue
            if found is None:
                names.add(row)
                to_create.append(row)
            elif job.on_duplicate == OnDuplicate.MERGE and _merge_into(found, values, job.created_by):
                outcomes.append((number, RowOutcome.MERGED, found, reasons, []))
            else:
                outcomes.append((number, RowOutcome.SKIPPED, found, reasons, []))
        return to_create

    def skip_blocked(
        self, fresh: list[tuple], outcomes: list[tuple], repeats: list[tuple], names: ChunkNames
    ) -> list[tuple]:
        """Creating rows anyway confirms what the duplicate rules warn about, as a user confirms a warning on
        a form, but a rule an administrator set to block still keeps a row out: it is skipped, with the
        record it matched. Earlier chunks are in the database by now; a row sharing a blocked phone or
        e-mail with an earlier row of its own chunk is skipped as that row's record (`repeats`)."""
        from dedupe.choices import RuleKind
        from dedupe.service import enforced_rules

        blocking = {rule.kind for rule in enforced_rules(ObjectType.LEAD, blocking_only=True)}
        blocked = match_by_rules(fresh, blocking_only=True)
        if not blocked and not blocking:
            return fresh
        columns = [at for kind, at in ((RuleKind.PHONE, _PHONE), (RuleKind.EMAIL, _EMAIL_AT)) if kind in blocking]
        to_create, taken = [], {}
        for row in fresh:
            number, values = row[0], row[1]
            if number in blocked:
                object_type, found = blocked[number]
                reasons = {"__all__": [describe_match(object_type, found, self.job.created_by)]}
                record_id = found if object_type == ObjectType.LEAD else None
                outcomes.append((number, RowOutcome.SKIPPED, record_id, reasons, []))
                continue
            keys = [(at, values[at]) for at in columns if values[at]]
            first = next((taken[key] for key in keys if key in taken), None)
            if first is not None:
                reasons = {"__all__": [_("Same as row %(n)d.") % {"n": first}]}
                repeats.append((number, (first, False), reasons, values))
                continue
            if (first := names.earlier(row)) is not None:
                repeats.append((number, (first, False), names.reasons(first), values))
                continue
            for key in keys:
                taken[key] = number
            names.add(row)
            to_create.append(row)
        return to_create

    def insert(self, pending: list[PendingLead], rows: list[tuple], decisions: dict, now) -> None:
        """The leads and their fingerprints; their creation history is the chunk's outcome record."""
        from leads.models import Lead

        if not pending:
            return
        job = self.job
        stamp = adapt_value(Lead, "created_at", now)
        shared = {
            "created_at": stamp,
            "updated_at": stamp,
            "created_by_id": job.created_by_id,
            "version": 1,
            "status": str(LeadStatus.NEW),
            "invalid_reason": "",
            "invalid_note": "",
            "facts": adapt_value(Lead, "facts", {}),
            "is_locked": False,
        }
        lead_rows = [
            (*values, p.owner_id, p.pool_id, stamp if p.owner_id else None, stamp if p.pool_id else None)
            for p, (_n, values, _fp, _o) in zip(pending, rows, strict=True)
        ]
        ids = insert_rows(Lead, self.insert_columns, lead_rows, ready=True, constants=shared)
        self.inserted.append((ids[0], ids[-1]))  # consecutive (see insert_rows)
        del self.inserted[: -self.INSERTS_KEPT]
        for p, pk in zip(pending, ids, strict=True):
            p.pk = pk
        # in key order: random 64-bit keys inserted sorted walk the table's B-tree left to right
        fingerprints = sorted((row[2], p.pk) for p, row in zip(pending, rows, strict=True))
        insert_rows(
            ImportFingerprint,
            ("id", "record_id"),
            fingerprints,
            ready=True,
            constants={"object_type": str(ObjectType.LEAD), "job_id": job.pk},
        )

    def record(self, outcomes: list[tuple], decisions: dict, *, remember: bool = True) -> None:
        """The chunk's outcomes in row order: created rows as runs (consecutive rows that created
        consecutive records), every other row as its own entry; JSON adapted only where there is
        something to say.

        A run is also the creation history of its leads (see `imports.history`): who imported them
        from which file and row, and which assignment rule placed each, as `placements`: the rules and
        territories that placed some of the run's rows, and per row the 1-based index of its placement
        (0: no rule)."""

        def adapt(column, value, empty):
            return empty if not value else adapt_value(ImportRow, column, value)

        no_reasons, no_cells = adapt_value(ImportRow, "reasons", {}), adapt_value(ImportRow, "values", [])
        entries: list[list] = []
        run = None  # the entry of the created run under way: [job, first row, outcome, first id, ..., count]
        placements: dict[tuple, int] = {}  # (rule, territory) → index in the run's placement list
        by_row: list[int] = []

        def close_run():
            if run is not None and placements:
                run[7] = adapt_value(ImportRow, "placements", {"placed": _placement_list(placements), "rows": by_row})

        created = RowOutcome.CREATED
        keys: dict[tuple[int, int], tuple] = {}  # the placement of each (rule, territory) the batch's decisions share
        for number, outcome, record_id, reasons, cells in sorted(outcomes, key=itemgetter(0)):
            decision = decisions.get(number) if outcome == created else None
            key = None
            if decision is not None:
                rule, territory = decision.rule, decision.territory
                key = keys.get((id(rule), id(territory)))
                if key is None:
                    key = keys[id(rule), id(territory)] = (rule.id, rule.name, territory.name if territory else "")
            if outcome == created and run is not None:
                count = run[6]
                if run[1] + count == number and run[3] + count == record_id:
                    run[6] = count + 1
                    by_row.append(0 if key is None else placements.setdefault(key, len(placements) + 1))
                    continue
            close_run()
            entry = [
                self.job.pk,
                number,
                outcome,
                record_id,
                adapt("reasons", reasons, no_reasons),
                adapt("values", cells if outcome == RowOutcome.REJECTED else None, no_cells),
                1,
                no_reasons,
            ]
            entries.append(entry)
            run, placements, by_row = None, {}, []
            if outcome == created:
                run = entry
                by_row.append(0 if key is None else placements.setdefault(key, 1))
        close_run()
        # entry: [job, row, outcome, record id, reasons, values, rows, placements]
        if remember:
            self.recent.append([(e[1], e[3], e[6]) for e in entries if e[3] is not None])
        insert_rows(
            ImportRow,
            ("job_id", "row_number", "outcome", "record_id", "reasons", "values", "row_count", "placements"),
            entries,
            ready=True,
        )


def _placement_list(placements: dict[tuple, int]) -> list[dict]:
    ordered = sorted(placements.items(), key=lambda item: item[1])
    return [{"rule_id": rule_id, "rule": rule, "territory": territory} for (rule_id, rule, territory), _i in ordered]


# --- reading the file, in a helper process when it pays -----------------------------------------------


def _numbered_rows(path: str, kind: str, skip: int):
    rows = iter_rows(Path(path), kind)
    next(rows, None)  # header
    numbered = ((n, cells) for n, cells in enumerate(rows, start=1) if any(cells))
    return islice(numbered, skip, None)  # resume after the last committed batch


def _normalised(
    path: str,
    kind: str,
    skip: int,
    normalise: RowNormaliser,
    check: bool,
    importer_id: int,
    ahead: int,
    permits,
):
    """Chunks of `(normalised rows, the screen's verdicts on them)`; each waits for a permit, when
    given, so that the screen is never more than `ahead` chunks past the writer's last commit."""
    screen = RowScreen(check, keep=ahead + 1, importer_id=importer_id)  # Chunks.screen_keep
    numbered = _numbered_rows(path, kind, skip)
    while True:
        batch = list(islice(numbered, BATCH_SIZE))
        if not batch:
            return
        rows = [normalise(number, cells) for number, cells in batch]
        if permits is not None:
            while not permits.acquire(timeout=1):
                if not multiprocessing.parent_process().is_alive():  # the writer is gone: stop, don't wait
                    return
        verdicts = screen(rows)
        yield rows, verdicts, screen.watermark


def _produce(pipe, args, inherited=None) -> None:
    """The helper process: reads, normalises and screens the file ahead of the writer. It reads the
    database on a connection of its own (the writer's was closed before the fork), never writes to it."""
    import signal

    from django.db import connection

    # the worker's own handlers (a db_worker's SIGTERM only asks its loop to stop) would keep terminate()
    # from ending this process
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if inherited is not None:
        # The writer's end of the pipe, copied by the fork: held open here, a writer killed mid-import
        # would leave this process blocked for good on a full pipe it is itself the reader of.
        inherited.close()
    gc.disable()  # a short-lived process making millions of tuples and no cycles worth collecting
    try:
        for chunk in _normalised(*args):
            pipe.send(chunk)
        pipe.send(None)
    except BrokenPipeError:  # the writer is gone
        pass
    except BaseException as error:  # noqa: BLE001 - reported to the writer, which fails the job
        with contextlib.suppress(OSError):
            pipe.send({"error": f"{type(error).__name__}: {error}"})
    finally:
        pipe.close()
        connection.close()


def use_helper_process(job: ImportJob) -> bool:
    """A second process normalises and screens rows while this one writes, when the file is big enough
    to pay for starting it, the platform can fork (the helper inherits the loaded code instead of
    importing it) and no transaction is open here (the helper could not see what it holds)."""
    from django.conf import settings
    from django.db import connection

    threshold = settings.TIDE_IMPORT_PARALLEL_ROWS
    if threshold <= 0 or "fork" not in multiprocessing.get_all_start_methods() or connection.in_atomic_block:
        return False
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # private to this process
        return False
    return job.total_rows - job.processed_rows >= threshold


class Chunks:
    """The file's chunks of normalised, screened rows from row `skip` on, `per_transaction` of them to a
    transaction: from a helper process for big files, else computed here as they are taken.

    The helper takes a permit per chunk and the writer gives back a transaction's worth after each
    commit (`committed`), so the screen runs at most a transaction and two chunks ahead of what the
    database holds, and need remember no more of the file than that."""

    def __init__(self, job: ImportJob, skip: int, per_transaction: int):
        check = job.on_duplicate != OnDuplicate.CREATE
        self.per_transaction = per_transaction
        ahead = per_transaction + 2
        self.screen_keep = ahead + 1  # the RowScreen's `keep`
        self.args = [
            *(job.file.path, job.kind, skip, RowNormaliser.for_job(job), check, job.created_by_id),
            *(ahead, None),
        ]
        self.helper = self.permits = None
        if use_helper_process(job):
            context = multiprocessing.get_context("fork")
            self.permits = self.args[-1] = context.Semaphore(ahead)
            self.context = context

    def __iter__(self):
        if self.permits is None:
            yield from _normalised(*self.args)
            return
        from django.db import connection

        connection.close()  # a connection must not be shared with a forked process: each opens its own
        receiver, sender = self.context.Pipe(duplex=False)
        self.helper = self.context.Process(target=_produce, args=(sender, tuple(self.args), receiver), daemon=True)
        self.helper.start()
        sender.close()
        try:
            while True:
                try:
                    chunk = receiver.recv()
                except EOFError:
                    raise RuntimeError("The import helper process stopped unexpectedly.") from None
                if chunk is None:
                    return
                if isinstance(chunk, dict):
                    raise RuntimeError(chunk["error"])
                yield chunk
        finally:
            receiver.close()
            if self.helper.is_alive():
                self.helper.terminate()
            self.helper.join(timeout=5)
            if self.helper.is_alive():
                self.helper.kill()
                self.helper.join()

    def committed(self) -> None:
        if self.permits is not None:
            for _i in range(self.per_transaction):
                self.permits.release()


class BackgroundCheckpoints:
    """SQLite: a big import's WAL checkpoints run in a thread of their own, so the writer goes on with
    its next transaction while the last one's pages are copied into the database file and flushed to
    disk. (Left to SQLite, the committing connection does that copy and its fsyncs itself, with the
    write lock released but the import waiting.) Started after the first commit: by then the helper
    process has been forked, and a fork never copies a running thread."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and connection.vendor == "sqlite"
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()
        self.stopping = False
        self.error: BaseException | None = None

    def committed(self) -> None:
        if not self.enabled:
            return
        if self.thread is None:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA database_list")  # the file itself, however the setting names it
                path = next(row[2] for row in cursor.fetchall() if row[1] == "main")
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            self.thread = threading.Thread(target=self._run, args=(path,), daemon=True)
            self.thread.start()
        elif self.error is not None or not self.thread.is_alive():  # it failed: the writer checkpoints again
            self.enabled = False
            self._restore()
            return
        self.wake.set()

    def _run(self, path: str) -> None:
        import sqlite3

        try:
            db = sqlite3.connect(path, timeout=20, isolation_level=None)
        except sqlite3.Error as error:
            self.error = error
            return
        try:
            while True:
                self.wake.wait()
                self.wake.clear()
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                if self.stopping:
                    return
        except sqlite3.Error as error:  # the writer's own checkpoints take over (see close)
            self.error = error
        finally:
            db.close()

    def close(self) -> None:
        if self.thread is None:
            return
        self.stopping = True
        self.wake.set()
        self.thread.join()
        self.thread = None
        self._restore()

    @staticmethod
    def _restore() -> None:
        if connection.connection is not None:  # the writer checkpoints its own commits again
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_autocheckpoint=1000")


# --- the job -------------------------------------------------------------------------------------------


def run_job(job_id: int) -> ImportJob:
    """Run (or resume) an import from its cursor to the end of the file, then make its records searchable."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.finished:
        if job.status == JobStatus.DONE and not job.indexed:
            index_job(job)
        return job
    if not can(job.created_by, ObjectType.LEAD, Action.CREATE):
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error=_("You may not create leads."))
        return ImportJob.objects.get(pk=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=job.started_at or timezone.now(), progress_at=timezone.now()
    )
    job.refresh_from_db()
    try:
        start = job.processed_rows
        # several chunks to a transaction only when a helper process normalises them ahead of the writes:
        # this process would otherwise read and normalise them while holding the write lock
        together = rows_per_batch(job.total_rows) // BATCH_SIZE if use_helper_process(job) else 1
        checkpoints = BackgroundCheckpoints(enabled=together > 1)
        with cyclic_gc_paused(), contextlib.closing(checkpoints):
            chunks = Chunks(job, start, together)
            writer = BatchWriter(job, screen_keep=chunks.screen_keep)
            taken = iter(chunks)
            while True:
                written = writer.write(start, islice(taken, together))
                if written is None:
                    job.refresh_from_db()
                    return job
                if not written:
                    break
                chunks.committed()
                checkpoints.committed()
                start += written
                if ImportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).count() == 0:
                    job.refresh_from_db()
                    return job  # cancelled while this batch was written
    except Exception as error:
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error=str(error)[:2000])
        raise
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE, finished_at=timezone.now(), progress_at=timezone.now(), total_rows=F("processed_rows")
    )
    job.refresh_from_db()
    from core.notify import notify

    notify(
        users=[job.created_by],
        kind="import_done",
        title=_(actions.FINISHED_TITLE) % {"file": job},
        body=_(actions.FINISHED_BODY)
        % {"c": job.created_count, "m": job.merged_count, "s": job.skipped_count, "r": job.rejected_count},
        url=job.get_absolute_url(),
    )
    index_job(job)
    return job


INDEX_CHUNK = 20000  # leads per indexing transaction (and per SQL `IN` list: below SQLite's 32,766 variables)


def ahead(function, items, *, parallel: bool):
    """`function(item)` for each item, in order; with `parallel`, computed in a forked helper process one
    item ahead, so the caller's database work on one result overlaps the computation of the next.

    `items` is consumed in the caller's process (it may read the database); `function` must not touch
    the database and gets and returns plain picklable values."""
    if not parallel or "fork" not in multiprocessing.get_all_start_methods():
        for item in items:
            yield function(item)
        return
    with multiprocessing.get_context("fork").Pool(1) as helper:
        pending = None
        for item in items:
            submitted = helper.apply_async(function, (item,))
            if pending is not None:
                yield pending.get()
            pending = submitted
        if pending is not None:
            yield pending.get()


def _index_entries(chunk: tuple[list[int], list[tuple]]) -> tuple[list[int], list[tuple[int, str]], list[tuple]]:
    """Search documents and abbreviation keys of a chunk's leads, given as (pk, company, contact, phone, email)."""
    from dedupe.service import name_key_rows
    from search.indexer import lead_document

    ids, leads = chunk
    documents = [(pk, lead_document(company, contact, phone, email)) for pk, company, contact, phone, email in leads]
    return ids, documents, name_key_rows(ObjectType.LEAD, [(lead[0], lead[1]) for lead in leads])


def index_job(job: ImportJob) -> None:
    """Search tokens and abbreviation keys for the leads the job created (derived data, built after the
    rows are in, like a search engine's index). Idempotent: a chunk's entries are replaced, not added, so
    a restart simply runs it again; records deleted meanwhile are left out, edited ones indexed as they are now.

    Tokens (pinyin, initials, suffixes) are computed in a helper process for big jobs while this one
    writes the previous chunk."""
    from django.conf import settings

    from dedupe.service import write_name_keys
    from leads.models import Lead
    from search.indexer import replace_documents

    def chunks():
        # job_rows finishes its queries before returning: on SQLite a read left open during the writes
        # would keep an old snapshot, and the next write transaction would fail once anyone committed
        last = 0
        while True:
            created = job_rows(job, outcome=RowOutcome.CREATED, after=last, limit=INDEX_CHUNK)
            if not created:
                return
            last = created[-1].row_number
            ids = [row.record_id for row in created]
            low, high = min(ids), max(ids)
            alive = Lead.objects.filter(pk__range=(low, high), deleted_at__isnull=True)
            if high - low + 1 != len(ids):  # not one contiguous range: name them
                alive = alive.filter(pk__in=ids)
            yield ids, list(alive.values_list("pk", "company", "contact_name", "phone", "email"))

    threshold = settings.TIDE_IMPORT_PARALLEL_ROWS
    parallel = threshold > 0 and job.created_count >= threshold
    with cyclic_gc_paused():
        for ids, documents, keys in ahead(_index_entries, chunks(), parallel=parallel):
            with transaction.atomic():
                replace_documents(ObjectType.LEAD, ids, documents)
                write_name_keys(ObjectType.LEAD, keys, replace_ids=ids, prepared=True)
                ImportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now())
    ImportJob.objects.filter(pk=job.pk).update(indexed=True)
    job.indexed = True
