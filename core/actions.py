"""Generic state changes shared by every domain's actions.py.

Each function runs in one transaction, checks the permission point, validates the record,
bumps its version and writes its history entry; pages, API handlers and jobs all call them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import history, hooks
from .choices import Action, HistoryAction, ShareAccess
from .errors import DomainError, NotFoundError, PermissionDeniedError, VersionConflictError
from .ids import parse_id
from .models import ChangeLog, RecordShare, TideModel
from .permissions import can, forget_grants, owner_assignable

# A team change reads "member (access)": the access shown in the reader's language (core.history).
history.change_value_labels("team", ShareAccess)


def check_version(current, expected_version) -> None:
    """Optimistic locking: the version the client read must still be the record's. A value that is
    not a version at all is the client's mistake, told as a field error rather than a crash."""
    if expected_version in (None, ""):
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise ValidationError({"version": [_("Reload the page: the form's version is not valid.")]}) from None
    if expected != current.version:
        raise VersionConflictError()


def _is_user_model(model) -> bool:
    from django.contrib.auth import get_user_model

    return model is get_user_model()


def check_related_visible(instance, user, fields: Iterable[str]) -> None:
    """A user may link a record only to records he can see (an account he cannot see stays hidden)."""
    errors = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if not isinstance(field, models.ForeignKey):
            continue
        related_model = field.related_model
        value = getattr(instance, field.attname)
        if value is None or _is_user_model(related_model) or not issubclass(related_model, TideModel):
            continue
        if not related_model.objects.visible_to(user, Action.VIEW).filter(pk=value).exists():
            errors[field.name] = [_("Select a valid choice. That choice is not one of the available choices.")]
    if errors:
        raise ValidationError(errors)


def check_owner(instance, user, action: str) -> None:
    if not hasattr(instance, "owner_id"):
        return
    try:
        owner = instance.owner
    except instance._meta.get_field("owner").related_model.DoesNotExist:
        raise ValidationError(
            {"owner": [_("Select a valid choice. That choice is not one of the available choices.")]}
        ) from None
    if owner is None:
        if getattr(instance, "pool_id", None):  # records in a public pool have no owner
            return
        raise ValidationError({"owner": [_("Choose an owner.")]})
    if not owner.is_active:
        raise ValidationError({"owner": [_("%(user)s has left the company and cannot own records.") % {"user": owner}]})
    if not owner_assignable(user, instance.object_type, action, owner):
        raise ValidationError({"owner": [_("You cannot assign records to %(user)s.") % {"user": owner}]})


def _save(instance) -> None:
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise DomainError(
            _("This record conflicts with an existing one (a unique value is already taken)."),
            code="integrity_conflict",
            status=409,
        ) from exc


def get_for(model, user, action: str, pk, *, include_deleted: bool = False, lock: bool = False):
    """Fetch one record through the permission point; absent and forbidden look the same."""
    manager = model.all_objects if include_deleted else model.objects
    qs = manager.visible_to(user, action)
    if lock:
        qs = qs.select_for_update()
    try:
        return qs.get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):
        raise NotFoundError() from None


@transaction.atomic
def create_record(*, model, user, data: dict, after_save: Callable | None = None, options: dict | None = None):
    if not can(user, model.object_type, Action.CREATE):
        raise PermissionDeniedError()
    instance = model(**data)
    if hasattr(instance, "owner_id") and instance.owner_id is None and not data.get("pool"):
        instance.owner = user
    if hasattr(instance, "owner_since") and instance.owner_id:
        instance.owner_since = timezone.now()
    instance.created_by = user
    check_owner(instance, user, Action.CREATE)
    check_related_visible(instance, user, data.keys())
    instance.full_clean(validate_constraints=False)
    hooks.run_save_checks(instance, user=user, options=options, created=True)  # e.g. the duplicate check
    _save(instance)
    extra_changes = after_save(instance) if after_save else []
    changes = history.diff(instance, {}, history.snapshot(instance))
    history.write(
        instance=instance, action=HistoryAction.CREATE, actor=user, changes=changes + list(extra_changes or [])
    )
    return instance


@transaction.atomic
def update_record(
    *,
    instance,
    user,
    data: dict,
    expected_version: int | None = None,
    after_save: Callable | None = None,
    options: dict | None = None,
):
    model = type(instance)
    hooks.run_before_lock(model, pk=instance.pk, user=user, data=data, options=options)
    current = get_for(model, user, Action.EDIT, instance.pk, lock=True)
    check_version(current, expected_version)
    before = history.snapshot(current)
    old_owner_id = getattr(current, "owner_id", None)
    for key, value in data.items():
        setattr(current, key, value)
    if hasattr(current, "owner_id") and current.owner_id != old_owner_id:
        if not model.objects.visible_to(user, Action.TRANSFER).filter(pk=current.pk).exists():
            raise ValidationError({"owner": [_("You may not transfer this record.")]})
        check_owner(current, user, Action.TRANSFER)
        if hasattr(current, "owner_since"):
            current.owner_since = timezone.now()
    check_related_visible(current, user, [k for k in data if k != "owner"])
    current.full_clean(validate_constraints=False)
    hooks.run_save_checks(current, user=user, options=options, created=False)  # e.g. the duplicate check
    current.version += 1
    current.updated_at = timezone.now()
    _save(current)
    extra_changes = after_save(current) if after_save else []
    changes = history.diff(current, before, history.snapshot(current)) + list(extra_changes or [])
    if changes:
        action = HistoryAction.UPDATE
        if len(changes) == 1 and changes[0]["field"] == "owner":
            action = HistoryAction.TRANSFER
        history.write(instance=current, action=action, actor=user, changes=changes)
    return current


@transaction.atomic
def delete_record(*, instance, user, expected_version: int | None = None):
    current = get_for(type(instance), user, Action.DELETE, instance.pk, lock=True)
    check_version(current, expected_version)
    current.deleted_at = timezone.now()
    current.deleted_by = user
    current.version += 1
    current.save(update_fields=["deleted_at", "deleted_by", "version"])
    history.write(instance=current, action=HistoryAction.DELETE, actor=user)
    return current


@transaction.atomic
def restore_record(*, instance, user):
    model = type(instance)
    hooks.run_before_lock(model, pk=instance.pk, user=user, data=None, options={"restoring": True})
    current = get_for(model, user, Action.DELETE, instance.pk, include_deleted=True, lock=True)
    if current.deleted_at is None:
        return current
    current.deleted_at = None
    current.deleted_by = None
    current.version += 1
    current.full_clean(validate_constraints=False)
    hooks.run_save_checks(current, user=user, options={"restoring": True}, created=False)
    _save(current)
    history.write(instance=current, action=HistoryAction.RESTORE, actor=user)
    return current


TRANSFER_NOTE_MAX = 500


@transaction.atomic
def transfer_records(*, model, ids: Iterable[int], user, new_owner, note: str = "", own_words: bool = True) -> int:
    """Hand records to `new_owner` in one set-based update; each gets its history entry."""
    ids = list(dict.fromkeys(int(i) for i in ids))
    if any(parse_id(i) is None for i in ids):  # no record has such an id: as for any record one may not see
        raise NotFoundError()
    if not ids:
        return 0
    if not can(user, model.object_type, Action.TRANSFER):
        raise PermissionDeniedError()
    if new_owner is None or not new_owner.is_active:
        raise ValidationError({"owner": [_("Choose an active user to receive the records.")]})
    if len(note) > TRANSFER_NOTE_MAX:  # the history keeps 500 characters: say so rather than cut the rest
        message = _("At most %(max)d characters (this has %(n)d).") % {"max": TRANSFER_NOTE_MAX, "n": len(note)}
        raise ValidationError({"note": [message]})
    if not owner_assignable(user, model.object_type, Action.TRANSFER, new_owner):
        raise ValidationError({"owner": [_("You cannot assign records to %(user)s.") % {"user": new_owner}]})
    allowed = list(
        model.objects.visible_to(user, Action.TRANSFER)
        .filter(pk__in=ids)
        .select_for_update(of=("self",))
        .select_related("owner")
    )
    if len(allowed) != len(ids):
        raise PermissionDeniedError(
            _("%(count)d of the chosen records may not be transferred by you.") % {"count": len(ids) - len(allowed)}
        )
    moving = [r for r in allowed if r.owner_id != new_owner.pk]
    if not moving:
        return 0
    now = timezone.now()
    label = str(model._meta.get_field("owner").verbose_name)
    entries = [
        ChangeLog(
            object_type=model.object_type,
            object_id=r.pk,
            object_repr=str(r)[:300],
            action=HistoryAction.TRANSFER,
            actor=user,
            at=now,
            changes=[{"field": "owner", "label": label, "old": str(r.owner or ""), "new": str(new_owner)}],
            note=note[:500],
            note_is_own_words=own_words and bool(note),
        )
        for r in moving
    ]
    moving_ids = [r.pk for r in moving]
    for start in range(0, len(moving_ids), 500):
        chunk = moving_ids[start : start + 500]
        extra = {"owner_since": now} if hasattr(model, "owner_since") else {}
        model.objects.filter(pk__in=chunk).update(
            owner=new_owner, version=models.F("version") + 1, updated_at=now, **extra
        )
    ChangeLog.objects.bulk_create(entries, batch_size=1000)
    return len(moving)


@transaction.atomic
def share_record(*, instance, user, member, access: str = ShareAccess.VIEW) -> RecordShare:
    """Add a member to the record's team. Whoever may edit the record may manage its team."""
    current = get_for(type(instance), user, Action.EDIT, instance.pk)
    if not getattr(type(current), "shareable", False):
        raise DomainError(_("This kind of record cannot be shared."), code="not_shareable")
    if member is None or not member.is_active:
        raise ValidationError({"user": [_("Choose an active user.")]})
    if access not in ShareAccess.values:
        raise ValidationError(
            {"access": [_("Select a valid choice. That choice is not one of the available choices.")]}
        )
    share, created = RecordShare.objects.update_or_create(
        object_type=current.object_type,
        object_id=current.pk,
        user=member,
        defaults={"access": access, "created_by": user},
    )
    forget_grants(member)  # the member's cached grants know of no shares of this type yet
    history.write(
        instance=current,
        action=HistoryAction.SHARE,
        actor=user,
        changes=[{"field": "team", "label": _("Team"), "old": "", "new": f"{member} ({ShareAccess(access).label})"}],
    )
    return share


@transaction.atomic
def unshare_record(*, instance, user, member) -> None:
    current = get_for(type(instance), user, Action.EDIT, instance.pk)
    deleted, _count = RecordShare.objects.filter(
        object_type=current.object_type, object_id=current.pk, user=member
    ).delete()
    if deleted:
        history.write(
            instance=current,
            action=HistoryAction.UNSHARE,
            actor=user,
            changes=[{"field": "team", "label": _("Team"), "old": str(member), "new": ""}],
        )


def team_of(instance):
    return RecordShare.objects.filter(object_type=instance.object_type, object_id=instance.pk).select_related(
        "user", "user__department"
    )


def save_view(*, user, object_type: str, name: str, query: str, is_shared: bool = False):
    """A named list filter of `user`'s, replaced when he saves one of the same name. Too long a name or
    filter is refused, not cut: a cut filter would be another view."""
    from .models import SavedView

    name, query = name.replace("\x00", "").strip(), query.replace("\x00", "")
    longest_name = SavedView._meta.get_field("name").max_length
    longest_query = SavedView._meta.get_field("query").max_length
    if not name:
        raise ValidationError({"name": [_("Give the view a name.")]})
    if len(name) > longest_name or len(query) > longest_query:
        raise ValidationError(
            {
                "name": [
                    _("A view's name has at most %(name)d characters and its filters at most %(query)d.")
                    % {"name": longest_name, "query": longest_query}
                ]
            }
        )
    view, _created = SavedView.objects.update_or_create(
        user=user, object_type=object_type, name=name, defaults={"query": query, "is_shared": is_shared}
    )
    return view


def delete_view(*, user, view_id: int | None) -> None:
    """Only his own: a view shared with everyone is deleted by the one who saved it."""
    from .models import SavedView

    SavedView.objects.filter(pk=view_id or 0, user=user).delete()


def issue_api_token(*, user, name: str) -> tuple:
    """A new bearer token for `user`; the raw secret is returned once and only its hash is kept."""
    from .models import ApiToken

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the token a name, e.g. the system that will use it.")]})
    longest = ApiToken._meta.get_field("name").max_length
    if len(name) > longest:
        raise ValidationError(
            {"name": [_("At most %(max)d characters (this has %(n)d).") % {"max": longest, "n": len(name)}]}
        )
    if not user.is_active:
        raise ValidationError({"user": [_("%(user)s has left the company and cannot own records.") % {"user": user}]})
    return ApiToken.issue(user=user, name=name)


def revoke_api_token(*, user, token_id) -> int:
    """Revoke one of the user's own tokens; anything using it stops working at once."""
    from .models import ApiToken

    return ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


def mark_notifications_read(*, user, ids=None) -> int:
    """Mark the user's unread notifications (or only `ids`) as read."""
    from .models import Notification

    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())
