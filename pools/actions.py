"""State changes of public pools: pool settings and rules, claim, return, assign, the recycling sweep,
reminders and the holiday calendar. Pages, the API and jobs call these and nothing else.

Records in a pool have no owner, so the permission point (`visible_to`) hides them from everybody below
the ALL scope; pool pages and these actions check pool membership explicitly instead.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import logging
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import OperationalError, connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.deletion import ProtectedError
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, Concat, JSONArray, JSONObject, Left, NullIf
from django.db.models.lookups import Exact
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import history
from core.choices import Action, HistoryAction
from core.errors import DomainError, NotFoundError, PermissionDeniedError
from core.ids import ids_or_error
from core.models import ChangeLog
from core.notify import notify
from core.permissions import can
from core.workdays import WorkCalendar, start_of_day

from .choices import (
    POOL_HISTORY_TYPE,
    ClaimAction,
    HolidaySource,
    NotificationKind,
    PoolObjectType,
    ReleaseReason,
    RuleKind,
)
from .models import ClaimLog, HolidayCalendar, Pool, RecyclingReminder, RecyclingRule, is_pool_superadmin

log = logging.getLogger(__name__)

POOL_FIELDS = Pool.history_fields
RULE_FIELDS = RecyclingRule.history_fields
MAX_ASSIGN = 500
INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."


# Notes, labels and notifications kept as written and shown in the reader's language (core.history).
RULE_REMOVED_NOTE = history.message(gettext_noop("Recycling rule “%(rule)s” removed"))
RULE_NOTE = history.message(gettext_noop("Recycling rule “%(rule)s”"))
CLAIMED_NOTE = history.message(gettext_noop("Claimed from the public pool “%(pool)s”"))
ASSIGNED_NOTE = history.message(gettext_noop("Assigned from the public pool “%(pool)s”"))
RECYCLED_NOTE = history.message(gettext_noop("Recycled by the rule “%(rule)s” of the public pool “%(pool)s”"))
RETURNED_NOTE = history.message(gettext_noop("Returned to the public pool “%(pool)s”: %(reason)s"), history.OWN_WORDS)
history.message_values(ReleaseReason, message=RETURNED_NOTE, placeholder="reason")
LOCKED_NOTE = history.message(gettext_noop("Locked: recycling rules that exempt locked records leave it alone"))
UNLOCKED_NOTE = history.message(gettext_noop("Unlocked: recycling rules apply again"))
REMINDER_TITLE = history.message(  # a manager's copy: "owner: title"
    gettext_noop("“%(record)s” goes back to the pool “%(pool)s” on %(date)s"), history.AFTER_NAME
)
REMINDER_TITLE_MANY = history.plural_message(
    "%(count)d record goes back to the pool “%(pool)s” on %(date)s",
    "%(count)d records go back to the pool “%(pool)s” on %(date)s",
    history.AFTER_NAME,
)
ASSIGNED_TITLE = history.plural_message(
    "%(user)s assigned you %(count)d record from the pool “%(pool)s”",
    "%(user)s assigned you %(count)d records from the pool “%(pool)s”",
)
REMINDER_BODY = history.message(gettext_noop("Follow up, or ask to have them locked, to keep them: %(records)s"))


def model_for(object_type: str):
    if object_type == PoolObjectType.ACCOUNT:
        from accounts.models import Account

        return Account
    if object_type == PoolObjectType.LEAD:
        from leads.models import Lead

        return Lead
    raise NotFoundError()


def _is_lead(model) -> bool:
    return model.object_type == PoolObjectType.LEAD


def _usable(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


# --- pools and their rules --------------------------------------------------------------------------


def _users(ids, field: str):
    from org.models import User

    ids = ids_or_error(ids, field)
    found = list(User.objects.filter(pk__in=ids))
    if len(found) != len(ids):
        raise ValidationError({field: [_(INVALID_CHOICE)]})
    return found


def _departments(ids, field: str):
    from org.models import Department

    ids = ids_or_error(ids, field)
    found = list(Department.objects.filter(pk__in=ids))
    if len(found) != len(ids):
        raise ValidationError({field: [_(INVALID_CHOICE)]})
    return found


def _pool_snapshot(pool: Pool) -> dict[str, str]:
    shown = history.snapshot(pool)
    if pool.pk:
        for name in Pool.member_fields:
            shown[name] = ", ".join(sorted(str(item) for item in getattr(pool, name).all()))
    return shown


def _pool_changes(pool: Pool, before: dict[str, str]) -> list[dict]:
    labels = history.field_labels(pool) | {name: Pool._meta.get_field(name).verbose_name for name in Pool.member_fields}
    return history.changes_between(before, _pool_snapshot(pool), labels)


def _log_settings(pool: Pool, action: str, user, changes=(), note: str = "") -> None:
    """History of the pool settings (its limits, members and rules): who changed what, and when."""
    history.write(instance=pool, action=action, actor=user, changes=changes, note=note, object_type=POOL_HISTORY_TYPE)


def _rule_note(rule: RecyclingRule) -> str:
    return _(RULE_NOTE) % {"rule": rule}


def settings_history(pool: Pool):
    """The pool's settings history (its limits, members and recycling rules), newest first."""
    return history.for_record(pool, object_type=POOL_HISTORY_TYPE).order_by("-at", "-id")


def _set_members(pool, member_department_ids, member_user_ids, admin_ids) -> None:
    if member_department_ids is not None:
        pool.member_departments.set(_departments(member_department_ids, "member_department_ids"))
    if member_user_ids is not None:
        pool.member_users.set(_users(member_user_ids, "member_user_ids"))
    if admin_ids is not None:
        pool.admins.set(_users(admin_ids, "admin_ids"))


@transaction.atomic
def create_pool(*, user, data: dict, member_department_ids=None, member_user_ids=None, admin_ids=None) -> Pool:
    """Superusers and holders of the "admin" role create pools; the creator administers it unless told otherwise."""
    if not is_pool_superadmin(user):
        raise PermissionDeniedError(_("Only administrators may create public pools."))
    pool = Pool(**{k: v for k, v in data.items() if k in POOL_FIELDS})
    pool.full_clean()
    pool.save()
    _set_members(pool, member_department_ids, member_user_ids, admin_ids)
    if admin_ids is None and not user.is_superuser:
        pool.admins.add(user)
    changes = _pool_changes(pool, {})
    _log_settings(pool, HistoryAction.CREATE, user, changes)
    return pool


@transaction.atomic
def update_pool(*, pool: Pool, user, data: dict, member_department_ids=None, member_user_ids=None, admin_ids=None):
    current = Pool.objects.select_for_update().get(pk=pool.pk)
    if not current.is_admin(user):
        raise PermissionDeniedError(_("Only the pool's administrators may change it."))
    if admin_ids is not None and not is_pool_superadmin(user) and int(user.pk) not in {int(i) for i in admin_ids}:
        raise ValidationError({"admin_ids": [_("You cannot remove yourself from the pool's administrators.")]})
    before = _pool_snapshot(current)
    changes = {k: v for k, v in data.items() if k in POOL_FIELDS}
    kind_changes = "object_type" in changes and changes["object_type"] != current.object_type
    if kind_changes and (current.model.all_objects.filter(pool=current).exists() or current.rules.exists()):
        raise ValidationError({"object_type": [_("A pool that holds records or rules keeps its kind.")]})
    for key, value in changes.items():
        setattr(current, key, value)
    current.updated_at = timezone.now()
    current.full_clean()
    current.save()
    _set_members(current, member_department_ids, member_user_ids, admin_ids)
    logged = _pool_changes(current, before)
    if logged:
        _log_settings(current, HistoryAction.UPDATE, user, logged)
    return current


@transaction.atomic
def delete_pool(*, pool: Pool, user) -> None:
    """Only an empty pool goes: records keep their home pool while owned, so those count too."""
    if not is_pool_superadmin(user):
        raise PermissionDeniedError(_("Only administrators may delete public pools."))
    if pool.model.all_objects.filter(pool=pool).exists():
        raise DomainError(
            _("The pool still holds records (in it or owned from it); deactivate it instead."),
            code="pool_not_empty",
            status=409,
        )
    try:
        with transaction.atomic():
            _log_settings(pool, HistoryAction.DELETE, user)
            pool.delete()
    except ProtectedError:
        raise DomainError(
            _("Other settings still use this pool; deactivate it instead."), code="pool_in_use", status=409
        ) from None


def _check_rule_admin(pool, user) -> None:
    if not pool.is_admin(user):
        raise PermissionDeniedError(_("Only the pool's administrators may change its rules."))


@transaction.atomic
def create_rule(*, pool: Pool, user, data: dict) -> RecyclingRule:
    _check_rule_admin(pool, user)
    rule = RecyclingRule(pool=pool, **{k: v for k, v in data.items() if k in RULE_FIELDS})
    rule.full_clean()
    rule.save()
    changes = history.diff(rule, {}, history.snapshot(rule))
    _log_settings(pool, HistoryAction.UPDATE, user, changes, note=_rule_note(rule))
    return rule


@transaction.atomic
def update_rule(*, rule: RecyclingRule, user, data: dict) -> RecyclingRule:
    current = RecyclingRule.objects.select_for_update().select_related("pool").get(pk=rule.pk)
    _check_rule_admin(current.pool, user)
    before = history.snapshot(current)
    for key, value in data.items():
        if key in RULE_FIELDS:
            setattr(current, key, value)
    current.updated_at = timezone.now()
    current.full_clean()
    current.save()
    changes = history.diff(current, before, history.snapshot(current))
    if changes:
        _log_settings(current.pool, HistoryAction.UPDATE, user, changes, note=_rule_note(current))
    return current


@transaction.atomic
def delete_rule(*, rule: RecyclingRule, user) -> None:
    _check_rule_admin(rule.pool, user)
    note = _(RULE_REMOVED_NOTE) % {"rule": rule}
    _log_settings(rule.pool, HistoryAction.UPDATE, user, note=note)
    rule.delete()


# --- claim, return, assign --------------------------------------------------------------------------


def owned_count(model, user) -> int:
    """What a user owns of one kind, whatever pool it came from; converted leads are done and do not count."""
    qs = model.objects.filter(owner=user)
    if _is_lead(model):
        from leads.choices import LeadStatus

        qs = qs.exclude(status=LeadStatus.CONVERTED)
    return qs.count()


def _lock_user(user) -> None:
    """Serialise one user's claims (PostgreSQL row lock; SQLite runs one writer at a time anyway)."""
    from org.models import User

    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))


def _owner_label(model) -> str:
    return str(model._meta.get_field("owner").verbose_name)


def _check_ownership_limit(pool, model, user, adding: int = 1) -> None:
    if pool.ownership_limit is None:
        return
    owned = owned_count(model, user)
    if owned + adding > pool.ownership_limit:
        raise DomainError(
            _("%(user)s already owns %(owned)d %(things)s; the pool “%(pool)s” allows at most %(limit)d at once.")
            % {
                "user": user,
                "owned": owned,
                "things": model._meta.verbose_name_plural,
                "pool": pool,
                "limit": pool.ownership_limit,
            },
            code="ownership_limit",
            status=409,
        )


def claims_today(pool, user, now) -> int:
    """Records the user took from the pool today: his claims, and what he assigned to himself as its admin."""
    return ClaimLog.objects.filter(
        Q(action=ClaimAction.CLAIM) | Q(action=ClaimAction.ASSIGN, actor=user),
        user=user,
        pool=pool,
        at__gte=start_of_day(timezone.localdate(now)),
    ).count()


def _check_daily_limit(pool, user, now, adding: int = 1) -> None:
    if pool.daily_claim_limit is None:
        return
    used = claims_today(pool, user, now)
    if used + adding > pool.daily_claim_limit:
        raise DomainError(
            _("You have claimed %(used)d records from “%(pool)s” today; the limit is %(limit)d a day.")
            % {"used": used, "pool": pool, "limit": pool.daily_claim_limit},
            code="daily_claim_limit",
            status=409,
        )


def _check_cooldown(pool, model, ids: list[int], user, now) -> None:
    """The previous owner may not take back a record he released or lost to recycling before the cool-down."""
    if not pool.cooldown_days:
        return
    last = (
        ClaimLog.objects.filter(
            object_type=model.object_type,
            object_id__in=ids,
            user=user,
            action__in=[ClaimAction.RELEASE, ClaimAction.RECYCLE],
            at__gt=now - datetime.timedelta(days=pool.cooldown_days),
        )
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    if last is not None:
        until = timezone.localtime(last + datetime.timedelta(days=pool.cooldown_days))
        raise DomainError(
            _("You had this record until %(date)s; you may claim it again from %(until)s.")
            % {"date": timezone.localtime(last).strftime("%Y-%m-%d"), "until": until.strftime("%Y-%m-%d %H:%M")},
            code="cooldown",
            status=409,
        )


def claim_state(pool, user, *, now=None) -> dict:
    """How many claims the user has left today and how many records he may still own (None: unlimited)."""
    now = now or timezone.now()
    out = {"claims_left_today": None, "ownership_left": None}
    if pool.daily_claim_limit is not None:
        out["claims_left_today"] = max(0, pool.daily_claim_limit - claims_today(pool, user, now))
    if pool.ownership_limit is not None:
        out["ownership_left"] = max(0, pool.ownership_limit - owned_count(pool.model, user))
    return out


@transaction.atomic
def claim_record(*, model, pk, user, now=None):
    """A member takes a record from its pool (领取). Exactly one of many simultaneous claimers gets it."""
    now = now or timezone.now()
    if not _usable(user):
        raise PermissionDeniedError()
    _lock_user(user)
    record = model.objects.filter(pk=pk).select_related("pool").first()
    if record is None:
        raise NotFoundError()
    pool = record.pool
    member = pool is not None and pool.is_member(user)
    if not member and not model.objects.visible_to(user, Action.VIEW).filter(pk=record.pk).exists():
        raise NotFoundError()  # not in a pool of his nor visible to him: not even whether it exists
    if pool is None or record.owner_id is not None:  # a member may have seen it in the pool: someone was faster
        raise DomainError(_("This record is not in a public pool (any more)."), code="not_in_pool", status=409)
    if not member:
        raise PermissionDeniedError(
            _("You are not a member of the public pool “%(pool)s”.") % {"pool": pool}, code="not_a_member"
        )
    if not pool.is_active:
        raise DomainError(_("The public pool “%(pool)s” is closed.") % {"pool": pool}, code="pool_inactive", status=409)
    if not can(user, model.object_type, Action.VIEW):
        raise PermissionDeniedError(
            _("Your roles do not let you work with %(things)s.") % {"things": model._meta.verbose_name_plural}
        )
    _check_cooldown(pool, model, [record.pk], user, now)
    _check_daily_limit(pool, user, now)
    _check_ownership_limit(pool, model, user)
    won = model.objects.filter(pk=record.pk, owner__isnull=True, pool_id=pool.pk).update(
        owner=user, owner_since=now, version=F("version") + 1, updated_at=now
    )
    if won != 1:
        raise DomainError(_("Someone else claimed this record a moment ago."), code="already_claimed", status=409)
    ClaimLog.objects.create(
        object_type=model.object_type,
        object_id=record.pk,
        pool=pool,
        user=user,
        actor=user,
        action=ClaimAction.CLAIM,
        at=now,
    )
    record.refresh_from_db()
    history.write(
        instance=record,
        action=HistoryAction.TRANSFER,
        actor=user,
        changes=[{"field": "owner", "label": _owner_label(model), "old": "", "new": str(user)}],
        note=_(CLAIMED_NOTE) % {"pool": pool},
    )
    return record


def claim_lead(*, lead_id, user, now=None):
    from leads.models import Lead

    return claim_record(model=Lead, pk=lead_id, user=user, now=now)


def claim_account(*, account_id, user, now=None):
    from accounts.models import Account

    return claim_record(model=Account, pk=account_id, user=user, now=now)


def may_release(record, user) -> bool:
    """The owner gives his record back; whoever may transfer it may send it back for him."""
    if not _usable(user) or record.owner_id is None:
        return False
    if record.owner_id == user.pk:
        return True
    return type(record).objects.visible_to(user, Action.TRANSFER).filter(pk=record.pk).exists()


@transaction.atomic
def release_record(*, model, pk, user, reason: str, note: str = "", pool=None, now=None):
    """Return a record to its pool (退回) with a reason; the previous owner's cool-down starts now."""
    now = now or timezone.now()
    note = (note or "").strip()
    record = model.objects.select_for_update(of=("self",)).filter(pk=pk).first()
    if record is None or not _usable(user):
        raise NotFoundError()
    if not may_release(record, user):
        if not model.objects.visible_to(user, Action.VIEW).filter(pk=pk).exists():
            raise NotFoundError()
        if record.owner_id is None:
            raise DomainError(_("This record is already in a public pool."), code="not_owned", status=409)
        raise PermissionDeniedError(_("Only the owner, or whoever may transfer the record, may return it."))
    from leads.choices import LeadStatus

    if _is_lead(model) and record.status == LeadStatus.CONVERTED:
        raise DomainError(
            _("This lead has been converted; it no longer goes back to a public pool."), code="converted", status=409
        )
    errors = {}
    if reason not in ReleaseReason.values:
        errors["reason"] = [_("Choose why you return it.")]
    elif reason == ReleaseReason.OTHER and not note:
        errors["note"] = [_("Say why you return it.")]
    if len(note) > 300:
        errors["note"] = [_("Ensure this value is not too long.")]
    target = record.pool
    if target is None:
        target = pool
        if target is None:
            errors["pool_id"] = [_("This record was never in a pool: choose the pool to return it to.")]
        elif target.object_type != model.object_type or not (target.is_member(user) or target.is_admin(user)):
            errors["pool_id"] = [_(INVALID_CHOICE)]
    elif pool is not None and pool.pk != target.pk:
        errors["pool_id"] = [_("A record goes back to its own pool, “%(pool)s”.") % {"pool": target}]
    if errors:
        raise ValidationError(errors)
    if not target.is_active:
        raise DomainError(
            _("The public pool “%(pool)s” is closed.") % {"pool": target}, code="pool_inactive", status=409
        )
    previous = record.owner
    model.objects.filter(pk=record.pk, owner_id=previous.pk).update(
        owner=None,
        owner_since=None,
        pool=target,
        pool_entered_at=now,
        version=F("version") + 1,
        updated_at=now,
    )
    ClaimLog.objects.create(
        object_type=model.object_type,
        object_id=record.pk,
        pool=target,
        user=previous,
        actor=user,
        action=ClaimAction.RELEASE,
        at=now,
        reason=reason,
        note=note,
    )
    record.refresh_from_db()
    text = _(RETURNED_NOTE) % {
        "pool": target,
        "reason": ReleaseReason(reason).label,
    }
    if note:
        text = f"{text} — {note}"
    history.write(
        instance=record,
        action=HistoryAction.TRANSFER,
        actor=user,
        changes=[{"field": "owner", "label": _owner_label(model), "old": str(previous), "new": ""}],
        note=text,
    )
    return record


def release_lead(*, lead_id, user, reason, note="", pool=None, now=None):
    from leads.models import Lead

    return release_record(model=Lead, pk=lead_id, user=user, reason=reason, note=note, pool=pool, now=now)


def release_account(*, account_id, user, reason, note="", pool=None, now=None):
    from accounts.models import Account

    return release_record(model=Account, pk=account_id, user=user, reason=reason, note=note, pool=pool, now=now)


def may_lock(record, user) -> bool:
    """Locking keeps a record out of every recycling rule that exempts locked records, so it is a manager's
    or a pool administrator's call: the pool's administrators, or whoever may transfer the record — but not
    its owner on his own account, who could otherwise lock away what he does not follow up."""
    if not _usable(user):
        return False
    if is_pool_superadmin(user):
        return True
    model = type(record)
    pool = record.pool if record.pool_id else None
    # an owned record keeps its pool: its administrators lock only what they may see
    administers = pool is not None and pool.is_admin(user)
    if administers and (
        record.owner_id is None or model.objects.visible_to(user, Action.VIEW).filter(pk=record.pk).exists()
    ):
        return True
    if record.owner_id == user.pk:
        return False
    return model.objects.visible_to(user, Action.TRANSFER).filter(pk=record.pk).exists()


@transaction.atomic
def set_locked(*, model, pk, user, locked: bool, now=None):
    """Lock a lead or an account against recycling (锁定), or unlock it; recorded in its history."""
    record = model.objects.select_for_update(of=("self",)).filter(pk=pk).first()
    if record is None or not _usable(user):
        raise NotFoundError()
    if not may_lock(record, user):
        if not model.objects.visible_to(user, Action.VIEW).filter(pk=pk).exists():
            raise NotFoundError()
        raise PermissionDeniedError(
            _("Only a pool administrator, or a manager who may transfer the record, may lock or unlock it.")
        )
    if record.is_locked == locked:
        return record
    before = {"is_locked": history.display_value(record, "is_locked")}
    model.objects.filter(pk=record.pk).update(
        is_locked=locked, version=F("version") + 1, updated_at=now or timezone.now()
    )
    record.refresh_from_db()
    after = {"is_locked": history.display_value(record, "is_locked")}
    labels = {"is_locked": model._meta.get_field("is_locked").verbose_name}
    history.write(
        instance=record,
        action=HistoryAction.UPDATE,
        actor=user,
        changes=history.changes_between(before, after, labels),
        note=_(LOCKED_NOTE if locked else UNLOCKED_NOTE),
    )
    return record


@transaction.atomic
def assign_from_pool(*, pool: Pool, ids: Iterable[int], user, member, now=None) -> int:
    """A pool administrator hands records waiting in the pool to a member; all of them or none."""
    now = now or timezone.now()
    if not pool.is_admin(user):
        raise PermissionDeniedError(_("Only the pool's administrators may assign its records."))
    try:
        ids = list(dict.fromkeys(int(i) for i in ids))
    except (TypeError, ValueError):
        ids = None
    if ids is None or any(not 0 < i < 2**63 for i in ids):
        raise ValidationError({"ids": [_("Select the records to assign from the list.")]})
    if not ids:
        raise ValidationError({"ids": [_("Select the records to assign first.")]})
    if len(ids) > MAX_ASSIGN:
        raise ValidationError({"ids": [_("Assign at most %(n)d records at a time.") % {"n": MAX_ASSIGN}]})
    if member is None or not member.is_active:
        raise ValidationError({"user_id": [_("Choose an active user.")]})
    if not pool.is_member(member):
        raise DomainError(
            _("%(user)s is not a member of the public pool “%(pool)s”.") % {"user": member, "pool": pool},
            code="not_a_member",
            status=422,
            fields={"user_id": [_("Choose a member of the pool.")]},
        )
    if not pool.is_active:
        raise DomainError(_("The public pool “%(pool)s” is closed.") % {"pool": pool}, code="pool_inactive", status=409)
    model = pool.model
    _lock_user(member)
    if member.pk == user.pk:  # an administrator taking records himself is held to the members' limits
        _check_cooldown(pool, model, ids, user, now)
        _check_daily_limit(pool, user, now, adding=len(ids))
    _check_ownership_limit(pool, model, member, adding=len(ids))
    moved = model.objects.filter(pk__in=ids, owner__isnull=True, pool=pool).update(
        owner=member, owner_since=now, version=F("version") + 1, updated_at=now
    )
    if moved != len(ids):
        raise DomainError(
            _("%(n)d of the chosen records are no longer in the pool; nothing was assigned.") % {"n": len(ids) - moved},
            code="not_in_pool",
            status=409,
        )
    records = list(model.objects.filter(pk__in=ids))
    note = _(ASSIGNED_NOTE) % {"pool": pool}
    label = _owner_label(model)
    ChangeLog.objects.bulk_create(
        [
            ChangeLog(
                object_type=model.object_type,
                object_id=r.pk,
                object_repr=str(r)[:300],
                action=HistoryAction.TRANSFER,
                actor=user,
                at=now,
                changes=[{"field": "owner", "label": label, "old": "", "new": str(member)}],
                note=note,
            )
            for r in records
        ]
    )
    ClaimLog.objects.bulk_create(
        [
            ClaimLog(
                object_type=model.object_type,
                object_id=r.pk,
                pool=pool,
                user=member,
                actor=user,
                action=ClaimAction.ASSIGN,
                at=now,
            )
            for r in records
        ]
    )
    if member.pk != user.pk:
        single = records[0] if len(records) == 1 else None
        notify(
            users=[member],
            kind=NotificationKind.ASSIGNED,
            title=ASSIGNED_TITLE % {"user": user, "count": len(records), "pool": pool},
            body=", ".join(str(r) for r in records[:10]),
            url=single.get_absolute_url() if single else reverse(f"{model._meta.app_label}:list"),
        )
    return len(records)


# --- the recycling sweep ----------------------------------------------------------------------------


def _opportunities():
    from opportunities.models import Opportunity

    return Opportunity.objects


def scope_q(pool: Pool, rule: RecyclingRule, model, *, by_ids: bool = False) -> Q:
    """Owned records the rule may recycle at all: governed by the pool, not exempt, matching its conditions.

    `by_ids`: for statements over a list of ids. The pool is then compared through an expression no index
    serves, so that SQLite looks the ids up by primary key instead of scanning the pool's (pool,
    owner_since) index for every chunk (it prefers that index even for ten ids, having no statistics)."""
    from core.conditions import to_q
    from opportunities.choices import OpportunityStatus

    governed = Q(Exact(Cast("pool_id", models.BigIntegerField()), pool.pk)) if by_ids else Q(pool=pool)
    if pool.recycles_unpooled:
        from org.models import User

        governed |= Q(pool__isnull=True, owner_id__in=User.objects.filter(pool.member_users_q()).values("pk"))
    q = Q(owner__isnull=False) & governed
    if _is_lead(model):
        from leads.choices import LeadStatus

        q &= ~Q(status=LeadStatus.CONVERTED)
    if rule.exempt_locked:
        q &= Q(is_locked=False)
    if rule.exempt_open_opportunity:
        if _is_lead(model):
            q &= ~Exists(
                _opportunities().filter(pk=OuterRef("converted_opportunity_id"), status=OpportunityStatus.OPEN)
            )
        else:
            q &= ~Exists(_opportunities().filter(account_id=OuterRef("pk"), status=OpportunityStatus.OPEN))
    return q & to_q(rule.conditions or {"all": []}, model.object_type)


def _inactive_since_q(rule: RecyclingRule, cutoff: datetime.datetime, *, strict: bool = False) -> Q:
    """The rule's 'last activity' lies before `cutoff`; ownership starts the clock for every kind.

    Owned records without `owner_since` count from their creation; `strict` leaves that fallback out (the
    sweep fills `owner_since` in first) so the database can range-scan the (pool, owner_since) index.
    """
    from accounts.choices import AccountStatus
    from opportunities.choices import OpportunityStatus

    q = Q(owner_since__lt=cutoff)
    if not strict:
        q |= Q(owner_since__isnull=True, created_at__lt=cutoff)
    if rule.kind == RuleKind.NO_FOLLOWUP:
        q &= Q(last_followup_at__isnull=True) | Q(last_followup_at__lt=cutoff)
    elif rule.kind == RuleKind.NO_OPPORTUNITY:
        q &= ~Exists(_opportunities().filter(account_id=OuterRef("pk"), created_at__gte=cutoff))
    elif rule.kind == RuleKind.NOT_WON:
        q &= ~Q(status=AccountStatus.CUSTOMER) & ~Exists(
            _opportunities().filter(account_id=OuterRef("pk"), status=OpportunityStatus.WON)
        )
    # NOT_CONVERTED: converted leads are out of scope_q altogether, so ownership age is all that is left.
    return q


def due_parts(rule: RecyclingRule, model, *, now, calendar: WorkCalendar | None = None, strict=False) -> list[Q]:
    """Records the rule finds due at `now`, one Q per distinct N: accounts of an overridden grade use theirs."""
    calendar = calendar or WorkCalendar()
    days = rule.distinct_days() if not _is_lead(model) else {None: rule.days}
    overridden = [g for g in days if g]
    parts = []
    for grade, n in days.items():
        part = _inactive_since_q(rule, calendar.cutoff(n, rule.day_count, now=now), strict=strict)
        if grade:
            part &= Q(grade=grade)
        elif overridden:
            part &= ~Q(grade__in=overridden)
        parts.append(part)
    return parts


def due_q(rule: RecyclingRule, model, *, now, calendar: WorkCalendar | None = None) -> Q:
    return functools.reduce(operator.or_, due_parts(rule, model, now=now, calendar=calendar))


def due_queryset(pool: Pool, rule: RecyclingRule, *, now, calendar: WorkCalendar | None = None):
    model = pool.model
    return model.objects.filter(scope_q(pool, rule, model)).filter(due_q(rule, model, now=now, calendar=calendar))


def _insert_select(target, qs, columns: dict) -> int:
    """INSERT INTO target (columns) SELECT … from `qs`: one statement, however many rows."""
    aliases = {f"x_{name}": expression for name, expression in columns.items()}
    try:
        sql, params = qs.order_by().annotate(**aliases).values(*aliases).query.sql_with_params()
    except EmptyResultSet:  # Django knows no row can match (a condition's value no column holds)
        return 0
    qn = connection.ops.quote_name
    names = ", ".join(qn(target._meta.get_field(name).column) for name in columns)
    picks = ", ".join(qn(alias) for alias in aliases)
    with connection.cursor() as cursor:
        # Only quoted identifiers and Django's own compiled SELECT are interpolated; values stay parameters.
        statement = f"INSERT INTO {qn(target._meta.db_table)} ({names}) SELECT {picks} FROM ({sql}) sweep"  # noqa: S608
        cursor.execute(statement, params)
        return cursor.rowcount


def _record_repr(model):
    if _is_lead(model):
        return Left(
            models.Case(
                models.When(contact_name="", then=F("company")),
                default=Concat(F("company"), Value(" · "), F("contact_name"), output_field=models.CharField()),
                output_field=models.CharField(),
            ),
            300,
        )
    return Left(F("name"), 300)


class _SweepRace(Exception):
    """The history rows and the update saw different records: roll back and sweep again."""


def _is_serialization_failure(error: Exception) -> bool:
    cause = error.__cause__
    return getattr(cause, "sqlstate", None) in ("40001", "40P01")


# Due records recycled per transaction. The sweep's statements stay set-based, a chunk at a time, so a
# backlog (a new rule over years of untouched leads: ~20 s for a million on the bench machine) holds the
# database's write lock for about a second at a time instead of all at once, and saves made meanwhile
# wait that long at most, not the whole sweep (SQLite's busy timeout is 20 s).
SWEEP_CHUNK = 10_000


def _fill_owner_since(pool: Pool, rule: RecyclingRule) -> None:
    """Owned records without `owner_since` count from their creation: written once, so that the due
    records can then be read off the (pool, owner_since) index (`strict` due parts)."""
    model = pool.model
    model.objects.filter(scope_q(pool, rule, model), owner_since__isnull=True).update(owner_since=F("created_at"))


def _due_records(pool: Pool, rule: RecyclingRule, now, calendar: WorkCalendar):
    model = pool.model
    due = functools.reduce(operator.or_, due_parts(rule, model, now=now, calendar=calendar, strict=True))
    return model.objects.filter(scope_q(pool, rule, model)).filter(due).order_by()


def _due_ids(pool: Pool, rule: RecyclingRule, now, calendar: WorkCalendar) -> list[int]:
    """In id order: a chunk then holds neighbours, which share table pages."""
    return sorted(_due_records(pool, rule, now, calendar).values_list("pk", flat=True))


def _ids_q(ids: list[int]) -> Q:
    """`pk IN ids` with the ids as one parameter (a JSON array on SQLite, an array on PostgreSQL): the ORM
    would prepare each of 10,000 values for each of a chunk's statements, which cost as much as the
    statements themselves (measured: 0.8 s of 1.8 s for 84,000 ids)."""
    if connection.vendor == "sqlite":
        return Q(pk__in=RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)]))
    return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [list(ids)]))


def _sweep(pool: Pool, rule: RecyclingRule, now, calendar: WorkCalendar, ids: list[int] | None = None) -> int:
    """Recycle what the rule finds due, or those of `ids` it still finds due (a record followed up since
    the ids were read is left alone): per distinct N three statements (history rows, pool log rows, the
    update). Without ids the records are read straight off the (pool, owner_since) index, quicker when
    they fit in one chunk (1 % of a million: ~0.5 s against ~0.7 s by ids on the bench machine)."""
    model = pool.model
    records = model.objects.all() if ids is None else model.objects.filter(_ids_q(ids))
    scope = scope_q(pool, rule, model, by_ids=ids is not None)
    return sum(
        _sweep_part(pool, rule, records.filter(scope).filter(part), now)
        for part in due_parts(rule, model, now=now, calendar=calendar, strict=True)
    )


def _sweep_part(pool: Pool, rule: RecyclingRule, qs, now) -> int:
    model = qs.model
    at = Value(now, output_field=models.DateTimeField())
    no_user = Cast(Value(None), models.BigIntegerField())
    text = Value("", output_field=models.CharField())
    note = _(RECYCLED_NOTE) % {"rule": rule, "pool": pool}
    old_owner = Coalesce(NullIf(F("owner__name"), text), F("owner__username"), output_field=models.CharField())
    logged = _insert_select(
        ChangeLog,
        qs,
        {
            "object_type": Value(model.object_type, output_field=models.CharField()),
            "object_id": F("pk"),
            "object_repr": _record_repr(model),
            "action": Value(HistoryAction.TRANSFER.value, output_field=models.CharField()),
            "actor": no_user,
            "at": at,
            "changes": JSONArray(
                JSONObject(
                    field=Value("owner", output_field=models.CharField()),
                    label=Value(_owner_label(model), output_field=models.CharField()),
                    old=old_owner,
                    new=text,
                )
            ),
            "note": Value(note[:500], output_field=models.CharField()),
        },
    )
    if not logged:
        return 0
    _insert_select(
        ClaimLog,
        qs,
        {
            "object_type": Value(model.object_type, output_field=models.CharField()),
            "object_id": F("pk"),
            "pool": Value(pool.pk, output_field=models.BigIntegerField()),
            "user": F("owner_id"),
            "actor": no_user,
            "action": Value(ClaimAction.RECYCLE.value, output_field=models.CharField()),
            "at": at,
            "reason": text,
            "note": Value(str(rule)[:300], output_field=models.CharField()),
            "rule": Value(rule.pk, output_field=models.BigIntegerField()),
        },
    )
    # Records of the pool already point at it; naming the column anyway would rewrite its four indexes.
    home = {"pool": pool} if pool.recycles_unpooled else {}
    moved = qs.update(
        owner=None, owner_since=None, pool_entered_at=now, version=F("version") + 1, updated_at=now, **home
    )
    if moved != logged:
        raise _SweepRace()
    return moved


def _sweep_transaction(work: Callable[[], int]) -> int:
    """`work` in a transaction of its own. On PostgreSQL its statements share one snapshot (REPEATABLE
    READ), so history and update cover the same rows; a concurrent change makes it start again."""
    for attempt in range(5):
        outermost = not connection.in_atomic_block
        try:
            with transaction.atomic():
                if outermost and connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return work()
        except (_SweepRace, OperationalError) as error:
            if isinstance(error, OperationalError) and not _is_serialization_failure(error):
                raise
            if not outermost or attempt == 4:
                raise
            log.info("the recycling sweep met a concurrent change; sweeping the chunk again")
    return 0  # pragma: no cover


def recycle_rule(*, rule: RecyclingRule, now=None, calendar: WorkCalendar | None = None) -> int:
    """Run one rule: what is due in one pass if it fits in a chunk, else its ids read first and recycled
    `SWEEP_CHUNK` at a time, each chunk in its own transaction (in a caller's transaction they share it)."""
    now = now or timezone.now()
    calendar = calendar or WorkCalendar()
    pool = rule.pool
    _sweep_transaction(lambda: _fill_owner_since(pool, rule) or 0)
    if len(_due_records(pool, rule, now, calendar).values_list("pk", flat=True)[: SWEEP_CHUNK + 1]) <= SWEEP_CHUNK:
        return _sweep_transaction(functools.partial(_sweep, pool, rule, now, calendar))
    ids = _due_ids(pool, rule, now, calendar)
    return sum(
        _sweep_transaction(functools.partial(_sweep, pool, rule, now, calendar, ids[i : i + SWEEP_CHUNK]))
        for i in range(0, len(ids), SWEEP_CHUNK)
    )


SWEEP_CACHE_KIB = 8000


@contextlib.contextmanager
def _small_page_cache():
    """SQLite: the sweep writes each page it touches once, so a big page cache only costs fresh memory
    for every dirty page until the commit; a small one passes them on to the log as it goes and reuses
    its buffers. Measured on the bench machine, 1 % of a million leads due: ~3 s with the app's 200 MB
    cache, ~0.8 s with 8 MB (docs/benchmarks.md, 2026-12-03). The connection's own size comes back after."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size=-{SWEEP_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size={previous}")


def recycle_pool(*, pool: Pool, now=None, calendar: WorkCalendar | None = None) -> int:
    if not pool.is_active:
        return 0
    now = now or timezone.now()
    calendar = calendar or WorkCalendar()
    total = 0
    with _small_page_cache():
        for rule in pool.rules.filter(is_active=True).select_related("pool").order_by("id"):
            total += recycle_rule(rule=rule, now=now, calendar=calendar)
    return total


def recycle_due_records(*, now=None, pool_ids=None) -> dict[int, int]:
    """The sweep over every active pool (or the given ones): {pool id: records recycled}."""
    now = now or timezone.now()
    calendar = WorkCalendar()
    pools = Pool.objects.filter(is_active=True)
    if pool_ids is not None:
        pools = pools.filter(pk__in=list(pool_ids))
    return {pool.pk: recycle_pool(pool=pool, now=now, calendar=calendar) for pool in pools.order_by("id")}


def recycle_now(*, pool: Pool, user, now=None) -> int:
    """A pool administrator runs the pool's rules on demand (a chunk per transaction, as the schedule does)."""
    if not pool.is_admin(user):
        raise PermissionDeniedError(_("Only the pool's administrators may run its rules."))
    return recycle_pool(pool=pool, now=now)


# --- what is due soon: the rep's list and the reminders ---------------------------------------------


@dataclass
class DueItem:
    object_type: str
    object_id: int
    title: str
    owner_id: int
    pool: Pool
    rule: RecyclingRule
    due_date: datetime.date

    @property
    def url(self) -> str:
        app = "leads" if self.object_type == PoolObjectType.LEAD else "accounts"
        return reverse(f"{app}:detail", args=[self.object_id])


def _due_dates(pool, rule, qs, *, calendar, today, cache) -> Iterable[tuple[dict, datetime.date]]:
    model = pool.model
    fields = ["pk", "owner_id", "owner_since", "created_at", "last_followup_at"]
    fields += ["company", "contact_name"] if _is_lead(model) else ["name", "grade"]
    if rule.kind == RuleKind.NO_OPPORTUNITY:
        qs = qs.annotate(
            last_opportunity=Subquery(
                _opportunities().filter(account_id=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
            )
        )
        fields.append("last_opportunity")
    for row in qs.values(*fields).iterator(chunk_size=2000):
        start = row["owner_since"] or row["created_at"]
        activity = start
        if rule.kind == RuleKind.NO_FOLLOWUP and row["last_followup_at"]:
            activity = max(start, row["last_followup_at"])
        elif rule.kind == RuleKind.NO_OPPORTUNITY and row.get("last_opportunity"):
            activity = max(start, row["last_opportunity"])
        n = rule.days_for(row.get("grade"))
        key = (timezone.localdate(activity), n, rule.day_count)
        due = cache.get(key)
        if due is None:
            due = cache[key] = calendar.due_date(activity, n, rule.day_count)
        yield row, max(due, today)


def due_items(*, pools, horizon_days: int, now=None, owner=None, calendar: WorkCalendar | None = None):
    """Records that the pools' rules recycle within `horizon_days`, each with its earliest recycling day."""
    now = now or timezone.now()
    calendar = calendar or WorkCalendar()
    today = timezone.localdate(now)
    later = now + datetime.timedelta(days=horizon_days)
    found: dict[tuple[str, int], DueItem] = {}
    cache: dict = {}
    for pool in pools:
        model = pool.model
        for rule in pool.rules.filter(is_active=True).order_by("id"):
            rule.pool = pool
            qs = due_queryset(pool, rule, now=later, calendar=calendar)
            if owner is not None:
                qs = qs.filter(owner=owner)
            for row, due in _due_dates(pool, rule, qs, calendar=calendar, today=today, cache=cache):
                key = (model.object_type, row["pk"])
                if key in found and found[key].due_date <= due:
                    continue
                if _is_lead(model):
                    title = row["company"] if not row["contact_name"] else f"{row['company']} · {row['contact_name']}"
                else:
                    title = row["name"]
                found[key] = DueItem(model.object_type, row["pk"], title, row["owner_id"], pool, rule, due)
    return sorted(found.values(), key=lambda i: (i.due_date, i.title, i.object_id))


def due_for_user(*, user, within_days: int = 7, now=None) -> list[DueItem]:
    """The user's own records that go back to a pool within `within_days` days."""
    if not _usable(user):
        return []
    pools = Pool.objects.filter(is_active=True, rules__is_active=True).distinct().order_by("id")
    return due_items(pools=pools, horizon_days=within_days, now=now, owner=user)


def next_recycling(record, *, now=None) -> DueItem | None:
    """When one owned record goes back to its pool, if any rule will take it within a year."""
    if record.owner_id is None:
        return None
    model = type(record)
    now = now or timezone.now()
    pools = Pool.objects.filter(is_active=True, rules__is_active=True, object_type=model.object_type)
    pools = pools.filter(pk=record.pool_id) if record.pool_id else pools.filter(recycles_unpooled=True)
    calendar = WorkCalendar()
    items = []
    for pool in pools.distinct().order_by("id"):
        for rule in pool.rules.filter(is_active=True).order_by("id"):
            rule.pool = pool
            qs = due_queryset(pool, rule, now=now + datetime.timedelta(days=366), calendar=calendar)
            for _row, due in _due_dates(
                pool, rule, qs.filter(pk=record.pk), calendar=calendar, today=timezone.localdate(now), cache={}
            ):
                items.append(DueItem(model.object_type, record.pk, str(record), record.owner_id, pool, rule, due))
    return min(items, key=lambda i: i.due_date) if items else None


def send_recycling_reminders(*, now=None) -> int:
    """Tell owners (and, if the pool says so, their managers) which records go back soon; once per due date."""
    now = now or timezone.now()
    calendar = WorkCalendar()
    sent = 0
    pools = Pool.objects.filter(is_active=True, reminder_days__gt=0, rules__is_active=True).distinct().order_by("id")
    for pool_id in pools.values_list("pk", flat=True):
        with transaction.atomic():
            pool = Pool.objects.select_for_update().get(pk=pool_id)  # one reminder run per pool at a time
            sent += _remind_pool(pool, now=now, calendar=calendar)
    return sent


def _remind_pool(pool: Pool, *, now, calendar) -> int:
    from org.models import User

    items = due_items(pools=[pool], horizon_days=pool.reminder_days, now=now, calendar=calendar)
    if not items:
        return 0
    today = timezone.localdate(now)
    known = set(
        RecyclingReminder.objects.filter(pool=pool, due_date__gte=today).values_list(
            "object_type", "object_id", "owner_id", "due_date"
        )
    )
    fresh = [i for i in items if (i.object_type, i.object_id, i.owner_id, i.due_date) not in known]
    if not fresh:
        return 0
    RecyclingReminder.objects.bulk_create(
        [
            RecyclingReminder(
                object_type=i.object_type, object_id=i.object_id, owner_id=i.owner_id, due_date=i.due_date, pool=pool
            )
            for i in fresh
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    groups: dict[tuple[int, datetime.date], list[DueItem]] = defaultdict(list)
    for item in fresh:
        groups[(item.owner_id, item.due_date)].append(item)
    owners = User.objects.select_related("manager").in_bulk({owner_id for owner_id, _day in groups})
    due_url = reverse("pools:due")
    sent = 0
    for (owner_id, day), group in groups.items():
        owner = owners.get(owner_id)
        if owner is None:
            continue
        values = {"count": len(group), "pool": pool, "date": day.isoformat(), "record": group[0].title}
        if len(group) == 1:
            title = _(REMINDER_TITLE) % values
            url = group[0].url
        else:
            title = REMINDER_TITLE_MANY % values
            url = due_url
        body = _(REMINDER_BODY) % {"records": ", ".join(i.title for i in group[:10]) + ("…" if len(group) > 10 else "")}
        sent += notify(users=[owner], kind=NotificationKind.RECYCLE_REMINDER, title=title, body=body, url=url)
        if pool.remind_manager and owner.manager_id and owner.manager_id != owner.pk:
            sent += notify(
                users=[owner.manager],
                kind=NotificationKind.RECYCLE_REMINDER,
                title=f"{owner}: {title}",
                body=body,
                url=url if len(group) == 1 else "",
            )
    return sent


# --- the holiday calendar ---------------------------------------------------------------------------

CHINESE_HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def _check_calendar_admin(user) -> None:
    if not is_pool_superadmin(user):
        raise PermissionDeniedError(_("Only administrators may change the holiday calendar."))


@transaction.atomic
def save_holiday(*, user, date: datetime.date, is_workday: bool, name: str = "") -> HolidayCalendar:
    """Add or change one day of the official schedule (a holiday, or a weekend working day)."""
    _check_calendar_admin(user)
    if not isinstance(date, datetime.date):
        raise ValidationError({"date": [_("Enter a valid date (YYYY-MM-DD).")]})
    name = (name or "").strip()
    if len(name) > 60:
        raise ValidationError({"name": [_("Ensure this value is not too long.")]})
    entry, _created = HolidayCalendar.objects.update_or_create(
        date=date,
        defaults={
            "is_workday": bool(is_workday),
            "name": name,
            "source": HolidaySource.MANUAL,
            "updated_at": timezone.now(),
        },
    )
    return entry


@transaction.atomic
def delete_holiday(*, user, date: datetime.date) -> bool:
    _check_calendar_admin(user)
    deleted, _rows = HolidayCalendar.objects.filter(date=date).delete()
    return bool(deleted)


@transaction.atomic
def seed_holidays(*, user=None) -> int:
    """Load the chinesecalendar package's days that the table does not list yet; entries made by hand win."""
    if user is not None:
        _check_calendar_admin(user)
    try:
        from chinese_calendar.constants import holidays, workdays
    except ImportError:
        raise DomainError(
            _("The chinesecalendar package is not installed."), code="package_missing", status=409
        ) from None
    known = set(HolidayCalendar.objects.values_list("date", flat=True))
    rows = []
    for table, is_workday in ((holidays, False), (workdays, True)):
        for day, name in table.items():
            if day in known:
                continue
            label = CHINESE_HOLIDAY_NAMES.get(str(name), str(name)) + ("调休" if is_workday else "")
            rows.append(HolidayCalendar(date=day, is_workday=is_workday, name=label, source=HolidaySource.PACKAGE))
    HolidayCalendar.objects.bulk_create(rows, batch_size=500)
    return len(rows)
