"""State changes of the organisation: departments, users, roles, and hand-over of a departing user's records."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import actions as core_actions
from core import history
from core.choices import Action, HistoryAction, ObjectType
from core.errors import PermissionDeniedError
from core.permissions import can, forget_grants, grants_for

from .models import Department, Role, RolePermission, User
from .permissions import ADMIN_ROLE_CODE, is_admin

# Notes, labels and notifications kept as written and shown in the reader's language (core.history).
DEPARTED_NOTE = history.message(gettext_noop("Departed"))
ROLES_LABEL = history.label(gettext_noop("Roles"))
PERMISSIONS_LABEL = history.label(gettext_noop("Permissions"))


def _fix_path(department: Department) -> None:
    """Recompute the path of a department and of its whole subtree in one UPDATE."""
    old = department.path
    new = department.compute_path()
    if old == new:
        return
    depth = new.count("/") - 2
    Department.all_objects.filter(pk=department.pk).update(path=new, depth=depth)
    if old:
        descendants = Department.all_objects.filter(path__startswith=old).exclude(pk=department.pk)
        descendants.update(path=Concat(Value(new), Substr("path", len(old) + 1)))
        for d in Department.all_objects.filter(path__startswith=new).exclude(pk=department.pk):
            Department.all_objects.filter(pk=d.pk).update(depth=d.path.count("/") - 2)
    department.path, department.depth = new, depth


@transaction.atomic
def create_department(*, user, data: dict) -> Department:
    department = core_actions.create_record(
        model=Department, user=user, data=data, after_save=lambda d: _fix_path(d) or []
    )
    return department


@transaction.atomic
def update_department(*, department: Department, user, data: dict, expected_version=None) -> Department:
    return core_actions.update_record(
        instance=department,
        user=user,
        data=data,
        expected_version=expected_version,
        after_save=lambda d: _fix_path(d) or [],
    )


@transaction.atomic
def delete_department(*, department: Department, user, expected_version=None) -> Department:
    if (
        department.members.filter(is_active=True).exists()
        or department.children.filter(deleted_at__isnull=True).exists()
    ):
        raise ValidationError(
            _("Move the active members and sub-departments elsewhere before deleting this department.")
        )
    return core_actions.delete_record(instance=department, user=user, expected_version=expected_version)


def _check_user_scope(actor, target_department, action: str) -> None:
    if not can(actor, ObjectType.USER, action):
        raise PermissionDeniedError()
    if (
        target_department is not None
        and not Department.objects.visible_to(actor, Action.VIEW).filter(pk=target_department.pk).exists()
    ):
        raise ValidationError(
            {"department": [_("Select a valid choice. That choice is not one of the available choices.")]}
        )


# Rights over people and roles: whoever gives them to someone could, through him, give himself anything.
ORG_TYPES = (ObjectType.USER, ObjectType.DEPARTMENT, ObjectType.ROLE)


def _covers(actor, role: Role, object_types=None) -> bool:
    """The actor's own rights include every right `role` gives (on `object_types`, or on everything)."""
    if role.code == ADMIN_ROLE_CODE:  # settings rights (pools, rules, forms) are not in its permission rows
        return False
    grants = grants_for(actor)
    for permission in role.permissions.all():
        if object_types is not None and permission.object_type not in object_types:
            continue
        for action in permission.actions or []:
            scope = grants.scope(permission.object_type, action)
            if scope is None or scope < permission.scope:
                return False
    return True


def may_grant(actor, role: Role, *, with_login: bool = False) -> bool:
    """Whether `actor` may give (or take away) `role`. An HR system's account may give the roles of the
    sales organisation (that is its job), but not the administrator's role nor rights over people and
    roles beyond its own: otherwise whoever may edit users could make himself administrator.
    `with_login`: the actor also sets the password, so will sign in with every right the role gives."""
    return is_admin(actor) or _covers(actor, role, None if with_login else ORG_TYPES)


def may_log_in_as(actor, target: User) -> bool:
    """Whether `actor` may set `target`'s password, and so sign in with his rights: only when every one
    of them is the actor's own as well."""
    if actor.pk == target.pk or is_admin(actor):
        return True
    return not target.is_superuser and all(may_grant(actor, role, with_login=True) for role in target.roles.all())


def _check_roles_change(actor, before, after, *, with_password: bool = False) -> None:
    names = sorted(
        role.name for role in set(before) ^ set(after) if not may_grant(actor, role, with_login=with_password)
    )
    if names:
        raise ValidationError(
            {
                "roles": [
                    _("You may not give or take away the role “%(roles)s”: it grants rights you do not have.")
                    % {"roles": "”, “".join(names)}
                ]
            }
        )


def check_may_set_password(*, actor, target: User) -> None:
    if not may_log_in_as(actor, target):
        raise ValidationError(
            {"password": [_("You may not set the password of a user who holds rights you do not have.")]}
        )


@transaction.atomic
def set_password(*, target: User, user, password: str) -> User:
    current = core_actions.get_for(User, user, Action.EDIT, target.pk, lock=True)
    check_may_set_password(actor=user, target=current)
    current.set_password(password)
    current.save(update_fields=["password"])
    history.write(
        instance=current,
        action=HistoryAction.UPDATE,
        actor=user,
        changes=[{"field": "password", "label": _("password"), "old": "", "new": ""}],
        note=_("Password set by %(user)s.") % {"user": user},
    )
    return current


@transaction.atomic
def create_user(*, user, data: dict, roles=None, password: str | None = None) -> User:
    _check_user_scope(user, data.get("department"), Action.CREATE)
    if roles:
        _check_roles_change(user, [], roles, with_password=bool(password))
    new = User(**data)
    if password:
        new.set_password(password)
    else:
        new.set_unusable_password()
    new.full_clean(exclude=["password"], validate_constraints=False)
    core_actions._save(new)
    if roles is not None:
        new.roles.set(roles)
    history.write(
        instance=new,
        action=HistoryAction.CREATE,
        actor=user,
        changes=history.diff(new, {}, history.snapshot(new)),
    )
    return new


@transaction.atomic
def update_user(*, target: User, user, data: dict, roles=None, expected_version=None) -> User:
    current = core_actions.get_for(User, user, Action.EDIT, target.pk, lock=True)
    core_actions.check_version(current, expected_version)
    if "department" in data:
        _check_user_scope(user, data["department"], Action.EDIT)
    before = history.snapshot(current)
    before_roles = ", ".join(sorted(r.name for r in current.roles.all()))
    for k, v in data.items():
        setattr(current, k, v)
    current.full_clean(exclude=["password"], validate_constraints=False)
    current.version += 1
    core_actions._save(current)
    changes = history.diff(current, before, history.snapshot(current))
    if roles is not None:
        _check_roles_change(user, list(current.roles.all()), roles)
        current.roles.set(roles)
        forget_grants(current)
        after_roles = ", ".join(sorted(r.name for r in roles))
        if after_roles != before_roles:
            changes.append({"field": "roles", "label": _(ROLES_LABEL), "old": before_roles, "new": after_roles})
    if changes:
        history.write(instance=current, action=HistoryAction.UPDATE, actor=user, changes=changes)
    return current


def _owned_models():
    from accounts.models import Account
    from contacts.models import Contact
    from followups.models import FollowUp
    from leads.models import Lead
    from opportunities.models import Opportunity

    return [Account, Contact, Lead, Opportunity, FollowUp]


@transaction.atomic
def hand_over(*, departing: User, new_owner: User, user, note: str = "") -> dict[str, int]:
    """Transfer everything `departing` owns to `new_owner`; returns how many records of each type moved."""
    if new_owner.pk == departing.pk:
        raise ValidationError({"new_owner": [_("Choose someone other than the departing user.")]})
    moved = {}
    own_words = bool(note)  # the user's words, or the app's note below
    note = note or _("Hand-over from %(user)s") % {"user": departing}
    for model in _owned_models():
        ids = list(model.objects.filter(owner=departing).values_list("pk", flat=True))
        moved[model.object_type] = core_actions.transfer_records(
            model=model, ids=ids, user=user, new_owner=new_owner, note=note, own_words=own_words
        )
    return moved


@transaction.atomic
def deactivate_user(*, target: User, user, hand_over_to: User | None = None) -> dict[str, int]:
    """Mark a user as departed (nothing is deleted) and optionally hand his records to a colleague."""
    current = core_actions.get_for(User, user, Action.EDIT, target.pk, lock=True)
    if current.pk == user.pk:
        raise ValidationError(_("You cannot deactivate yourself."))
    moved = hand_over(departing=current, new_owner=hand_over_to, user=user) if hand_over_to else {}
    current.is_active = False
    current.departed_at = timezone.now()
    current.version += 1
    current.save(update_fields=["is_active", "departed_at", "version"])
    from core.models import ApiToken

    ApiToken.objects.filter(user=current, revoked_at__isnull=True).update(revoked_at=timezone.now())
    history.write(
        instance=current,
        action=HistoryAction.UPDATE,
        actor=user,
        changes=[
            {"field": "is_active", "label": str(User._meta.get_field("is_active").verbose_name), "old": "✓", "new": "✗"}
        ],
        note=_(DEPARTED_NOTE),
    )
    return moved


@transaction.atomic
def save_role(
    *, user, data: dict, permissions: dict[str, tuple[list[str], int]], role: Role | None = None, expected_version=None
) -> Role:
    """Create or change a role with its grants: {object_type: (actions, scope)}."""

    def set_permissions(r):
        before = {p.object_type: (sorted(p.actions), p.scope) for p in r.permissions.all()}
        r.permissions.all().delete()
        for object_type, (actions, scope) in permissions.items():
            if actions:
                perm = RolePermission(role=r, object_type=object_type, actions=sorted(set(actions)), scope=scope)
                perm.full_clean(exclude=["role"])
                perm.save()
        after = {t: (sorted(set(a)), s) for t, (a, s) in permissions.items() if a}
        if before == after:
            return []
        return [{"field": "permissions", "label": _(PERMISSIONS_LABEL), "old": str(before), "new": str(after)}]

    if role is None:
        return core_actions.create_record(model=Role, user=user, data=data, after_save=set_permissions)
    return core_actions.update_record(
        instance=role, user=user, data=data, expected_version=expected_version, after_save=set_permissions
    )


@transaction.atomic
def delete_role(*, role: Role, user, expected_version=None) -> Role:
    if role.users.filter(is_active=True).exists():
        raise ValidationError(_("Take this role away from its users before deleting it."))
    return core_actions.delete_record(instance=role, user=user, expected_version=expected_version)
