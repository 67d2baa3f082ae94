"""State changes of assignment settings and qualification settings, and the re-run of the rules on
a selection. Pages, the API and jobs call these and nothing else; each runs in one transaction and
writes its history entry."""

from __future__ import annotations

import json
import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import conditions as cond
from core import history
from core.actions import check_version
from core.choices import Action, HistoryAction, ObjectType
from core.errors import DomainError, PermissionDeniedError
from core.ids import MAX_COUNT, ids_or_error, parse_ids
from core.permissions import can
from core.regions import regions
from org.permissions import require_admin

from . import service
from .choices import OPEN_LEAD_STATUSES, Strategy
from .models import (
    AssignmentRule,
    LeadLimit,
    QualificationFact,
    QualificationLevel,
    RotationCursor,
    RuleMember,
    Territory,
    TerritoryMember,
    TerritoryRegion,
)

FACT_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_RERUN = 10000


def _validate_conditions(raw, *, field: str = "conditions") -> dict:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise ValidationError({field: [_("Enter valid JSON.")]}) from None
    try:
        return cond.validate(raw, ObjectType.LEAD)
    except ValidationError as error:
        raise ValidationError({field: list(error.messages)}) from None


def _users(ids, field: str) -> list:
    """Active users in the order given, duplicates dropped; a field error names the first bad one."""
    from org.models import User

    ordered = ids_or_error(ids, field)
    found = User.objects.in_bulk(ordered)
    for pk in ordered:
        user = found.get(pk)
        if user is None:
            raise ValidationError(
                {field: [_("Select a valid choice. That choice is not one of the available choices.")]}
            )
        if not user.is_active:
            raise ValidationError({field: [_("%(user)s has left the company.") % {"user": user}]})
    return [found[pk] for pk in ordered]


def _conditions_text(conditions) -> str:
    return json.dumps(conditions or {"all": []}, ensure_ascii=False, sort_keys=True)


# --- assignment rules -----------------------------------------------------------------------


RULE_FIELDS = ("name", "order", "is_active", "conditions", "strategy", "pool", "max_open_leads")


def _rule_snapshot(rule: AssignmentRule, members) -> dict:
    return {
        "name": rule.name,
        "order": str(rule.order),
        "is_active": "✓" if rule.is_active else "✗",
        "conditions": _conditions_text(rule.conditions),
        "strategy": str(Strategy(rule.strategy).label) if rule.strategy in Strategy.values else rule.strategy,
        "pool": str(rule.pool) if rule.pool_id else "",
        "max_open_leads": "" if rule.max_open_leads is None else str(rule.max_open_leads),
        "members": ", ".join(str(u) for u in members),
    }


def _rule_labels() -> dict:
    labels = {name: AssignmentRule._meta.get_field(name).verbose_name for name in RULE_FIELDS}
    labels["members"] = _("Users")
    return labels


def _clean_rule(rule: AssignmentRule, members: list) -> list:
    errors: dict[str, list[str]] = {}
    if not (rule.name or "").strip():
        errors["name"] = [_("This field is required.")]
    if rule.strategy not in Strategy.values:
        errors["strategy"] = [_("Select a valid choice. That choice is not one of the available choices.")]
    needs_users = rule.strategy in (Strategy.USERS, Strategy.ROUND_ROBIN, Strategy.LEAST_LOADED)
    if needs_users and not members:
        errors["members"] = [_("Choose at least one user.")]
    if rule.strategy == Strategy.POOL:
        pool = rule.pool
        if pool is None:
            errors["pool"] = [_("Choose the public pool the leads go to.")]
        elif pool.object_type != ObjectType.LEAD or not pool.is_active:
            errors["pool"] = [_("Choose an active pool of leads.")]
    else:
        rule.pool = None
    if errors:
        raise ValidationError(errors)
    return members if needs_users else []


def _set_members(through, owner_field: str, instance, members: list) -> None:
    through.objects.filter(**{owner_field: instance}).delete()
    through.objects.bulk_create([through(**{owner_field: instance}, user=u, position=i) for i, u in enumerate(members)])


@transaction.atomic
def create_rule(*, user, data: dict, member_ids=()) -> AssignmentRule:
    require_admin(user)
    data = dict(data)
    data["conditions"] = _validate_conditions(data.get("conditions"))
    if data.get("order") is None:
        last = AssignmentRule.objects.order_by("-order").values_list("order", flat=True).first()
        data["order"] = (last or 0) + 10
    rule = AssignmentRule(**data)
    members = _clean_rule(rule, _users(member_ids, "members"))
    rule.full_clean()
    rule.save()
    _set_members(RuleMember, "rule", rule, members)
    after = _rule_snapshot(rule, members)
    changes = history.changes_between({}, after, _rule_labels())
    history.write(instance=rule, action=HistoryAction.CREATE, actor=user, changes=changes)
    return rule


@transaction.atomic
def update_rule(*, rule: AssignmentRule, user, data: dict, member_ids=None, expected_version=None) -> AssignmentRule:
    require_admin(user)
    current = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    check_version(current, expected_version)
    old_members = current.ordered_members()
    before = _rule_snapshot(current, old_members)
    data = dict(data)
    if "conditions" in data:
        data["conditions"] = _validate_conditions(data["conditions"])
    for key, value in data.items():
        setattr(current, key, value)
    members = _users(member_ids, "members") if member_ids is not None else old_members
    members = _clean_rule(current, members)
    current.full_clean()
    current.version += 1
    current.updated_at = timezone.now()
    current.save()
    if [u.pk for u in members] != [u.pk for u in old_members]:
        _set_members(RuleMember, "rule", current, members)
    changes = history.changes_between(before, _rule_snapshot(current, members), _rule_labels())
    if changes:
        history.write(instance=current, action=HistoryAction.UPDATE, actor=user, changes=changes)
    return current


@transaction.atomic
def delete_rule(*, rule: AssignmentRule, user) -> None:
    require_admin(user)
    history.write(instance=rule, action=HistoryAction.DELETE, actor=user)
    RotationCursor.objects.filter(key=rule.cursor_key).delete()
    rule.delete()


@transaction.atomic
def move_rule(*, rule: AssignmentRule, user, direction: str) -> AssignmentRule:
    """Swap a rule with its neighbour above ("up") or below ("down"); orders are renumbered 10, 20, …"""
    require_admin(user)
    if direction not in ("up", "down"):
        raise ValidationError({"direction": [_("Choose up or down.")]})
    rules = list(AssignmentRule.objects.select_for_update().order_by("order", "id"))
    index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rules):
        return rules[index]
    rules[index], rules[other] = rules[other], rules[index]
    for position, r in enumerate(rules, start=1):
        if r.order != position * 10:
            old = r.order
            AssignmentRule.objects.filter(pk=r.pk).update(order=position * 10, version=r.version + 1)
            r.order = position * 10
            if r.pk == rule.pk:
                label = str(AssignmentRule._meta.get_field("order").verbose_name)
                history.write(
                    instance=r,
                    action=HistoryAction.UPDATE,
                    actor=user,
                    changes=[{"field": "order", "label": label, "old": str(old), "new": str(r.order)}],
                )
    return next(r for r in rules if r.pk == rule.pk)


# --- territories ----------------------------------------------------------------------------


def _clean_codes(codes) -> list[str]:
    data = regions()
    cleaned = []
    for raw in codes or []:
        code = str(raw).strip()
        if not code:
            continue
        if not (code.isdigit() and len(code) in (2, 4, 6)) or code not in data.names:
            raise ValidationError(
                {"regions": [_("“%(code)s” is not a province, city or district code.") % {"code": code}]}
            )
        if code not in cleaned:
            cleaned.append(code)
    if not cleaned:
        raise ValidationError({"regions": [_("Choose at least one province, city or district.")]})
    return cleaned


def _territory_snapshot(t: Territory, members, codes) -> dict:
    return {
        "name": t.name,
        "department": str(t.department) if t.department_id else "",
        "distribution": str(t.get_distribution_display()),
        "is_active": "✓" if t.is_active else "✗",
        "members": ", ".join(str(u) for u in members),
        "regions": ", ".join(f"{c} {regions().names.get(c, '')}" for c in codes),
    }


def _territory_labels() -> dict:
    labels = {n: Territory._meta.get_field(n).verbose_name for n in ("name", "department", "distribution", "is_active")}
    labels["members"] = _("Users")
    labels["regions"] = _("Regions")
    return labels


def _save_territory(territory: Territory, members: list, codes: list[str]) -> None:
    errors: dict[str, list[str]] = {}
    if not (territory.name or "").strip():
        errors["name"] = [_("This field is required.")]
    elif Territory.objects.filter(name=territory.name).exclude(pk=territory.pk).exists():
        errors["name"] = [_("A territory with this name already exists.")]
    if not members and not territory.department_id:
        errors["members"] = [_("Choose a department or at least one user.")]
    taken = TerritoryRegion.objects.filter(code__in=codes).select_related("territory")
    if territory.pk:
        taken = taken.exclude(territory=territory)
    clashes = [
        _("%(code)s %(name)s already belongs to the territory “%(territory)s”.")
        % {"code": r.code, "name": regions().names.get(r.code, ""), "territory": r.territory}
        for r in taken
    ]
    if clashes:
        errors["regions"] = clashes
    if errors:
        raise ValidationError(errors)
    territory.full_clean(exclude=["name"])
    try:
        with transaction.atomic():
            territory.save()
    except IntegrityError:
        raise ValidationError({"name": [_("A territory with this name already exists.")]}) from None
    _set_members(TerritoryMember, "territory", territory, members)
    TerritoryRegion.objects.filter(territory=territory).delete()
    TerritoryRegion.objects.bulk_create([TerritoryRegion(territory=territory, code=c) for c in codes])


@transaction.atomic
def create_territory(*, user, data: dict, member_ids=(), codes=()) -> Territory:
    require_admin(user)
    territory = Territory(**data)
    members = _users(member_ids, "members")
    codes = _clean_codes(codes)
    _save_territory(territory, members, codes)
    after = _territory_snapshot(territory, members, codes)
    history.write(
        instance=territory,
        action=HistoryAction.CREATE,
        actor=user,
        changes=history.changes_between({}, after, _territory_labels()),
    )
    return territory


@transaction.atomic
def update_territory(*, territory: Territory, user, data: dict, member_ids=None, codes=None, expected_version=None):
    require_admin(user)
    current = Territory.objects.select_for_update().get(pk=territory.pk)
    check_version(current, expected_version)
    old_members, old_codes = current.ordered_members(), current.codes()
    before = _territory_snapshot(current, old_members, old_codes)
    for key, value in data.items():
        setattr(current, key, value)
    members = _users(member_ids, "members") if member_ids is not None else old_members
    codes = _clean_codes(codes) if codes is not None else old_codes
    current.version += 1
    current.updated_at = timezone.now()
    _save_territory(current, members, codes)
    changes = history.changes_between(before, _territory_snapshot(current, members, codes), _territory_labels())
    if changes:
        history.write(instance=current, action=HistoryAction.UPDATE, actor=user, changes=changes)
    return current


@transaction.atomic
def delete_territory(*, territory: Territory, user) -> None:
    require_admin(user)
    history.write(instance=territory, action=HistoryAction.DELETE, actor=user)
    RotationCursor.objects.filter(key=territory.cursor_key).delete()
    territory.delete()


# --- per-user caps --------------------------------------------------------------------------


@transaction.atomic
def set_lead_limit(*, user, target, max_open_leads: int | None) -> LeadLimit | None:
    """Cap how many open leads the rules give `target`; None removes the cap."""
    require_admin(user)
    if target is None:
        raise ValidationError({"user": [_("Select a valid choice. That choice is not one of the available choices.")]})
    if max_open_leads is not None and int(max_open_leads) < 0:
        raise ValidationError({"max_open_leads": [_("Enter a whole number of at least 0.")]})
    existing = LeadLimit.objects.select_for_update().filter(user=target).first()
    old = "" if existing is None else str(existing.max_open_leads)
    label = str(LeadLimit._meta.get_field("max_open_leads").verbose_name)
    if max_open_leads is None:
        if existing is not None:
            history.write(
                instance=existing,
                action=HistoryAction.DELETE,
                actor=user,
                changes=[{"field": "max_open_leads", "label": label, "old": old, "new": ""}],
            )
            existing.delete()
        return None
    if not 0 <= int(max_open_leads) <= MAX_COUNT:
        raise ValidationError({"max_open_leads": [_("Enter a whole number from 0 to %(max)d.") % {"max": MAX_COUNT}]})
    limit = existing or LeadLimit(user=target)
    limit.max_open_leads = int(max_open_leads)
    limit.save()
    if old != str(limit.max_open_leads):
        history.write(
            instance=limit,
            action=HistoryAction.CREATE if existing is None else HistoryAction.UPDATE,
            actor=user,
            changes=[{"field": "max_open_leads", "label": label, "old": old, "new": str(limit.max_open_leads)}],
        )
    return limit


# --- the re-run on a selection ----------------------------------------------------------------


@transaction.atomic
def rerun_assignment(*, ids, user) -> dict:
    """Run the rules again on chosen leads (those still open); whoever may transfer them may do it."""
    from leads.models import Lead

    try:
        ids = list(dict.fromkeys(int(i) for i in ids))
    except (TypeError, ValueError):
        raise ValidationError({"ids": [_("Enter a list of whole numbers.")]}) from None
    ids = parse_ids(ids)  # beyond a database key: no such lead
    if not ids:
        raise ValidationError({"ids": [_("Select the leads first.")]})
    if len(ids) > MAX_RERUN:
        raise ValidationError({"ids": [_("Select at most %(n)d leads at a time.") % {"n": MAX_RERUN}]})
    if not can(user, ObjectType.LEAD, Action.TRANSFER):
        raise PermissionDeniedError()
    leads = list(
        Lead.objects.visible_to(user, Action.TRANSFER)
        .filter(pk__in=ids)
        .select_for_update(of=("self",))
        .order_by("created_at", "id")
    )
    if len(leads) != len(ids):
        raise PermissionDeniedError(
            _("%(count)d of the chosen leads may not be reassigned by you.") % {"count": len(ids) - len(leads)}
        )
    open_leads = [lead for lead in leads if lead.status in OPEN_LEAD_STATUSES]
    decisions = service.assign_leads(leads=open_leads, actor=user)
    return {
        "changed": sum(1 for d in decisions if d.changed),
        "unchanged": sum(1 for d in decisions if not d.changed),
        "skipped": len(leads) - len(open_leads),
        "results": [d.as_dict() for d in decisions],
    }


# --- qualification settings -----------------------------------------------------------------


def _fact_snapshot(f: QualificationFact) -> dict:
    return {
        "code": f.code,
        "label": f.label,
        "help": f.help,
        "order": str(f.order),
        "is_active": "✓" if f.is_active else "✗",
    }


def _fact_labels() -> dict:
    return {
        n: QualificationFact._meta.get_field(n).verbose_name for n in ("code", "label", "help", "order", "is_active")
    }


def _clean_fact(fact: QualificationFact) -> None:
    fact.code = (fact.code or "").strip()
    if not FACT_CODE.match(fact.code):
        raise ValidationError(
            {"code": [_("Use lower-case letters, digits and underscores, starting with a letter (at most 40).")]}
        )
    if QualificationFact.objects.filter(code=fact.code).exclude(pk=fact.pk).exists():
        raise ValidationError({"code": [_("A fact with this code already exists.")]})
    fact.full_clean(exclude=["code"])


@transaction.atomic
def create_fact(*, user, data: dict) -> QualificationFact:
    require_admin(user)
    fact = QualificationFact(**data)
    if fact.order in (None, 0) and "order" not in data:
        last = QualificationFact.objects.order_by("-order").values_list("order", flat=True).first()
        fact.order = (last or 0) + 10
    _clean_fact(fact)
    fact.save()
    history.write(
        instance=fact,
        action=HistoryAction.CREATE,
        actor=user,
        changes=history.changes_between({}, _fact_snapshot(fact), _fact_labels()),
    )
    return fact


@transaction.atomic
def update_fact(*, fact: QualificationFact, user, data: dict, expected_version=None) -> QualificationFact:
    """Change a fact; its code cannot change (stored facts and criteria refer to it)."""
    require_admin(user)
    current = QualificationFact.objects.select_for_update().get(pk=fact.pk)
    check_version(current, expected_version)
    if "code" in data and data["code"] != current.code:
        raise ValidationError({"code": [_("The code of a fact cannot change; add a new fact instead.")]})
    before = _fact_snapshot(current)
    for key, value in data.items():
        setattr(current, key, value)
    _clean_fact(current)
    current.version += 1
    current.save()
    changes = history.changes_between(before, _fact_snapshot(current), _fact_labels())
    if changes:
        history.write(instance=current, action=HistoryAction.UPDATE, actor=user, changes=changes)
    return current


def _fact_used_by(code: str) -> list[str]:
    needle = f'"fact:{code}"'
    return [
        level.name
        for level in QualificationLevel.objects.all()
        if needle in json.dumps(level.conditions, ensure_ascii=False)
    ] + [
        rule.name for rule in AssignmentRule.objects.all() if needle in json.dumps(rule.conditions, ensure_ascii=False)
    ]


@transaction.atomic
def delete_fact(*, fact: QualificationFact, user) -> None:
    require_admin(user)
    used = _fact_used_by(fact.code)
    if used:
        raise DomainError(
            _("This fact is used by %(names)s; change those criteria first, or deactivate the fact.")
            % {"names": ", ".join(used)},
            code="fact_in_use",
            status=409,
        )
    history.write(instance=fact, action=HistoryAction.DELETE, actor=user)
    fact.delete()


def _level_conditions(raw) -> dict:
    conditions = _validate_conditions(raw)
    known = set(QualificationFact.objects.values_list("code", flat=True))
    unknown = sorted({code for code in _fact_codes(conditions) if code not in known})
    if unknown:
        raise ValidationError(
            {"conditions": [_("Unknown facts: %(codes)s. Add them under Facts first.") % {"codes": ", ".join(unknown)}]}
        )
    return conditions


def _fact_codes(node) -> list[str]:
    if isinstance(node, dict):
        if "field" in node:
            field = str(node["field"])
            return [field[5:]] if field.startswith("fact:") else []
        return [code for child in node.values() for code in _fact_codes(child)]
    if isinstance(node, list):
        return [code for child in node for code in _fact_codes(child)]
    return []


LEVEL_FIELDS = ("name", "order", "conditions", "lead_status", "is_active")


def _level_snapshot(level: QualificationLevel) -> dict:
    return {
        "name": level.name,
        "order": str(level.order),
        "conditions": _conditions_text(level.conditions),
        "lead_status": str(level.get_lead_status_display()) if level.lead_status else "",
        "is_active": "✓" if level.is_active else "✗",
    }


def _level_labels() -> dict:
    return {n: QualificationLevel._meta.get_field(n).verbose_name for n in LEVEL_FIELDS}


@transaction.atomic
def create_level(*, user, data: dict) -> QualificationLevel:
    require_admin(user)
    data = dict(data)
    data["conditions"] = _level_conditions(data.get("conditions"))
    if data.get("order") is None:
        last = QualificationLevel.objects.order_by("-order").values_list("order", flat=True).first()
        data["order"] = (last or 0) + 10
    level = QualificationLevel(**data)
    if not (level.name or "").strip():
        raise ValidationError({"name": [_("This field is required.")]})
    level.full_clean()
    level.save()
    history.write(
        instance=level,
        action=HistoryAction.CREATE,
        actor=user,
        changes=history.changes_between({}, _level_snapshot(level), _level_labels()),
    )
    return level


@transaction.atomic
def update_level(*, level: QualificationLevel, user, data: dict, expected_version=None) -> QualificationLevel:
    require_admin(user)
    current = QualificationLevel.objects.select_for_update().get(pk=level.pk)
    check_version(current, expected_version)
    before = _level_snapshot(current)
    data = dict(data)
    if "conditions" in data:
        data["conditions"] = _level_conditions(data["conditions"])
    for key, value in data.items():
        setattr(current, key, value)
    if not (current.name or "").strip():
        raise ValidationError({"name": [_("This field is required.")]})
    current.full_clean()
    current.version += 1
    current.save()
    changes = history.changes_between(before, _level_snapshot(current), _level_labels())
    if changes:
        history.write(instance=current, action=HistoryAction.UPDATE, actor=user, changes=changes)
    return current


@transaction.atomic
def delete_level(*, level: QualificationLevel, user) -> None:
    require_admin(user)
    history.write(instance=level, action=HistoryAction.DELETE, actor=user)
    level.delete()
