"""State changes of the duplicate check: the rules an administrator configures, and merging two
records. Pages, the API and jobs call these and nothing else; each runs in one transaction and writes
its history entries."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from core import actions as core_actions
from core import conditions as cond
from core import history
from core.choices import Action, HistoryAction, ObjectType, ShareAccess
from core.errors import DomainError, NotFoundError, PermissionDeniedError
from core.ids import parse_id
from core.models import ChangeLog, RecordShare, TideModel
from core.notify import notify
from core.permissions import can
from org.permissions import is_admin, require_admin

from .choices import DEDUPE_OBJECTS, DEFAULT_RULES, RULE_TARGET, MergePick, RuleAction
from .models import DuplicateRule, MergeRecord
from .service import Rule, compared_fields, lock_lead_creation, model_for, rules_for

RULE_HISTORY_TYPE = DuplicateRule.history_type


# Notes, labels and notifications kept as written and shown in the reader's language (core.history).
MERGED_FROM_NOTE = history.message(gettext_noop("Merged “%(loser)s” (#%(id)s) into this record."))
MERGED_INTO_NOTE = history.message(gettext_noop("Merged into “%(survivor)s” (#%(id)s)."))
MERGED_TITLE = history.message(gettext_noop("“%(loser)s” was merged into “%(survivor)s”"))
MERGED_BODY = history.message(
    gettext_noop("%(user)s merged the duplicate; its follow-ups and history now belong to the surviving record.")
)


class _HistorySubject:
    """What history.write needs of a settings row that is not a business record."""

    def __init__(self, object_type: str, pk: int, text: str):
        self.object_type, self.pk, self._text = object_type, pk, text

    def __str__(self):
        return self._text


# --- rules ------------------------------------------------------------------------------------------------


def _clean_rule(object_type: str, kind: str, item: dict, index: int) -> dict:
    prefix = f"rules[{index}]"
    errors: dict[str, list[str]] = {}
    action = item.get("action", RuleAction.WARN)
    if action not in RuleAction.values:
        errors[f"{prefix}.action"] = [_("Select a valid choice. That choice is not one of the available choices.")]
    threshold = item.get("threshold", 85)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 50 <= threshold <= 100:
        errors[f"{prefix}.threshold"] = [_("Enter a whole number from 50 to 100.")]
    is_active = item.get("is_active", True)
    if not isinstance(is_active, bool):
        errors[f"{prefix}.is_active"] = [_("Enter true or false.")]
    conditions = item.get("conditions") or {}
    if conditions:
        target = RULE_TARGET.get(kind, object_type)
        if target == ObjectType.CONTACT:
            errors[f"{prefix}.conditions"] = [_("Contact rules cannot be narrowed by conditions.")]
        else:
            try:
                conditions = cond.validate(conditions, target)
            except ValidationError as error:
                errors[f"{prefix}.conditions"] = [str(m) for m in error.messages]
    if errors:
        raise ValidationError(errors)
    if conditions == {"all": []}:
        conditions = {}
    return {"is_active": is_active, "action": action, "threshold": threshold, "conditions": conditions}


@transaction.atomic
def save_rules(*, user, object_type: str, rules: list[dict]) -> list[Rule]:
    """Replace the settings of the given rules of one object (rules not mentioned keep theirs).

    Each item: {"kind", "is_active", "action", "threshold", "conditions"}."""
    require_admin(user)
    if object_type not in DEDUPE_OBJECTS:
        raise ValidationError(
            {"object": [_("Select a valid choice. That choice is not one of the available choices.")]}
        )
    allowed = {kind for kind, _action, _threshold in DEFAULT_RULES[object_type]}
    cleaned: dict[str, dict] = {}
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(rules):
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in allowed:
            errors[f"rules[{index}].kind"] = [_("This rule does not exist for this object.")]
            continue
        if kind in cleaned:
            errors[f"rules[{index}].kind"] = [_("This rule is listed twice.")]
            continue
        try:
            cleaned[kind] = _clean_rule(object_type, kind, item, index)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    before = {r.kind: r for r in rules_for(object_type)}
    now = timezone.now()
    for kind, values in cleaned.items():
        row, _created = DuplicateRule.objects.update_or_create(
            object_type=object_type, kind=kind, defaults={**values, "updated_at": now, "updated_by": user}
        )
        old = before[kind]
        changes = [
            {"field": name, "label": str(label), "old": str(getattr(old, name)), "new": str(values[name])}
            for name, label in (
                ("is_active", gettext_lazy("active")),
                ("action", gettext_lazy("on a hit")),
                ("threshold", gettext_lazy("similarity threshold")),
                ("conditions", gettext_lazy("compare only with records where")),
            )
            if getattr(old, name) != values[name]
        ]
        if changes:
            history.write(
                instance=_HistorySubject(RULE_HISTORY_TYPE, row.pk, str(row)),
                action=HistoryAction.UPDATE,
                actor=user,
                changes=changes,
            )
    return rules_for(object_type)


# --- merging -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeField:
    key: str
    label: str
    columns: tuple[str, ...]  # the model fields that travel together (a region is three codes)
    compared: tuple[str, ...] = ()  # the columns that tell whether the records differ (all by default)


def _label(model, name: str) -> str:
    return str(model._meta.get_field(name).verbose_name)


def merge_fields(object_type: str) -> list[MergeField]:
    """The fields a user chooses between when merging, in display order."""
    model = model_for(object_type)
    owner = tuple(c for c in ("owner", "pool", "pool_entered_at", "owner_since") if _has(model, c))
    region = ("province_code", "city_code", "district_code")
    if object_type == ObjectType.ACCOUNT:
        plain = ["name", "short_name", "credit_code", "industry", "grade", "account_type", "parent"]
        tail = ["address", "phone", "website", "status", "notes"]
        fields = [MergeField(n, _label(model, n), (n,)) for n in plain]
        fields.append(MergeField("region", _("Region"), region))
        fields += [MergeField(n, _label(model, n), (n,)) for n in tail]
    elif object_type == ObjectType.LEAD:
        plain = ["company", "contact_name", "title", "phone", "email", "industry"]
        fields = [MergeField(n, _label(model, n), (n,)) for n in plain]
        fields.append(MergeField("region", _("Region"), region))
        fields += [MergeField(n, _label(model, n), (n,)) for n in ("address", "source", "campaign")]
        fields.append(MergeField("status", _label(model, "status"), ("status", "invalid_reason", "invalid_note")))
        fields.append(MergeField("notes", _label(model, "notes"), ("notes",)))
    else:
        plain = ["account", "name", "title", "department", "mobile", "phone", "email", "wechat", "buying_role"]
        fields = [MergeField(n, _label(model, n), (n,)) for n in plain + ["attitude", "notes"]]
    compared = tuple(c for c in ("owner", "pool") if c in owner)
    fields.insert(len(fields) - 1, MergeField("owner", _label(model, "owner"), owner, compared))
    return fields


def _has(model, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:  # noqa: BLE001 (FieldDoesNotExist)
        return False
    return True


def _values(record, merge_field: MergeField) -> tuple:
    columns = merge_field.compared or merge_field.columns
    return tuple(getattr(record, record._meta.get_field(c).attname) for c in columns)


def _display(record, merge_field: MergeField) -> str:
    if merge_field.key == "region":
        return getattr(record, "region_label", "") or ""
    parts = [history.display_value(record, c) for c in merge_field.columns[:1]]
    if merge_field.key == "owner" and not record.owner_id and getattr(record, "pool_id", None):
        parts = [_("Public pool: %(pool)s") % {"pool": record.pool}]
    if merge_field.key == "status" and getattr(record, "invalid_reason", ""):
        parts.append(history.display_value(record, "invalid_reason"))
    return " · ".join(p for p in parts if p)


def _fixed_pick(object_type: str, survivor, loser, merge_field: MergeField) -> str | None:
    """Whose value the survivor ends with whatever the user picks, or None when it is his choice."""
    if merge_field.key == "parent":
        if loser.parent_id == survivor.pk:
            return MergePick.SURVIVOR  # the loser hangs under the survivor: its parent, the survivor, stays put
        if loser.parent_id != survivor.parent_id and loser.pk in _ancestors(type(survivor), survivor):
            return MergePick.LOSER  # the survivor hangs under the loser: it takes the loser's place in the tree
    if merge_field.key == "status" and object_type == ObjectType.LEAD:
        # a conversion is a fact, not a choice: a lead converted on either side stays converted
        if survivor.converted_at is not None:
            return MergePick.SURVIVOR
        if loser.converted_at is not None:
            return MergePick.LOSER
    return None


def _choosable(object_type: str, survivor, loser, merge_field: MergeField) -> bool:
    """Do the values differ in a way the user can choose?"""
    if _values(survivor, merge_field) == _values(loser, merge_field):
        return False
    return _fixed_pick(object_type, survivor, loser, merge_field) is None


def merge_preview(*, object_type: str, survivor, loser) -> list[dict]:
    """Every choosable field with both values; `differs` marks the ones a user has to decide, `result`
    is the value the survivor ends with where there is nothing to decide."""
    rows = []
    for f in merge_fields(object_type):
        fixed = _fixed_pick(object_type, survivor, loser, f)
        differs = fixed is None and _values(survivor, f) != _values(loser, f)
        rows.append(
            {
                "key": f.key,
                "label": f.label,
                "survivor": _display(survivor, f),
                "loser": _display(loser, f),
                "differs": differs,
                "result": _display(loser if fixed == MergePick.LOSER else survivor, f),
            }
        )
    return rows


def merge_refusal(*, object_type: str, survivor, loser) -> DomainError | None:
    """Why these two records cannot be merged whatever the user picks, or None.

    Contacts of different accounts: the loser's opportunities and follow-ups would get a key contact who
    does not work for their account, and so would the survivor's own if it took the loser's account."""
    if object_type == ObjectType.CONTACT and survivor.account_id != loser.account_id:
        message = _(
            "Only contacts of the same account can be merged: “%(survivor)s” works for “%(survivor_account)s”, "
            "“%(loser)s” for “%(loser_account)s”."
        ) % {
            "survivor": survivor,
            "survivor_account": survivor.account,
            "loser": loser,
            "loser_account": loser.account,
        }
        return DomainError(message, code="merge_accounts_differ", status=409, fields={"picks.account": [message]})
    return None


def _get_pair(model, user, survivor_id, loser_id):
    if survivor_id == loser_id:
        raise ValidationError({"loser_id": [_("Choose two different records.")]})
    if parse_id(survivor_id) is None or parse_id(loser_id) is None:
        raise NotFoundError()
    # Both rows locked in one query, in id order: two merges of one pair in opposite directions queue up
    # instead of each holding one row and waiting for the other (a deadlock on PostgreSQL).
    try:
        qs = model.objects.visible_to(user, Action.VIEW).filter(pk__in=[survivor_id, loser_id])
        rows = {row.pk: row for row in qs.order_by("pk").select_for_update(of=("self",))}
        survivor, loser = rows[int(survivor_id)], rows[int(loser_id)]
    except (KeyError, ValueError, TypeError):  # absent and forbidden look the same (core.actions.get_for)
        raise NotFoundError() from None
    if not model.objects.visible_to(user, Action.EDIT).filter(pk=survivor.pk).exists():
        raise PermissionDeniedError(_("You may not edit the record that should survive."))
    if not model.objects.visible_to(user, Action.DELETE).filter(pk=loser.pk).exists():
        raise PermissionDeniedError(_("You may not delete the record that should be merged away."))
    return survivor, loser


def load_pair(*, object_type: str, user, survivor_id, loser_id):
    """The two records of a merge the user may carry out (edit on the survivor, delete on the loser)."""
    if object_type not in DEDUPE_OBJECTS:
        raise ValidationError(
            {"object": [_("Select a valid choice. That choice is not one of the available choices.")]}
        )
    with transaction.atomic():  # the pair is read with row locks (PostgreSQL wants a transaction for them)
        return _get_pair(model_for(object_type), user, survivor_id, loser_id)


def _ancestors(model, record) -> list[int]:
    seen, node = [], record.parent_id
    while node and node not in seen and len(seen) < 50:
        seen.append(node)
        node = model.all_objects.filter(pk=node).values_list("parent_id", flat=True).first()
    return seen


# What a merge moved is stored under stable keys ("followups.followup", a model's label, or one of these) and
# named in the reader's language when shown (MergeRecord.moved_display), not in the merger's.
MOVED_CHILDREN, MOVED_TEAM, MOVED_HISTORY = "children", "team", "history"


def moved_label(key: str) -> str:
    """The name of what a merge moved under `key`, in the current language; older records kept text."""
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist

    special = {MOVED_CHILDREN: _("child records"), MOVED_TEAM: _("team members"), MOVED_HISTORY: _("history entries")}
    if key in special:
        return str(special[key])
    app_label, _dot, rest = key.partition(".")
    model_name, _dot, field_name = rest.partition(".")
    try:
        model = apps.get_model(app_label, model_name)
        return str(model._meta.get_field(field_name).verbose_name if field_name else model._meta.verbose_name_plural)
    except (LookupError, ValueError, FieldDoesNotExist):
        return key


def _move_m2m(through, own: str, other: str, loser_pk: int, survivor_pk: int) -> int:
    existing = through.objects.filter(**{own: survivor_pk}).values_list(other, flat=True)
    through.objects.filter(**{own: loser_pk, f"{other}__in": list(existing)}).delete()
    return through.objects.filter(**{own: loser_pk}).update(**{own: survivor_pk})


def _reverse_relations(model):
    """Every relation of another model to this one, hidden ones (related_name="+") included, e.g. the
    web form submission that created a lead; not the through tables of this model's own many-to-many
    fields, which move with those fields."""
    for rel in model._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete):
            continue
        if rel.related_model._meta.auto_created and not rel.many_to_many:
            continue
        yield rel


def _move_related(model, loser, survivor, user, now, note: str) -> dict[str, int]:
    """Point everything that references the loser at the survivor: follow-ups, opportunities, contacts,
    child accounts, converted leads, tags, form submissions — whatever any app links to this model by a
    foreign key. What moved is counted by kind, except hidden links a user never sees."""
    moved: dict[str, int] = {}
    entries: list[ChangeLog] = []
    for rel in _reverse_relations(model):
        related_model = rel.related_model
        if related_model._meta.app_label == "dedupe":
            continue
        if rel.many_to_many:
            count = _move_m2m(
                rel.through, rel.field.m2m_reverse_field_name(), rel.field.m2m_field_name(), loser.pk, survivor.pk
            )
            if count:
                moved[related_model._meta.label_lower] = count
            continue
        fk = rel.field
        if rel.one_to_one and related_model._base_manager.filter(**{fk.name: survivor.pk}).exists():
            continue  # the survivor already has its own
        ids = list(related_model._base_manager.filter(**{fk.name: loser.pk}).values_list("pk", flat=True))
        if not ids:
            continue
        extra = {}
        if issubclass(related_model, TideModel):
            extra = {"version": F("version") + 1, "updated_at": now}
            if related_model.object_type:
                label = str(fk.verbose_name)
                reprs = related_model._base_manager.filter(pk__in=ids)
                entries.extend(
                    ChangeLog(
                        object_type=related_model.object_type,
                        object_id=r.pk,
                        object_repr=str(r)[:300],
                        action=HistoryAction.UPDATE,
                        actor=user,
                        at=now,
                        changes=[{"field": fk.name, "label": label, "old": str(loser), "new": str(survivor)}],
                        note=note[:500],
                    )
                    for r in reprs
                )
        try:
            with transaction.atomic():
                for start in range(0, len(ids), 500):
                    related_model._base_manager.filter(pk__in=ids[start : start + 500]).update(
                        **{fk.name: survivor.pk}, **extra
                    )
        except IntegrityError:  # e.g. a one-per-record row both already have: the merge cannot go through
            raise DomainError(
                _("Both records have %(what)s that cannot be combined; the merge was not made.")
                % {"what": related_model._meta.verbose_name_plural},
                code="merge_conflict",
                status=409,
            ) from None
        if rel.hidden:
            continue
        key = MOVED_CHILDREN if related_model is model else related_model._meta.label_lower
        moved[key] = moved.get(key, 0) + len(ids)
    for field in model._meta.many_to_many:
        count = _move_m2m(
            field.remote_field.through, field.m2m_field_name(), field.m2m_reverse_field_name(), loser.pk, survivor.pk
        )
        if count:
            moved[f"{model._meta.label_lower}.{field.name}"] = count
    ChangeLog.objects.bulk_create(entries, batch_size=1000)
    return moved


def _move_team(object_type: str, loser, survivor) -> int:
    moved = 0
    current = {s.user_id: s for s in RecordShare.objects.filter(object_type=object_type, object_id=survivor.pk)}
    for share in RecordShare.objects.filter(object_type=object_type, object_id=loser.pk):
        mine = current.get(share.user_id)
        if mine is None:
            share.object_id = survivor.pk
            share.save(update_fields=["object_id"])
            moved += 1
        else:
            if share.access == ShareAccess.EDIT and mine.access != ShareAccess.EDIT:
                mine.access = ShareAccess.EDIT
                mine.save(update_fields=["access"])
            share.delete()
    return moved


def _move_references(object_type: str, loser, survivor) -> dict[str, int]:
    """Point the rows that name the loser by (type, id) rather than by a foreign key at the survivor."""
    from pools.models import ClaimLog, RecyclingReminder

    moved: dict[str, int] = {}
    # the pool story, and the cool-down of whoever returned the loser to a pool or lost it to recycling
    count = ClaimLog.objects.filter(object_type=object_type, object_id=loser.pk).update(object_id=survivor.pk)
    if count:
        moved[ClaimLog._meta.label_lower] = count
    # recycling reminders already sent (one per owner and due date): the survivor's own win
    sent = set(
        RecyclingReminder.objects.filter(object_type=object_type, object_id=survivor.pk).values_list(
            "owner_id", "due_date"
        )
    )
    for reminder in RecyclingReminder.objects.filter(object_type=object_type, object_id=loser.pk):
        if (reminder.owner_id, reminder.due_date) in sent:
            reminder.delete()
        else:
            reminder.object_id = survivor.pk
            reminder.save(update_fields=["object_id"])
    # (A re-imported row of the loser is recognised as the survivor's through this merge's record: the
    # import follows merges when it looks fingerprints up, imports/pipeline.imported_before.)
    # earlier merges into the loser are now merges into the survivor
    count = MergeRecord.objects.filter(object_type=object_type, survivor_id=loser.pk).update(survivor_id=survivor.pk)
    if count:
        moved[MergeRecord._meta.label_lower] = count
    return moved


def _derived(object_type: str, survivor, loser) -> dict:
    """Values that follow from both records rather than from a choice."""
    data = {}
    if _has(type(survivor), "is_locked") and loser.is_locked and not survivor.is_locked:
        data["is_locked"] = True
    if object_type == ObjectType.LEAD:
        facts = {**(loser.facts or {}), **(survivor.facts or {})}
        if facts != (survivor.facts or {}):
            data["facts"] = facts
        if loser.score > survivor.score:
            data["score"] = loser.score
        if survivor.converted_at is None and loser.converted_at is not None:
            for name in ("converted_account", "converted_contact", "converted_opportunity", "converted_at"):
                data[name] = getattr(loser, name)
        if survivor.converted_at is not None or loser.converted_at is not None:
            # converted on either side: the survivor is a converted lead (conversion and the pools read
            # the status), whatever status was picked
            from leads.choices import LeadStatus

            data.update(status=LeadStatus.CONVERTED, invalid_reason="", invalid_note="")
    return data


def _may_change_compared_values(model, survivor_id, loser_id) -> bool:
    """The two records differ in a value the duplicate rules compare (read without locks: a merge of
    two records that agree on them leaves them as they are)."""
    survivor_id, loser_id = parse_id(survivor_id), parse_id(loser_id)
    if survivor_id is None or loser_id is None:
        return True  # refused later, with its field error
    names = compared_fields(model)
    rows = {row.pop("pk"): row for row in model.all_objects.filter(pk__in=[survivor_id, loser_id]).values("pk", *names)}
    return len(rows) < 2 or rows.get(survivor_id) != rows.get(loser_id)


@transaction.atomic
def merge_records(*, object_type: str, user, survivor_id: int, loser_id: int, picks: dict | None = None):
    """Merge `loser` into `survivor` in one transaction: the survivor keeps every follow-up, opportunity,
    contact, child account, team member and history entry of both, takes the values picked from the
    loser, and the loser is soft-deleted and recorded as merged into the survivor (MergeRecord).

    Needs edit on the survivor and delete on the loser. `picks`: {field key: "survivor" | "loser"}."""
    if object_type not in DEDUPE_OBJECTS:
        raise ValidationError(
            {"object": [_("Select a valid choice. That choice is not one of the available choices.")]}
        )
    model = model_for(object_type)
    if object_type == ObjectType.LEAD and _may_change_compared_values(model, survivor_id, loser_id):
        # PostgreSQL: the survivor may take a phone, email or name the duplicate rules compare, which
        # writers of new leads serialise on; take that lock before the row locks, in the order imports do.
        lock_lead_creation()
    survivor, loser = _get_pair(model, user, survivor_id, loser_id)
    picks = dict(picks or {})
    fields = merge_fields(object_type)
    known = {f.key for f in fields}
    bad = sorted(k for k in picks if k not in known)
    errors = {f"picks.{k}": [_("Unknown field.")] for k in bad}
    errors.update(
        {
            f"picks.{k}": [_("Choose “survivor” or “loser”.")]
            for k, v in picks.items()
            if k in known and v not in MergePick.values
        }
    )
    if errors:
        raise ValidationError(errors)
    refusal = merge_refusal(object_type=object_type, survivor=survivor, loser=loser)
    if refusal is not None:
        raise refusal
    now = timezone.now()
    survivor_repr, loser_repr = str(survivor), str(loser)
    note_survivor = _(MERGED_FROM_NOTE) % {"loser": loser_repr, "id": loser.pk}
    note_loser = _(MERGED_INTO_NOTE) % {"survivor": survivor_repr, "id": survivor.pk}

    data: dict = {}
    field_log = []
    for f in fields:
        fixed = _fixed_pick(object_type, survivor, loser, f)
        differs = fixed is None and _values(survivor, f) != _values(loser, f)
        pick = fixed or (picks.get(f.key, MergePick.SURVIVOR) if differs else MergePick.SURVIVOR)
        field_log.append(
            {
                "field": f.key,
                "label": f.label,
                "survivor": _display(survivor, f),
                "loser": _display(loser, f),
                "kept": pick,
                "differs": differs,
            }
        )
        if pick == MergePick.LOSER:
            for column in f.columns:
                data[column] = getattr(loser, column)
    if object_type == ObjectType.ACCOUNT and loser.pk in _ancestors(model, survivor):
        # the survivor takes the loser's place in the tree (a fixed pick, so the merge's history entry on
        # the survivor names the change), before the loser's children, the survivor's branch, move to it
        model.all_objects.filter(pk=survivor.pk).update(parent_id=loser.parent_id)
        data.pop("parent", None)
    data.update(_derived(object_type, survivor, loser))

    # 1. the loser leaves first: its unique values (credit code) free up and no check sees it again
    loser.deleted_at = now
    loser.deleted_by = user
    loser.version += 1
    loser.save(update_fields=["deleted_at", "deleted_by", "version"])
    # 2. everything that pointed at the loser now points at the survivor
    moved = _move_related(model, loser, survivor, user, now, note_loser)
    team = _move_team(object_type, loser, survivor)
    if team:
        moved[MOVED_TEAM] = team
    moved.update(_move_references(object_type, loser, survivor))
    history.keep_derived(loser)
    history_moved = ChangeLog.objects.filter(object_type=object_type, object_id=loser.pk).update(object_id=survivor.pk)
    if history_moved:
        moved[MOVED_HISTORY] = history_moved
    # 3. the survivor takes the picked values (an update like any other: permission, validation, history)
    if data:
        survivor = core_actions.update_record(
            instance=survivor, user=user, data=data, options={"skip_duplicate_check": True}
        )
    else:
        model.all_objects.filter(pk=survivor.pk).update(version=F("version") + 1, updated_at=now)
        survivor.refresh_from_db()
    if _has(model, "last_followup_at") and loser.last_followup_at:
        model.all_objects.filter(pk=survivor.pk).filter(
            Q(last_followup_at__isnull=True) | Q(last_followup_at__lt=loser.last_followup_at)
        ).update(last_followup_at=loser.last_followup_at)
    # 4. history of the merge itself on both records
    changes = [
        {"field": row["field"], "label": row["label"], "old": row["survivor"], "new": row["loser"]}
        for row in field_log
        if row["kept"] == MergePick.LOSER
    ]
    history.write(instance=survivor, action=HistoryAction.UPDATE, actor=user, changes=changes, note=note_survivor)
    history.write(instance=loser, action=HistoryAction.DELETE, actor=user, note=note_loser)
    record = MergeRecord.objects.create(
        object_type=object_type,
        survivor_id=survivor.pk,
        loser_id=loser.pk,
        survivor_repr=str(survivor)[:300],
        loser_repr=loser_repr[:300],
        actor=user,
        at=now,
        picks={row["field"]: row["kept"] for row in field_log if row["differs"]},
        fields=field_log,
        moved=moved,
    )
    # 5. derived data: search index of both, the loser's owner told
    from search.indexer import index_record

    index_record(model.all_objects.get(pk=survivor.pk))
    index_record(loser)
    loser_owner = getattr(loser, "owner", None)
    if loser_owner is not None and loser_owner.pk != user.pk:
        notify(
            users=[loser_owner],
            kind="dedupe.merged",
            title=_(MERGED_TITLE) % {"loser": loser_repr, "survivor": survivor},
            body=_(MERGED_BODY) % {"user": user},
            url=survivor.get_absolute_url(),
        )
    return record


def visible_merges(user):
    """Merges a user may review: all for administrators; otherwise those whose survivor he can see or he made."""
    qs = MergeRecord.objects.select_related("actor")
    if is_admin(user):
        return qs
    q = Q(actor_id=user.pk)
    for object_type in DEDUPE_OBJECTS:
        if can(user, object_type, Action.VIEW):
            ids = model_for(object_type).all_objects.visible_to(user, Action.VIEW).values("id")
            q |= Q(object_type=object_type, survivor_id__in=ids)
    return qs.filter(q)
