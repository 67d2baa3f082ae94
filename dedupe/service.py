"""Finding duplicates of a lead, an account or a contact, and deciding what a hit means.

Candidates come from index lookups only, never a scan:
- credit code, phone and e-mail: equality on their indexed columns;
- company name, three probes on the normalised core (see normalize.py):
  A. `match_name IN (core, abbreviations the name allows)`: the same core, or a stored short name
     whose characters appear in order in this one (广州汽车 → 广汽, 中国南方航空 → 南航);
  B. the blocking bucket: names whose core starts with the same two characters (the head), a range
     of the match_name index, scored by similarity (紫光国微 ↔ 紫光国芯微电子);
  C. NameKey `key = head` for short names: stored full names filed under their abbreviation keys
     (广汽 → 广州汽车集团, 工行 → 中国工商银行).
Each candidate is then scored 0–100; name rules keep those at or above their threshold.

Who may see what: `present()` shows a record the user can see in full and one he cannot as
"already exists, owned by 张三 (华东大区)" and nothing more.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from rapidfuzz import fuzz, process

from core.choices import Action, ObjectType
from core.conditions import to_q
from core.errors import DomainError

from .choices import (
    ACTION_SEVERITY,
    DEFAULT_RULES,
    RULE_PRIORITY,
    RULE_TARGET,
    SIMILARITY_RULES,
    Decision,
    RuleAction,
    RuleKind,
)
from .normalize import (
    NATIONAL,
    Name,
    bucket_prefix,
    is_cjk,
    normalize_credit_code,
    normalize_email,
    normalize_name,
    normalize_person,
    normalize_phone,
)

BUCKET_CAP = 1000  # entries of one blocking bucket read at most (the newest)
LIKELY_CAP = 300  # bucket entries read in full and scored at most (the best on their core)
KEY_CAP = 1000  # rows found through NameKey at most
EXACT_CAP = 300  # rows with an equal core (or an abbreviation of it) at most (the newest)
ABBREVIATION_QUERY_MAX = 6  # a core this short may be an abbreviation of a longer stored name
ABBREVIATION_LENGTHS = (2, 3, 4)  # stored short names looked up by exact value
ABBREVIATION_SOURCE = 7  # characters of a long name that abbreviations are drawn from
KEY_SPAN = 4  # NameKey: first character + each of the next characters up to this position
DEFAULT_LIMIT = 10

NAME_FIELDS = {ObjectType.ACCOUNT: "name", ObjectType.LEAD: "company", ObjectType.CONTACT: "name"}


def model_for(object_type: str):
    from accounts.models import Account
    from contacts.models import Contact
    from leads.models import Lead

    return {ObjectType.ACCOUNT: Account, ObjectType.LEAD: Lead, ObjectType.CONTACT: Contact}[object_type]


# --- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    object_type: str
    kind: str
    is_active: bool
    action: str
    threshold: int
    conditions: dict = field(default_factory=dict)

    @property
    def target(self) -> str:
        """The object type this rule compares with (a lead's account_name rule looks at accounts)."""
        return RULE_TARGET.get(self.kind, self.object_type)

    @property
    def enforced(self) -> bool:
        return self.is_active and self.action in (RuleAction.WARN, RuleAction.BLOCK)


def rules_for(object_type: str) -> list[Rule]:
    """The rules of one object: stored rows over the defaults, in the defaults' order."""
    from .models import DuplicateRule

    stored = {r.kind: r for r in DuplicateRule.objects.filter(object_type=object_type)}
    rules = []
    for kind, action, threshold in DEFAULT_RULES[object_type]:
        row = stored.get(kind)
        if row is None:
            rules.append(Rule(object_type, kind, True, action, threshold, {}))
        else:
            rules.append(Rule(object_type, kind, row.is_active, row.action, row.threshold, row.conditions or {}))
    return rules


def enforced_rules(object_type: str, *, blocking_only: bool = False) -> list[Rule]:
    """The rules of one object that stop a save: active and set to warn or block (`blocking_only`: block)."""
    return [
        rule
        for rule in rules_for(object_type)
        if rule.enforced and (rule.action == RuleAction.BLOCK or not blocking_only)
    ]


# The input fields each rule reads: on an update only rules whose inputs changed run again.
RULE_INPUTS = {
    RuleKind.CREDIT_CODE: ("credit_code",),
    RuleKind.PHONE: ("phone", "mobile"),
    RuleKind.EMAIL: ("email",),
    RuleKind.NAME: ("name", "company"),
    RuleKind.ACCOUNT_NAME: ("company",),
    RuleKind.CONTACT_NAME: ("name", "account_id"),
}


# --- what is checked ------------------------------------------------------------------------------


@dataclass
class Probe:
    """The values a new or changed record would have, normalised."""

    object_type: str
    name: str = ""
    phones: dict[str, str] = field(default_factory=dict)  # input field → E.164
    email: str = ""
    credit_code: str = ""
    account_id: int | None = None
    exclude_id: int | None = None

    @classmethod
    def build(
        cls, object_type, *, name="", phone="", mobile="", email="", credit_code="", account_id=None, exclude_id=None
    ):
        phones = {}
        for key, value in (("phone", phone), ("mobile", mobile)):
            value = normalize_phone(value)
            if value:
                phones[key] = value
        return cls(
            object_type=object_type,
            name=(name or "").strip(),
            phones=phones,
            email=normalize_email(email),
            credit_code=normalize_credit_code(credit_code),
            account_id=account_id,
            exclude_id=exclude_id,
        )

    @classmethod
    def of(cls, instance) -> Probe:
        object_type = instance.object_type
        return cls.build(
            object_type,
            name=getattr(instance, NAME_FIELDS[object_type], ""),
            phone=getattr(instance, "phone", ""),
            mobile=getattr(instance, "mobile", ""),
            email=getattr(instance, "email", ""),
            credit_code=getattr(instance, "credit_code", ""),
            account_id=getattr(instance, "account_id", None),
            exclude_id=instance.pk,
        )


@dataclass
class Hit:
    object_type: str
    pk: int
    rule: str
    score: int
    field: str  # the input field the hit is about (a form field)
    action: str
    rules: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        return (self.object_type, self.pk)


# --- name similarity --------------------------------------------------------------------------------


def _gaps(short: str, long: str) -> int | None:
    """Gaps when `short` is read in order out of `long`, starting with its first character; None if it cannot."""
    if not short or not long or short[0] != long[0]:
        return None
    gaps, position = 0, 0
    for char in short[1:]:
        found = long.find(char, position + 1)
        if found < 0:
            return None
        if found != position + 1:
            gaps += 1
        position = found
    return gaps


def abbreviation_score(short: Name, long: Name) -> int:
    """How well `short` reads as an abbreviation of `long`: a prefix (华为 ← 华为技术) scores highest, then
    characters in order (紫光国微 ← 紫光国芯微电子, 广汽 ← 广州汽车: the region gives 广); the longer the
    abbreviation and the fewer its gaps, the surer."""
    text = short.core
    if short.region and len(text) <= 2 and is_cjk(text):
        text = short.full  # 广州汽车 without its city is just 汽车: not an abbreviation of 汽车美容
    best = 0
    region_initial = long.region[:1] if long.full != long.core else ""
    targets = ((long.core, ""), (long.full, region_initial)) if region_initial else ((long.core, ""),)
    for target, initial in targets:
        if len(text) >= len(target):
            continue
        if target.startswith(text):
            best = max(best, 86 + round(12 * len(text) / len(target)))
            continue
        if not is_cjk(text):
            continue
        if initial:  # the region lends its first character only; the rest comes from the core
            inner = _gaps(text[1:], long.core) if text[0] == initial else None
            gaps = None if inner is None else inner + 1
        else:
            gaps = _gaps(text, target)
        if gaps is not None:
            best = max(best, 80 + 5 * min(len(text) - 1, 3) - 3 * (gaps - 1))
    return min(best, 99)


def _regions_compatible(a: Name, b: Name) -> bool:
    """Could both names be in the same place? A name without a place fits any; 中国 (national) fits
    another national name, or a local one only where the national name names that place too
    (中国移动通信集团广东 ~ 广东移动通信, but 中国石化 ≁ 德宏石化)."""
    a_national, b_national = a.region == NATIONAL, b.region == NATIONAL
    if (not a.region_codes and not a_national) or (not b.region_codes and not b_national):
        return True
    if a.region_codes and b.region_codes:
        return any(x.startswith(y) or y.startswith(x) for x in a.region_codes for y in b.region_codes)
    return a_national and b_national


def core_score(a: Name, b: Name) -> int:
    if not a.core or not b.core:
        return 0
    if a.core == b.core:
        return 100
    if is_cjk(a.core) or is_cjk(b.core):
        score = round(fuzz.ratio(a.core, b.core))
    else:
        score = round(fuzz.token_set_ratio(a.core, b.core))
    return max(score, abbreviation_score(a, b), abbreviation_score(b, a))


def name_score(a: Name, b: Name) -> int:
    """0–100. Same core → 100; different cities (北京银行 / 上海银行) or a branch against its parent score low."""
    score = core_score(a, b)
    if score and not _regions_compatible(a, b):
        full_a, full_b = (a.region or "") + a.core, (b.region or "") + b.core
        score = min(score, round(fuzz.ratio(full_a, full_b)))
    if score and a.branch != b.branch:
        score = min(score, 70)
    return score


def abbreviation_forms(name: Name) -> set[str]:
    """Short names this name could be abbreviated to, to look up stored abbreviations by exact value."""
    forms: set[str] = set()
    if not is_cjk(name.core):
        return forms
    for source in {name.core, name.full}:
        text = source[:ABBREVIATION_SOURCE]
        if len(text) < 3:
            continue
        rest = text[1:]
        for length in ABBREVIATION_LENGTHS:
            if length >= len(text):
                continue
            for combo in itertools.combinations(rest, length - 1):
                forms.add(text[0] + "".join(combo))
    forms.discard(name.core)
    return forms


def name_keys(name: Name) -> set[str]:
    """NameKey rows of a stored name: first character + a later one, and region initial + first character."""
    core = name.core
    if not is_cjk(core):
        return set()
    keys = {core[0] + core[j] for j in range(2, min(len(core), KEY_SPAN + 1))}
    if name.region:
        keys.add(name.region[0] + core[0])
    keys.discard(name.head)
    return {k for k in keys if is_cjk(k[-1])}


# --- lookups ------------------------------------------------------------------------------------------


def _live(model, rule: Rule | None = None):
    qs = model.objects.all()
    if rule is not None and rule.conditions and rule.conditions != {"all": []}:
        qs = qs.filter(to_q(rule.conditions, rule.target))
    return qs


def name_hits(model, query: Name, rule: Rule, *, exclude_id=None) -> list[tuple[int, int]]:
    """(pk, score) of the records of `model` whose name scores at least the rule's threshold."""
    from .models import NameKey

    core = query.core
    if not core:
        return []
    field_name = NAME_FIELDS[model.object_type]
    base = _live(model, rule)
    if exclude_id:
        base = base.exclude(pk=exclude_id)
    exact = {core} | abbreviation_forms(query)
    found = Q(match_name__in=sorted(exact)) & ~Q(match_name="")
    if is_cjk(core) and len(core) <= ABBREVIATION_QUERY_MAX:  # stored full names filed under this abbreviation
        keyed = NameKey.objects.filter(key=query.head, object_type=model.object_type).values("object_id")[:KEY_CAP]
        found |= Q(pk__in=keyed)
    # found by value or by key: always scored on the full name
    sure = dict(base.filter(found).order_by("-pk").values_list("pk", field_name)[: EXACT_CAP + KEY_CAP])
    # the blocking bucket, scored on the stored core once per distinct core; the likeliest are read in full
    bucket: dict[str, list[int]] = {}
    for pk, match_name in _bucket(model, bucket_prefix(query.core)):
        if pk not in sure:
            bucket.setdefault(match_name, []).append(pk)
    threshold = rule.threshold
    likely: list[tuple[float, int]] = []
    for match_name, rough in likely_cores(core, bucket, threshold).items():
        likely.extend((rough, pk) for pk in bucket[match_name])
    likely.sort(reverse=True)
    if likely:
        ids = [pk for _rough, pk in likely[:LIKELY_CAP]]
        sure.update(base.filter(pk__in=ids).values_list("pk", field_name))
    scored = []
    by_text: dict[str, int] = {}
    for pk, text in sure.items():
        score = by_text.get(text)
        if score is None:
            score = by_text[text] = name_score(query, normalize_name(text or ""))
        if score >= threshold:
            scored.append((pk, score))
    return scored


def likely_cores(core: str, cores, threshold: int) -> dict[str, float]:
    """The cores of a blocking bucket worth scoring in full against `core`, with a rough score: close by
    edit ratio, one the start of the other, or short enough to be an abbreviation of the other."""
    cores = list(cores)
    if not cores:
        return {}
    cutoff = threshold - 15
    close = {
        c: score for c, score, _i in process.extract(core, cores, scorer=fuzz.ratio, limit=None, score_cutoff=cutoff)
    }
    plain = Name(core=core)
    likely = {}
    for match_name in cores:
        rough = close.get(match_name, 0.0)
        if not rough and (match_name.startswith(core) or core.startswith(match_name)):
            rough = 90.0
        elif not rough and min(len(core), len(match_name)) <= ABBREVIATION_QUERY_MAX:
            rough = float(core_score(plain, Name(core=match_name)))
        if rough >= cutoff:
            likely[match_name] = rough
    return likely


class NameIndex:
    """Names not in the database yet (the rows of an import chunk before it is written), looked up as
    `name_hits` looks up stored ones: the core and the abbreviations it allows, the abbreviation keys for
    a short name, the likely part of the blocking bucket; scored with the same `name_score`."""

    def __init__(self):
        self._items: dict[Name, list] = {}  # each distinct name → what was added under it, in order
        self._cores: dict[str, list[Name]] = {}
        self._keys: dict[str, list[Name]] = {}
        self._buckets: dict[str, dict[str, list[Name]]] = {}  # bucket prefix → core → names

    def add(self, name: Name, item) -> None:
        if not name.core:
            return
        items = self._items.get(name)
        if items is not None:
            items.append(item)
            return
        self._items[name] = [item]
        self._cores.setdefault(name.core, []).append(name)
        for key in name_keys(name):
            keyed = self._keys.setdefault(key, [])
            if len(keyed) < KEY_CAP:
                keyed.append(name)
        bucket = self._buckets.setdefault(bucket_prefix(name.core), {})
        if name.core in bucket or len(bucket) < BUCKET_CAP:
            bucket.setdefault(name.core, []).append(name)

    def matches(self, query: Name, threshold: int) -> list[tuple[object, int]]:
        """(item, score) of every added name scoring at least `threshold` against `query`."""
        core = query.core
        if not core:
            return []
        candidates: dict[Name, None] = {}
        for form in {core} | abbreviation_forms(query):
            candidates.update(dict.fromkeys(self._cores.get(form, ())))
        if is_cjk(core) and len(core) <= ABBREVIATION_QUERY_MAX:
            candidates.update(dict.fromkeys(self._keys.get(query.head, ())))
        bucket = self._buckets.get(bucket_prefix(core), {})
        likely = sorted(likely_cores(core, bucket, threshold).items(), key=lambda pair: -pair[1])
        for match_name, _rough in likely[:LIKELY_CAP]:
            candidates.update(dict.fromkeys(bucket[match_name]))
        found = []
        for name in candidates:
            score = name_score(query, name)
            if score >= threshold:
                found.extend((item, score) for item in self._items[name])
        return found


def _bucket(model, prefix: str) -> list[tuple[int, str]]:
    """(pk, match_name) of the newest records in a blocking bucket, deleted ones included (the caller
    reads the likely ones again through the live manager). On SQLite the bucket is read from the
    match_name index alone, as the range of names starting with the prefix (binary collation: code-point
    order); on PostgreSQL as LIKE 'prefix%' on the same index (built with pattern operators)."""
    if connection.vendor == "sqlite":
        qs = model.all_objects.filter(match_name__gte=prefix, match_name__lt=prefix + "\U0010ffff")
    else:
        qs = model.all_objects.filter(match_name__startswith=prefix)
    qs = qs.exclude(match_name="")  # the index is partial: say so, or the planner will not use it
    return list(qs.order_by("-pk").values_list("pk", "match_name")[:BUCKET_CAP])


def _phone_hits(model, probe: Probe, rule: Rule, exclude_id=None) -> list[Hit]:
    if not probe.phones:
        return []
    values = sorted(set(probe.phones.values()))
    columns = [c for c in ("phone", "mobile") if any(f.name == c for f in model._meta.concrete_fields)]
    match = Q(pk__in=[])
    for column in columns:  # one query; each column through its own index
        match |= Q(**{f"{column}__in": values}) & ~Q(**{column: ""})
    qs = _live(model, rule).filter(match)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    hits = []
    for row in qs.values_list("pk", *columns)[:EXACT_CAP]:
        pk, numbers = row[0], row[1:]
        for column, value in zip(columns, numbers, strict=True):
            if value in values:
                input_field = next((k for k, v in probe.phones.items() if v == value), column)
                hits.append(Hit(model.object_type, pk, rule.kind, 100, input_field, rule.action))
                break
    return hits


def _equal_hits(model, column: str, value: str, rule: Rule, input_field: str, exclude_id=None) -> list[Hit]:
    if not value:
        return []
    qs = _live(model, rule).filter(**{column: value}).exclude(**{column: ""})
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return [
        Hit(model.object_type, pk, rule.kind, 100, input_field, rule.action)
        for pk in qs.values_list("pk", flat=True)[:EXACT_CAP]
    ]


def _contact_name_hits(probe: Probe, rule: Rule) -> list[Hit]:
    from contacts.models import Contact

    person = normalize_person(probe.name)
    if not person or not probe.account_id:
        return []
    qs = _live(Contact, rule).filter(account_id=probe.account_id)
    if probe.exclude_id:
        qs = qs.exclude(pk=probe.exclude_id)
    return [
        Hit(ObjectType.CONTACT, pk, rule.kind, 100, "name", rule.action)
        for pk, name in qs.values_list("pk", "name")[:EXACT_CAP]
        if normalize_person(name) == person
    ]


def rule_hits(probe: Probe, rule: Rule) -> list[Hit]:
    """The hits of one rule; `exclude_id` (the record itself, on an update) never counts."""
    from accounts.models import Account
    from contacts.models import Contact

    t, kind = probe.object_type, rule.kind
    own = model_for(t)
    exclude = probe.exclude_id
    if kind == RuleKind.CREDIT_CODE:
        return _equal_hits(Account, "credit_code", probe.credit_code, rule, "credit_code", exclude)
    if kind == RuleKind.PHONE:
        hits = _phone_hits(own, probe, rule, exclude)
        if t == ObjectType.LEAD:  # the person or the company may already be a customer
            unconditioned = Rule(t, kind, rule.is_active, rule.action, rule.threshold, {})
            hits += _phone_hits(Contact, probe, unconditioned) + _phone_hits(Account, probe, unconditioned)
        return hits
    if kind == RuleKind.EMAIL:
        hits = _equal_hits(own, "email", probe.email, rule, "email", exclude)
        if t == ObjectType.LEAD:
            unconditioned = Rule(t, kind, rule.is_active, rule.action, rule.threshold, {})
            hits += _equal_hits(Contact, "email", probe.email, unconditioned, "email")
        return hits
    if kind == RuleKind.CONTACT_NAME:
        return _contact_name_hits(probe, rule)
    if kind in SIMILARITY_RULES:
        target = Account if kind == RuleKind.ACCOUNT_NAME else own
        if target is Contact:
            return []
        query = normalize_name(probe.name)
        field_name = "company" if t == ObjectType.LEAD else "name"
        found = name_hits(target, query, rule, exclude_id=exclude if target is own else None)
        return [Hit(target.object_type, pk, kind, score, field_name, rule.action) for pk, score in found]
    return []


def find_duplicates(probe: Probe, rules: list[Rule], *, limit: int = DEFAULT_LIMIT) -> list[Hit]:
    """Ranked hits of the active rules: best score first, harder evidence first on ties, one entry per record."""
    best: dict[tuple[str, int], Hit] = {}
    for rule in rules:
        if not rule.is_active:
            continue
        for hit in rule_hits(probe, rule):
            known = best.get(hit.key)
            if known is None:
                hit.rules = [hit.rule]
                best[hit.key] = hit
                continue
            if hit.rule not in known.rules:
                known.rules.append(hit.rule)
            if ACTION_SEVERITY[hit.action] > ACTION_SEVERITY[known.action]:
                known.action = hit.action
            if (hit.score, -RULE_PRIORITY[hit.rule]) > (known.score, -RULE_PRIORITY[known.rule]):
                known.score, known.rule, known.field = hit.score, hit.rule, hit.field
    ranked = sorted(best.values(), key=lambda h: (-h.score, RULE_PRIORITY[h.rule], -h.pk))
    return ranked[:limit] if limit else ranked


def decision_of(hits: list[Hit]) -> str:
    if not hits:
        return Decision.NONE
    worst = max(ACTION_SEVERITY[h.action] for h in hits)
    return {1: Decision.ALLOW, 2: Decision.WARN, 3: Decision.BLOCK}[worst]


# --- presenting hits to one user -------------------------------------------------------------------


def _owner_parts(record) -> tuple[str, str]:
    owner = getattr(record, "owner", None)
    if owner is None:
        return "", ""
    department = owner.department.name if owner.department_id else ""
    return str(owner), department


def describe_hidden(record) -> str:
    """All a user learns about a duplicate he may not see."""
    owner, department = _owner_parts(record)
    if owner:
        if department:
            return _("Already exists, owned by %(owner)s (%(department)s).") % {
                "owner": owner,
                "department": department,
            }
        return _("Already exists, owned by %(owner)s.") % {"owner": owner}
    pool = getattr(record, "pool", None) if getattr(record, "pool_id", None) else None
    if pool is not None:
        return _("Already exists, in the public pool “%(pool)s”.") % {"pool": pool}
    return _("Already exists.")


# What presenting a hit reads of each record (its name, owner and pool): nothing else is loaded.
PRESENT_COLUMNS = {
    ObjectType.LEAD: ("company", "contact_name", "owner", "pool", "pool__name"),
    ObjectType.ACCOUNT: ("name", "owner", "pool", "pool__name"),
    ObjectType.CONTACT: ("name", "owner", "account", "account__name"),
}


def present(hits: list[Hit], user) -> list[dict]:
    """Hits as the user may see them: full for visible records, owner and department only for the rest."""
    if not hits:
        return []
    by_type: dict[str, list[int]] = {}
    for hit in hits:
        by_type.setdefault(hit.object_type, []).append(hit.pk)
    records, visible = {}, set()
    for object_type, ids in by_type.items():
        model = model_for(object_type)
        related = ["owner__department"] + (["pool"] if object_type != ObjectType.CONTACT else ["account"])
        columns = PRESENT_COLUMNS[object_type] + ("owner__name", "owner__username", "owner__department__name")
        for record in model.all_objects.filter(pk__in=ids).select_related(*related).only(*columns):
            records[(object_type, record.pk)] = record
        visible |= {
            (object_type, pk)
            for pk in model.objects.visible_to(user, Action.VIEW).filter(pk__in=ids).values_list("pk", flat=True)
        }
    out = []
    for hit in hits:
        record = records.get(hit.key)
        if record is None:
            continue
        owner, department = _owner_parts(record)
        item = {
            "object": hit.object_type,
            "object_label": str(ObjectType(hit.object_type).label),
            "rule": hit.rule,
            "rule_label": str(RuleKind(hit.rule).label),
            "rules": list(hit.rules or [hit.rule]),
            "action": hit.action,
            "field": hit.field,
            "owner_name": owner,
            "owner_department": department,
        }
        if hit.key in visible:
            name = str(record)
            if hit.object_type == ObjectType.CONTACT and record.account_id:
                name = f"{record.name} · {record.account}"
            item.update(
                visible=True,
                id=record.pk,
                name=name,
                score=hit.score,
                url=record.get_absolute_url(),
                message=_("%(object)s “%(name)s”, owned by %(owner)s")
                % {"object": item["object_label"], "name": name, "owner": owner or "—"}
                + (f" ({department})" if department else ""),
            )
        else:
            item.update(visible=False, id=None, name=None, score=None, url=None, message=describe_hidden(record))
        out.append(item)
    return out


# --- enforcing rules on create and update -----------------------------------------------------------


class DuplicateError(DomainError, ValidationError):
    """A duplicate found when saving, both a DomainError (stable code, 409, the candidates for the API)
    and a ValidationError (messages on the form fields for pages)."""

    def __init__(
        self, code: str, message: str, errors: dict[str, list[str]], candidates: list[dict], hits: list[Hit] = ()
    ):
        ValidationError.__init__(self, {f: [ValidationError(m, code=code) for m in msgs] for f, msgs in errors.items()})
        self.message = message
        self.code = code
        self.status = 409
        self.fields = errors
        self.candidates = candidates
        self.hits = list(hits)  # what was found, unfiltered by the saving user's visibility: for callers' logic

    def __str__(self):
        return str(self.message)


def compared_fields(model, rules=None) -> list[str]:
    """The columns of `model` that `rules` (every rule kind by default) compare."""
    kinds = RULE_INPUTS if rules is None else [r.kind for r in rules]
    concrete = {f.attname for f in model._meta.concrete_fields}
    return sorted({name for kind in kinds for name in RULE_INPUTS[kind]} & concrete)


def _changed_inputs(instance) -> set[str]:
    model = type(instance)
    names = compared_fields(model)
    stored = model.all_objects.filter(pk=instance.pk).values(*names).first() or {}
    return {n for n in names if stored.get(n) != getattr(instance, n)}


LEAD_CREATION_LOCK = 0x7469_6465_696D  # "tideim": the advisory lock lead writers share on PostgreSQL


def lock_lead_creation() -> None:
    """Serialise the duplicate checks of lead writers on PostgreSQL, as SQLite's single writer does: a
    phone or email one of them checked is not created by another before the first commits (an import
    holds it for each of its transactions, a single lead for its own). Held until the commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEAD_CREATION_LOCK])


def hold_lead_creation_lock() -> None:
    """The lock, for a writer that already holds a lead's row lock: taken only if free (or already ours,
    from `lock_before_edit`), since waiting could deadlock with an import merging into that lead."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LEAD_CREATION_LOCK])
        held = cursor.fetchone()[0]
    if not held:
        raise DomainError(
            _("Another import or save is checking duplicates at this moment. Save again in a few seconds."),
            code="duplicate_check_busy",
            status=409,
        )


def lock_before_edit(model, *, pk, user, data: dict | None, options: dict) -> None:
    """PostgreSQL: a lead edit that changes what the duplicate rules read, or a restore (its values come
    back all at once), takes the lead-creation lock before the lead's row lock, in the order import
    writers take them. So it waits for a writer that may be creating the same phone, then checks. A save
    that skips the check (a merge, which takes the lock itself before its row locks) leaves it alone."""
    if connection.vendor != "postgresql" or options.get("skip_duplicate_check"):
        return
    inputs = compared_fields(model, enforced_rules(model.object_type))
    if data is None:
        if inputs and model.all_objects.visible_to(user, Action.DELETE).filter(pk=pk).exists():
            lock_lead_creation()
        return
    touched = [name for name in inputs if name in data]
    if not touched:
        return
    # Read through the user's visibility: one who may not edit the lead is refused without first waiting
    # for an import's transaction.
    stored = model.objects.visible_to(user, Action.EDIT).filter(pk=pk).values(*touched).first()
    if stored is not None and any(stored.get(name) != data[name] for name in touched):  # unnormalised = changed
        lock_lead_creation()


def check_on_save(instance, *, user, options: dict, created: bool) -> None:
    """The save check core/actions.py runs: block → field error (code "duplicate"); warn → error with
    code "possible_duplicate" unless the caller confirmed (options["confirm_duplicates"])."""
    if options.get("restoring"):
        from .models import MergeRecord

        merge = MergeRecord.objects.filter(object_type=instance.object_type, loser_id=instance.pk).first()
        if merge is not None:  # its links now belong to the survivor; bringing it back would leave it hollow
            raise DomainError(
                _("This record was merged into “%(survivor)s” and cannot be restored.")
                % {"survivor": merge.survivor_repr},
                code="merged_record",
                status=409,
            )
    if options.get("skip_duplicate_check"):
        return
    # A restored record comes back into the live set with all its values, like a new one; restoring it is
    # the confirmation a warning would ask for, so only a blocking rule stops it.
    restoring = bool(options.get("restoring"))
    rules = enforced_rules(instance.object_type)
    if not (created or restoring) and rules:
        changed = _changed_inputs(instance)
        rules = [r for r in rules if changed & set(RULE_INPUTS[r.kind])]
    if not rules:
        return
    if instance.object_type == ObjectType.LEAD:
        # An edit or a restore already holds its lead's row lock (lock_before_edit took this one before it).
        if created:
            lock_lead_creation()
        else:
            hold_lead_creation_lock()
    hits = find_duplicates(Probe.of(instance), rules)
    blocking = [h for h in hits if h.action == RuleAction.BLOCK]
    if blocking:
        raise _error(instance, blocking, "duplicate", user)
    if hits and not (options.get("confirm_duplicates") or restoring):
        raise _error(instance, hits, "possible_duplicate", user)


def _error(instance, hits: list[Hit], code: str, user):
    candidates = present(hits, user)
    label = instance._meta.verbose_name
    by_field: dict[str, list[dict]] = {}
    for item in candidates:
        by_field.setdefault(item["field"], []).append(item)
    errors: dict[str, list[str]] = {}
    for field_name, items in by_field.items():  # one message per field: the best candidate, and how many more
        values = {"rule": items[0]["rule_label"], "candidate": items[0]["message"]}
        if code == "duplicate":
            message = _("Duplicate (%(rule)s): %(candidate)s") % values
        else:
            message = _("Possible duplicate (%(rule)s): %(candidate)s") % values
        if len(items) > 1:
            message += " " + _("(and %(count)d more)") % {"count": len(items) - 1}
        errors[field_name] = [message]
    if code == "duplicate":
        message = _("This %(object)s already exists.") % {"object": label}
    else:
        message = _(
            "This %(object)s may already exist. Check the possible duplicates, then confirm to save it anyway."
        ) % {"object": label}
    return DuplicateError(code, message, errors, candidates, hits)


# --- derived keys ---------------------------------------------------------------------------------------


def refresh_name_keys(object_type: str, pk: int, name: Name) -> None:
    from .models import NameKey

    NameKey.objects.filter(object_type=object_type, object_id=pk).delete()
    NameKey.objects.bulk_create(
        [NameKey(object_type=object_type, object_id=pk, key=k) for k in sorted(name_keys(name))]
    )


def write_name_keys(object_type: str, rows: list[tuple], *, replace_ids=(), prepared: bool = False) -> int:
    """NameKey rows for (pk, name) pairs in bulk; the keys of `replace_ids` are dropped first, so a
    repeated run leaves one set. `prepared`: `rows` are name_key_rows() already. Returns how many keys were written."""
    from core.bulk import insert_rows

    from .models import NameKey

    ids = list(replace_ids)
    for start in range(0, len(ids), 5000):
        NameKey.objects.filter(object_type=object_type, object_id__in=ids[start : start + 5000]).delete()
    keys = rows if prepared else name_key_rows(object_type, rows)
    insert_rows(NameKey, ("object_type", "object_id", "key"), keys, ready=True)
    return len(keys)


def name_key_rows(object_type: str, rows: list[tuple[int, str]]) -> list[tuple[str, int, str]]:
    """The NameKey rows of (pk, name) pairs: pure computation, so an import can do it in a helper process.
    Pass the result as `rows` with `prepared=True` to write_name_keys."""
    memo: dict[str, set[str]] = {}
    keys = []
    kind = str(object_type)
    for pk, text in rows:
        found = memo.get(text)
        if found is None:
            found = memo[text] = name_keys(normalize_name.__wrapped__(text or ""))
        keys.extend((kind, pk, key) for key in sorted(found))
    return keys


def backfill_keys(
    *,
    object_types=(ObjectType.ACCOUNT, ObjectType.LEAD),
    batch: int = 5000,
    missing_only: bool = False,
    out=None,
    apps=None,
) -> dict:
    """Fill match_name and the NameKey rows of leads and accounts in bulk (rows created
    without signals: demo data, imports). Safe to run again; `missing_only` skips rows that have keys.
    `apps`: a migration's app registry. Returns the counts per object type."""
    if apps is not None:
        NameKey = apps.get_model("dedupe", "NameKey")  # noqa: N806
        models = {
            ObjectType.ACCOUNT: apps.get_model("accounts", "Account"),
            ObjectType.LEAD: apps.get_model("leads", "Lead"),
        }
    else:
        from .models import NameKey

        models = {t: model_for(t) for t in (ObjectType.ACCOUNT, ObjectType.LEAD)}
    counts = {}
    quote = connection.ops.quote_name
    key_table = quote(NameKey._meta.db_table)
    insert = (
        f"INSERT INTO {key_table} ({quote('object_type')}, {quote('object_id')}, {quote('key')}) "  # noqa: S608
        "VALUES (%s, %s, %s)"
    )
    for object_type in object_types:
        model = models[object_type]
        field_name = NAME_FIELDS[object_type]
        table = quote(model._meta.db_table)
        update = f"UPDATE {table} SET match_name = %s WHERE id = %s"  # noqa: S608 (quoted names)
        rows_qs = model._base_manager.order_by("pk")
        if missing_only:
            rows_qs = rows_qs.filter(match_name="").exclude(**{field_name: ""})
        memo: dict[str, Name] = {}  # companies repeat: normalise each distinct name once
        last, updated, keyed = 0, 0, 0
        while True:
            rows = list(rows_qs.filter(pk__gt=last).values_list("pk", field_name, "match_name")[:batch])
            if not rows:
                break
            changes, keys = [], []
            for pk, text, match_name in rows:
                text = text or ""
                name = memo.get(text)
                if name is None:
                    name = memo[text] = normalize_name.__wrapped__(text)
                    if len(memo) > 200_000:
                        memo.clear()
                if name.core != match_name:
                    changes.append((name.core, pk))
                keys.extend((object_type, pk, k) for k in sorted(name_keys(name)))
            with transaction.atomic(), connection.cursor() as cursor:
                if changes:
                    cursor.executemany(update, changes)
                NameKey.objects.filter(
                    object_type=object_type, object_id__gte=rows[0][0], object_id__lte=rows[-1][0]
                ).delete()
                if keys:
                    cursor.executemany(insert, keys)
            updated += len(changes)
            keyed += len(keys)
            last = rows[-1][0]
            if out is not None:
                out.write(f"  {object_type}: up to id {last:,} — {updated:,} keys updated, {keyed:,} name keys\n")
        counts[object_type] = {"updated": updated, "name_keys": keyed}
    return counts
