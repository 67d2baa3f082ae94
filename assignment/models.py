"""Assignment rules, territories, caps and rotation state; qualification facts and levels.

Rules and levels are data: their condition sets are JSON checked by core.conditions when saved.
Round-robin positions live in the database (RotationCursor) so they survive restarts and are
shared by every worker process.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.choices import LeadStatus

from . import choices
from .choices import Distribution, Strategy


class AssignmentRule(models.Model):
    """One ordered rule: when its conditions hold for a new lead, its strategy picks the owner."""

    object_type = choices.RULE_OBJECT_TYPE

    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("users"), through="RuleMember", related_name="+", blank=True
    )
    pool = models.ForeignKey(
        "pools.Pool",
        verbose_name=_("public pool"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assignment_rules",
    )
    max_open_leads = models.PositiveIntegerField(
        _("cap of open leads per user"),
        null=True,
        blank=True,
        help_text=_("Users holding this many open leads are skipped. Empty: no cap from this rule."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self):
        return self.name

    @property
    def cursor_key(self) -> str:
        return f"rule:{self.id}"

    def ordered_members(self) -> list:
        """The rule's users in their fixed order (uses prefetched memberships when present)."""
        return [m.user for m in sorted(self.memberships.all(), key=lambda m: (m.position, m.pk))]


class RuleMember(models.Model):
    rule = models.ForeignKey(AssignmentRule, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["rule", "user"], name="rulemember_unique_user")]


class Territory(models.Model):
    """Provinces, cities or districts served by a team: a department's members or a list of users."""

    object_type = choices.TERRITORY_OBJECT_TYPE

    name = models.CharField(_("name"), max_length=100, unique=True)
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Its active members (and those of its sub-departments) share the leads."),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("users"), through="TerritoryMember", related_name="+", blank=True
    )
    distribution = models.CharField(
        _("sharing"), max_length=20, choices=Distribution.choices, default=Distribution.ROUND_ROBIN
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("territory")
        verbose_name_plural = _("territories")

    def __str__(self):
        return self.name

    @property
    def cursor_key(self) -> str:
        return f"territory:{self.id}"

    def ordered_members(self) -> list:
        return [m.user for m in sorted(self.memberships.all(), key=lambda m: (m.position, m.pk))]

    def codes(self) -> list[str]:
        return sorted(r.code for r in self.regions.all())


class TerritoryMember(models.Model):
    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["territory", "user"], name="territorymember_unique_user")]


class TerritoryRegion(models.Model):
    """One region code of a territory; a code belongs to one territory, so a lookup has one answer."""

    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="regions")
    code = models.CharField(_("region code"), max_length=6, unique=True)

    class Meta:
        ordering = ["code"]


class RotationCursor(models.Model):
    """Where a round robin stands (the user picked last). Locked while a lead is being assigned,
    so concurrent arrivals take turns, and kept in the database so restarts do not reset it."""

    key = models.CharField(max_length=40, unique=True)
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.IntegerField(default=-1)
    turns = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)


class LeadLimit(models.Model):
    """A per-user cap of open leads, applied by every rule (together with the rule's own cap)."""

    object_type = choices.LIMIT_OBJECT_TYPE

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="lead_limit"
    )
    max_open_leads = models.PositiveIntegerField(_("cap of open leads"))

    class Meta:
        ordering = ["user__username"]
        verbose_name = _("lead cap")
        verbose_name_plural = _("lead caps")

    def __str__(self):
        return f"{self.user}: {self.max_open_leads}"


class QualificationFact(models.Model):
    """Something a rep establishes about a lead and ticks on its page (stored in Lead.facts)."""

    object_type = choices.FACT_OBJECT_TYPE

    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Lower-case letters, digits and underscores; conditions refer to it as fact:code."),
    )
    label = models.CharField(_("label"), max_length=100)
    help = models.CharField(_("help text"), max_length=300, blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("qualification fact")
        verbose_name_plural = _("qualification facts")

    def __str__(self):
        return self.label


class QualificationLevel(models.Model):
    """A step of qualification. Levels build on each other: a lead reaches a level when its
    criteria and those of every level before it hold."""

    object_type = choices.LEVEL_OBJECT_TYPE

    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveIntegerField(_("order"), default=0)
    conditions = models.JSONField(_("criteria"), default=dict, blank=True)
    lead_status = models.CharField(
        _("sets lead status"),
        max_length=20,
        blank=True,
        choices=[(s.value, s.label) for s in (LeadStatus.CONTACTED, LeadStatus.QUALIFIED)],
        help_text=_("When a lead reaches this level, an open lead moves on to this status."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("qualification level")
        verbose_name_plural = _("qualification levels")

    def __str__(self):
        return self.name
