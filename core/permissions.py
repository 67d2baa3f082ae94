"""The one permission point.

Every page, API call, search, export and count asks `Model.objects.visible_to(user, action)`.
A user's grants come from his roles: per object type, a set of actions and a data scope;
the widest scope among his roles wins. Records shared with a user (a project team) add to
what he may view or edit; contacts and follow-ups are also visible through the record they
belong to.
"""

from __future__ import annotations

import contextlib
import functools
import operator

from django.db import models
from django.db.models import Q

from .choices import Action, Scope, ShareAccess


class Grants:
    """What one user may do, computed once per request from his roles."""

    def __init__(self, user):
        self.superuser = bool(user.is_superuser)
        self._user_id = user.pk
        self._scopes: dict[tuple[str, str], int] = {}
        self._shared_types: set[str] | None = None
        if self.superuser or not user.pk:
            return
        from org.models import RolePermission

        rows = RolePermission.objects.filter(role__users=user, role__is_active=True).values_list(
            "object_type", "actions", "scope"
        )
        for object_type, actions, scope in rows:
            for action in actions or []:
                key = (object_type, action)
                if scope > self._scopes.get(key, 0):
                    self._scopes[key] = scope

    def scope(self, object_type: str, action: str) -> int | None:
        if self.superuser:
            return Scope.ALL
        return self._scopes.get((str(object_type), str(action)))

    def can(self, object_type: str, action: str) -> bool:
        return self.scope(object_type, action) is not None

    def has_shares(self, object_type: str) -> bool:
        """Has anyone shared a record of this type with the user? Asked once per request.

        Without shares the visibility filter is the owner condition alone, which the owner list indexes answer
        directly; an OR with the shares makes SQLite read the whole table newest first for a rep who owns a
        few old records (0.9 s at a million leads)."""
        if self._shared_types is None:
            from .models import RecordShare

            self._shared_types = set(
                RecordShare.objects.filter(user_id=self._user_id).values_list("object_type", flat=True).distinct()
            )
        return str(object_type) in self._shared_types


def grants_for(user) -> Grants:
    cached = getattr(user, "_tide_grants", None)
    if cached is None:
        cached = Grants(user)
        with contextlib.suppress(AttributeError):  # AnonymousUser: nothing to cache on
            user._tide_grants = cached
    return cached


def forget_grants(user) -> None:
    if hasattr(user, "_tide_grants"):
        del user._tide_grants


def user_is_usable(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def can(user, object_type: str, action: str) -> bool:
    return user_is_usable(user) and grants_for(user).can(object_type, action)


def users_in_scope_q(user, scope: int, field: str = "owner_id") -> Q | None:
    """Q for records whose `field` (a user id) lies within `scope` of `user`; None means everything."""
    from org.models import User

    if scope >= Scope.ALL:
        return None
    department = user.department if user.department_id else None
    if scope == Scope.OWN or department is None:
        return Q(**{field: user.pk})
    if scope == Scope.DEPARTMENT:
        members = User.objects.filter(department_id=department.pk).values("id")
    else:
        members = User.objects.filter(department__path__startswith=department.path).values("id")
    return Q(**{f"{field}__in": members})


def owner_assignable(user, object_type: str, action: str, owner) -> bool:
    """May `user` make `owner` the owner of a record (create into, or transfer to, that user)?"""
    if owner is None:
        return False
    scope = grants_for(user).scope(object_type, action)
    if scope is None:
        return False
    if scope >= Scope.ALL:
        return True
    if scope == Scope.OWN or not user.department_id:
        return owner.pk == user.pk
    if not owner.department_id:
        return False
    if scope == Scope.DEPARTMENT:
        return owner.department_id == user.department_id
    return owner.department.path.startswith(user.department.path)


class VisibleQuerySet(models.QuerySet):
    """QuerySet with the permission point; models declare how scope and parents apply."""

    def visibility_q(self, user, action: str = Action.VIEW) -> Q | None:
        """None: everything; Q(pk__in=[]) style when nothing."""
        clauses = self.visibility_clauses(user, action)
        if clauses is None:
            return None
        return _any_of(clauses) if clauses else NOTHING

    def visibility_clauses(self, user, action: str = Action.VIEW) -> list[Q] | None:
        """The ways a record can be visible (his scope, shares with him, a visible parent), any of which
        suffices: None when everything is, [] when nothing."""
        model = self.model
        grants = grants_for(user)
        scope = grants.scope(model.object_type, action)
        if scope is not None and scope >= Scope.ALL:
            return None
        clauses: list[Q] = []
        if scope is not None:
            clauses.append(model.scope_q(user, scope))
        if (
            action in (Action.VIEW, Action.EDIT)
            and getattr(model, "shareable", False)
            and grants.has_shares(model.object_type)
        ):
            from .models import RecordShare

            access = [ShareAccess.VIEW, ShareAccess.EDIT] if action == Action.VIEW else [ShareAccess.EDIT]
            shared = RecordShare.objects.filter(
                object_type=model.object_type, user_id=user.pk, access__in=access
            ).values("object_id")
            clauses.append(Q(pk__in=shared))
        if action == Action.VIEW:
            for field in getattr(model, "permission_parents", ()):
                parent_model = model._meta.get_field(field).related_model
                parent_q = parent_model.objects.all().visibility_q(user, Action.VIEW)
                if parent_q is None:
                    if grants.can(parent_model.object_type, Action.VIEW):
                        clauses.append(Q(**{f"{field}__isnull": False}))
                elif parent_q != NOTHING:
                    clauses.append(Q(**{f"{field}__in": parent_model.objects.filter(parent_q).values("id")}))
        return clauses

    def _combinator_query(self, *args, **kwargs):
        return _without_clauses(super()._combinator_query(*args, **kwargs))

    def __or__(self, other):
        """Rows added by | need not fall in any visibility clause: the combination is paged as one query."""
        return _without_clauses(super().__or__(other))

    def __xor__(self, other):
        return _without_clauses(super().__xor__(other))

    def visible_to(self, user, action: str = Action.VIEW):
        if not user_is_usable(user):
            return self.none()
        clauses = self.visibility_clauses(user, action)
        if clauses is None:
            return self
        if not clauses:
            return self.none()
        qs = self.filter(_any_of(clauses))
        if len(clauses) > 1:
            # Kept on the query (its clones keep it) for keyset_page: a database orders an OR of, say, "his
            # own" and "shared with him" badly, so a page is read per clause, each along its own index.
            qs.query.visibility_clauses = tuple(clauses)
        return qs


NOTHING = Q(pk__in=[])


def _any_of(clauses: list[Q]) -> Q:
    return functools.reduce(operator.or_, clauses)


def _without_clauses(qs):
    """A copy of `qs` whose query no longer carries visible_to's clauses (see core.keyset)."""
    if "visibility_clauses" in qs.query.__dict__:
        qs = qs._chain()
        del qs.query.visibility_clauses
    return qs
