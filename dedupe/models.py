"""Duplicate rules per object, the extra blocking keys that find abbreviations, and merge records."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.choices import ObjectType

from .choices import DEDUPE_OBJECTS, MergePick, RuleAction, RuleKind

OBJECT_CHOICES = [(t.value, t.label) for t in DEDUPE_OBJECTS]


class DuplicateRule(models.Model):
    """One configured rule: which evidence counts as a duplicate for an object and what a hit does.

    Rows override choices.DEFAULT_RULES; `conditions` (a core.conditions set) narrows the existing
    records the rule compares with, e.g. only leads that are not invalid."""

    history_type = "duplicate_rule"  # the type its settings history is written under

    object_type = models.CharField(_("object"), max_length=20, choices=OBJECT_CHOICES)
    kind = models.CharField(_("rule"), max_length=20, choices=RuleKind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    action = models.CharField(_("on a hit"), max_length=10, choices=RuleAction.choices, default=RuleAction.WARN)
    threshold = models.PositiveSmallIntegerField(
        _("similarity threshold"),
        default=85,
        validators=[MinValueValidator(50), MaxValueValidator(100)],
        help_text=_("Name rules: the lowest similarity (50–100) that counts as a hit."),
    )
    conditions = models.JSONField(_("compare only with records where"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["object_type", "kind"]
        constraints = [models.UniqueConstraint(fields=["object_type", "kind"], name="duplicaterule_unique_kind")]
        verbose_name = _("duplicate rule")
        verbose_name_plural = _("duplicate rules")

    def __str__(self):
        return f"{ObjectType(self.object_type).label}: {self.get_kind_display()}"


class NameKey(models.Model):
    """Extra blocking keys of a lead's or an account's name, so an abbreviation finds the full name
    with an index lookup: 南方航空 is also filed under 南航, 广州汽车 under 广汽 (region + core).
    The main key, the first two characters of the core, is a range of the record's match_name index."""

    object_type = models.CharField(max_length=20, choices=OBJECT_CHOICES)
    object_id = models.BigIntegerField()
    key = models.CharField(max_length=4)

    class Meta:
        indexes = [
            models.Index(fields=["key", "object_type"], name="namekey_key_idx"),
            models.Index(fields=["object_type", "object_id"], name="namekey_object_idx"),
        ]


class MergeRecord(models.Model):
    """Two records merged into one: who, when, which survived, which values were taken from the loser."""

    object_type = models.CharField(_("object"), max_length=20, choices=OBJECT_CHOICES)
    survivor_id = models.BigIntegerField(_("surviving record"))
    loser_id = models.BigIntegerField(_("merged record"))
    survivor_repr = models.CharField(_("surviving record"), max_length=300)
    loser_repr = models.CharField(_("merged record"), max_length=300)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("merged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("merged at"), default=timezone.now)
    # {field: "survivor" | "loser"} for every field whose values differed
    picks = models.JSONField(_("field choices"), default=dict, blank=True)
    # [{"field", "label", "survivor", "loser", "kept"}]: the values side by side, as shown when merging
    fields = models.JSONField(_("fields"), default=list, blank=True)
    # {"followups.followup": 3, "contacts.contact": 1, "history": 5, …}: what moved from the loser to the survivor
    moved = models.JSONField(_("moved"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "survivor_id"], name="mergerecord_survivor_idx"),
            models.Index(fields=["object_type", "loser_id"], name="mergerecord_loser_idx"),
            models.Index(fields=["-at", "-id"], name="mergerecord_new_idx"),
        ]
        verbose_name = _("merge")
        verbose_name_plural = _("merges")

    def __str__(self):
        return f"{self.loser_repr} → {self.survivor_repr}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("dedupe:merge_detail", args=[self.pk])

    def pick_of(self, field: str) -> str:
        return self.picks.get(field, MergePick.SURVIVOR)

    def moved_display(self) -> list[tuple[str, int]]:
        """What moved, named in the reader's language."""
        from .actions import moved_label

        return [(moved_label(key), count) for key, count in self.moved.items()]

    def fields_display(self) -> list[dict]:
        """The field rows with each field's label in the reader's language (the stored one if it is gone)."""
        from .actions import merge_fields

        labels = {f.key: f.label for f in merge_fields(self.object_type)}
        return [row | {"label": str(labels.get(row.get("field"), row.get("label", "")))} for row in self.fields]
