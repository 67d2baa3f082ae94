"""Public pools (公海): leads or accounts that nobody owns, which members claim from.

A record's `pool` is its home pool: it stays set while a member owns the record, so the pool's
recycling rules can send the record back when the owner does nothing with it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import (
    POOL_HISTORY_TYPE,
    RULE_KINDS_BY_TYPE,
    ClaimAction,
    DayCount,
    HolidaySource,
    PoolObjectType,
    RuleKind,
)

MAX_DAYS = 3650
MAX_LIMIT = 100_000


def department_ids_of(user) -> list[int]:
    """The user's department and every department above it (membership of a department includes its subtree)."""
    department = getattr(user, "department", None) if getattr(user, "department_id", None) else None
    if department is None:
        return []
    return [int(p) for p in department.path.strip("/").split("/") if p]


def is_pool_superadmin(user) -> bool:
    """Superusers and holders of the built-in "admin" role create pools and administer all of them."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    cached = getattr(user, "_tide_pool_superadmin", None)
    if cached is None:
        from org.permissions import is_admin

        cached = user._tide_pool_superadmin = is_admin(user)
    return cached


class PoolQuerySet(models.QuerySet):
    def member_of(self, user):
        """Pools `user` belongs to: named directly, or through his department or one above it."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        q = Q(member_users=user)
        ids = department_ids_of(user)
        if ids:
            q |= Q(member_departments__in=ids)
        return self.filter(pk__in=Pool.objects.filter(q).values("pk"))

    def administered_by(self, user):
        if is_pool_superadmin(user):
            return self
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        return self.filter(admins=user)

    def for_user(self, user):
        """Pools a user may open: those he belongs to or administers."""
        if is_pool_superadmin(user):
            return self
        return self.filter(
            Q(pk__in=self.member_of(user).values("pk")) | Q(pk__in=self.administered_by(user).values("pk"))
        )


class Pool(models.Model):
    history_type = POOL_HISTORY_TYPE  # its settings history (`object_type` is the kind of records it holds)
    history_also = ("pools.RecyclingRule",)  # whose changes that history records too
    # The settings an administrator sets: what creating and changing a pool accept, and what its history records
    # (core.history reads them; members and administrators are recorded beside them).
    history_fields = (
        "name",
        "object_type",
        "description",
        "is_active",
        "daily_claim_limit",
        "ownership_limit",
        "cooldown_days",
        "reminder_days",
        "remind_manager",
        "recycles_unpooled",
    )
    member_fields = ("member_departments", "member_users", "admins")

    name = models.CharField(_("name"), max_length=60, unique=True)
    object_type = models.CharField(_("object type"), max_length=20, choices=PoolObjectType.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    member_departments = models.ManyToManyField(
        "org.Department",
        verbose_name=_("member departments"),
        blank=True,
        related_name="+",
        help_text=_("Everyone in these departments and their sub-departments may claim."),
    )
    member_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("member users"), blank=True, related_name="pool_memberships"
    )
    admins = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("pool administrators"),
        blank=True,
        related_name="administered_pools",
        help_text=_("They change the pool's settings and rules and assign its records to members."),
    )
    daily_claim_limit = models.PositiveIntegerField(
        _("claims per user per day"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_LIMIT)],
        help_text=_("Empty: no limit."),
    )
    ownership_limit = models.PositiveIntegerField(
        _("records a user may own at once"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_LIMIT)],
        help_text=_("Counts every record of this kind the user owns, not only those from this pool. Empty: no limit."),
    )
    cooldown_days = models.PositiveIntegerField(
        _("cool-down (days)"),
        default=0,
        validators=[MaxValueValidator(MAX_DAYS)],
        help_text=_("Days before the previous owner may claim a record he returned or lost to recycling."),
    )
    reminder_days = models.PositiveIntegerField(
        _("remind days before recycling"),
        default=3,
        validators=[MaxValueValidator(365)],
        help_text=_("0: no reminders."),
    )
    remind_manager = models.BooleanField(_("also remind the owner's manager"), default=False)
    recycles_unpooled = models.BooleanField(
        _("also recycle members' records that are in no pool"),
        default=False,
        help_text=_("The rules then also apply to records owned by members that were never in a pool."),
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = PoolQuerySet.as_manager()

    class Meta:
        ordering = ["object_type", "name"]
        verbose_name = _("public pool")
        verbose_name_plural = _("public pools")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("pools:detail", args=[self.pk])

    @property
    def model(self):
        """The record model this pool holds."""
        if self.object_type == PoolObjectType.ACCOUNT:
            from accounts.models import Account

            return Account
        from leads.models import Lead

        return Lead

    def member_users_q(self) -> Q:
        """Q over users: the pool's members (named, or in a member department's subtree)."""
        q = Q(pk__in=self.member_users.values("pk"))
        for path in self.member_departments.values_list("path", flat=True):
            if path:
                q |= Q(department__path__startswith=path)
        return q

    def members(self):
        from org.models import User

        return User.objects.filter(self.member_users_q(), is_active=True).select_related("department")

    def is_member(self, user) -> bool:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        return Pool.objects.member_of(user).filter(pk=self.pk).exists()

    def is_admin(self, user) -> bool:
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        return is_pool_superadmin(user) or self.admins.filter(pk=user.pk).exists()

    def open_records(self):
        """Records waiting in the pool: nobody owns them."""
        return self.model.objects.filter(pool=self, owner__isnull=True)


class RecyclingRule(models.Model):
    """When an owned record goes back to its pool. Stored as data and evaluated set-based by the sweep."""

    # What creating and changing a rule accept, and what the pool's history records of it.
    history_fields = (
        "name",
        "kind",
        "days",
        "grade_days",
        "day_count",
        "exempt_locked",
        "exempt_open_opportunity",
        "conditions",
        "is_active",
    )

    pool = models.ForeignKey(Pool, verbose_name=_("public pool"), on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("recycle when"), max_length=20, choices=RuleKind.choices)
    days = models.PositiveIntegerField(
        _("days"), validators=[MinValueValidator(1), MaxValueValidator(MAX_DAYS)], help_text=_("N in “for N days”.")
    )
    grade_days = models.JSONField(
        _("days by account grade"),
        default=dict,
        blank=True,
        help_text=_('Overrides of N per account grade, e.g. {"A": 60, "B": 30}.'),
    )
    day_count = models.CharField(_("count"), max_length=10, choices=DayCount.choices, default=DayCount.CALENDAR)
    exempt_locked = models.BooleanField(_("never recycle locked records"), default=True)
    exempt_open_opportunity = models.BooleanField(_("never recycle records with an open opportunity"), default=True)
    conditions = models.JSONField(
        _("only records matching"),
        default=dict,
        blank=True,
        help_text=_("A condition set; empty: every record of the pool."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["pool", "id"]
        verbose_name = _("recycling rule")
        verbose_name_plural = _("recycling rules")

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        from core import conditions

        errors = {}
        pool = self.pool if self.pool_id else None
        if pool is not None and self.kind and self.kind not in RULE_KINDS_BY_TYPE.get(pool.object_type, ()):
            errors["kind"] = [_("This kind of rule does not apply to this pool's records.")]
        grade_days = self.grade_days or {}
        if not isinstance(grade_days, dict):
            errors["grade_days"] = [_('Give the days per grade as an object, e.g. {"A": 60}.')]
        elif grade_days:
            from accounts.choices import Grade

            if pool is not None and pool.object_type != PoolObjectType.ACCOUNT:
                errors["grade_days"] = [_("Only accounts have grades.")]
            else:
                clean = {}
                for grade, days in grade_days.items():
                    if grade not in Grade.values:
                        errors.setdefault("grade_days", []).append(
                            _("“%(grade)s” is not an account grade.") % {"grade": grade}
                        )
                    elif isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
                        errors.setdefault("grade_days", []).append(
                            _("Days for grade %(grade)s must be a whole number from 1 to %(max)d.")
                            % {"grade": grade, "max": MAX_DAYS}
                        )
                    else:
                        clean[grade] = days
                if "grade_days" not in errors:
                    self.grade_days = dict(sorted(clean.items()))
        if pool is not None:
            try:
                self.conditions = conditions.validate(self.conditions, pool.object_type)
            except ValidationError as error:
                errors["conditions"] = error.messages
        if errors:
            raise ValidationError(errors)

    def days_for(self, grade: str | None) -> int:
        return int((self.grade_days or {}).get(grade or "", self.days))

    def distinct_days(self) -> dict[str | None, int]:
        """N per grade override, and under None the N of every other record."""
        out: dict[str | None, int] = {g: int(n) for g, n in (self.grade_days or {}).items()}
        out[None] = self.days
        return out


class ClaimLog(models.Model):
    """Who took a record from, or gave it back to, a pool and when: daily limits and cool-downs read it."""

    object_type = models.CharField(_("object type"), max_length=20, choices=PoolObjectType.choices)
    object_id = models.BigIntegerField(_("object id"))
    pool = models.ForeignKey(
        Pool, verbose_name=_("public pool"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        help_text=_("The owner who took the record, or who had it before it went back."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    action = models.CharField(_("action"), max_length=10, choices=ClaimAction.choices)
    at = models.DateTimeField(_("time"), default=timezone.now)
    reason = models.CharField(_("reason"), max_length=20, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    rule = models.ForeignKey(
        RecyclingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # claims today by one user from one pool (daily limit)
            models.Index(fields=["user", "pool", "action", "at"], name="claimlog_user_idx"),
            # the previous owners of one record (cool-down, the record's pool story)
            models.Index(fields=["object_type", "object_id", "user", "at"], name="claimlog_record_idx"),
        ]
        verbose_name = _("pool log entry")
        verbose_name_plural = _("pool log")


class RecyclingReminder(models.Model):
    """One reminder sent to an owner about one record and one recycling date, so it is never sent twice."""

    object_type = models.CharField(max_length=20, choices=PoolObjectType.choices)
    object_id = models.BigIntegerField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    due_date = models.DateField()
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id", "owner", "due_date"], name="recyclingreminder_unique"
            )
        ]


class HolidayCalendar(models.Model):
    """An exception to Monday-to-Friday: a public holiday, or a weekend working day (调休).

    Seeded from the chinesecalendar package; administrators add next year's official schedule when the
    State Council publishes it. Dates not listed follow the weekday rule.
    """

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=60, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=HolidaySource.choices, default=HolidaySource.MANUAL)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday calendar entry")
        verbose_name_plural = _("holiday calendar")

    def __str__(self):
        return f"{self.date} {self.name}"
