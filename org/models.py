"""The group organisation: a department tree of any depth, users with a manager, and roles."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.choices import Action, ObjectType, Scope
from core.models import TideModel
from core.permissions import VisibleQuerySet
from core.validators import validate_cn_phone


class Department(TideModel):
    """A node of the org tree; `path` (ids of the ancestors and itself) makes subtree queries one index range."""

    object_type = ObjectType.DEPARTMENT
    history_fields = ("name", "code", "parent", "head", "sort_order", "is_active")

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(
        _("code"), max_length=50, blank=True, help_text=_("Code in the HR system, unique when set.")
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    head = models.ForeignKey(
        "org.User", verbose_name=_("head"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    path = models.CharField(max_length=255, editable=False, db_index=True, default="")
    depth = models.PositiveSmallIntegerField(editable=False, default=0)
    sort_order = models.IntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=~Q(code=""), name="department_unique_code"),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def scope_q(cls, user, scope):
        if scope >= Scope.ALL:
            return Q()
        if not user.department_id:
            return Q(pk__in=[])
        if scope == Scope.SUBTREE:
            return Q(path__startswith=user.department.path)
        return Q(pk=user.department_id)

    def clean(self):
        super().clean()
        if self.parent_id and self.pk:
            parent = Department.all_objects.get(pk=self.parent_id)
            if parent.pk == self.pk or (self.path and parent.path.startswith(self.path)):
                raise ValidationError(
                    {"parent": _("A department cannot be placed under itself or one of its sub-departments.")}
                )

    def compute_path(self) -> str:
        prefix = self.parent.path if self.parent_id else "/"
        return f"{prefix}{self.pk}/"

    def ancestors(self):
        ids = [int(p) for p in self.path.strip("/").split("/") if p]
        by_id = {d.pk: d for d in Department.all_objects.filter(pk__in=ids)}
        return [by_id[i] for i in ids if i in by_id]

    @property
    def full_name(self) -> str:
        return " / ".join(d.name for d in self.ancestors())


class UserManager(DjangoUserManager.from_queryset(VisibleQuerySet)):
    pass


class User(AbstractUser):
    """A member of the sales organisation. Departed users are deactivated, never deleted."""

    object_type = ObjectType.USER
    shareable = False
    permission_parents: tuple[str, ...] = ()
    history_fields = ("name", "email", "mobile", "title", "department", "manager", "is_active")

    name = models.CharField(_("full name"), max_length=60, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True, validators=[validate_cn_phone])
    title = models.CharField(_("job title"), max_length=60, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    manager = models.ForeignKey(
        "self", verbose_name=_("manager"), null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    roles = models.ManyToManyField("org.Role", verbose_name=_("roles"), blank=True, related_name="users")
    employee_no = models.CharField(_("employee number"), max_length=40, blank=True)
    departed_at = models.DateTimeField(_("departed at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    objects = UserManager()
    all_objects = UserManager()

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                fields=["employee_no"], condition=~Q(employee_no=""), name="user_unique_employee_no"
            ),
        ]

    def __str__(self):
        return self.name or self.username

    @property
    def display_name(self) -> str:
        return self.name or self.username

    @property
    def deleted_at(self):  # users are never soft-deleted; departed users are deactivated
        return None

    @classmethod
    def scope_q(cls, user, scope):
        if scope >= Scope.ALL:
            return Q()
        if scope == Scope.OWN or not user.department_id:
            return Q(pk=user.pk)
        if scope == Scope.DEPARTMENT:
            return Q(department_id=user.department_id)
        return Q(department__path__startswith=user.department.path)

    def clean(self):
        super().clean()
        if self.manager_id and self.pk and self.manager_id == self.pk:
            raise ValidationError({"manager": _("A user cannot be their own manager.")})


class Role(TideModel):
    """A bundle of grants. A user may hold several; the widest grant wins."""

    object_type = ObjectType.ROLE
    history_fields = ("name", "code", "description", "is_active")

    name = models.CharField(_("name"), max_length=60, unique=True)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self):
        return self.name

    @classmethod
    def scope_q(cls, user, scope):
        return Q()  # roles are configuration: whoever may view roles sees all of them


class RolePermission(models.Model):
    """Per object type: which actions the role allows and over which data scope."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="permissions")
    object_type = models.CharField(_("object type"), max_length=20, choices=ObjectType.choices)
    actions = models.JSONField(_("actions"), default=list)
    scope = models.PositiveSmallIntegerField(_("data scope"), choices=Scope.choices, default=Scope.OWN)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["role", "object_type"], name="rolepermission_unique_type")]
        ordering = ["object_type"]

    def clean(self):
        valid = set(Action.values)
        bad = [a for a in self.actions or [] if a not in valid]
        if bad:
            raise ValidationError({"actions": _("Unknown action: %(actions)s") % {"actions": ", ".join(map(str, bad))}})
