"""Public web forms: a page anyone can fill in, without logging in, that creates a lead."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.choices import Action, ObjectType
from core.permissions import can
from leads.choices import LeadSource

from .choices import FORM_FIELDS, WEB_FORM_HISTORY_TYPE, SubmissionOutcome


def new_form_key() -> str:
    return secrets.token_urlsafe(16)


class WebForm(models.Model):
    history_type = WEB_FORM_HISTORY_TYPE
    # What an admin edits, and what the form's history records; never the token (`key`), which is a secret.
    history_fields = (
        "name",
        "title",
        "intro",
        "fields",
        "source",
        "campaign",
        "run_as",
        "success_message",
        "rate_limit_per_hour",
        "is_active",
    )

    name = models.CharField(_("name"), max_length=100)
    key = models.CharField(_("form token"), max_length=40, unique=True, default=new_form_key, editable=False)
    title = models.CharField(_("page title"), max_length=100, help_text=_("Shown to the visitor, e.g. 申请试用"))
    intro = models.TextField(_("introduction"), blank=True)
    fields = models.JSONField(
        _("fields"), default=list, help_text=_('Lead fields to ask for, each {"name": …, "required": true|false}.')
    )
    source = models.CharField(_("lead source"), max_length=20, choices=LeadSource.choices, default=LeadSource.WEB_FORM)
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    run_as = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("create leads as"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_(
            "Leads are created by this user; assignment rules decide the owner, otherwise this user owns them."
        ),
    )
    success_message = models.CharField(_("thank-you message"), max_length=300, blank=True)
    rate_limit_per_hour = models.PositiveIntegerField(
        _("submissions per visitor per hour"), default=5, help_text=_("Counted per IP address.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("capture:detail", args=[self.pk])

    def public_url(self):
        return reverse("capture:public", args=[self.key])

    def field_specs(self) -> list[dict]:
        return [f for f in self.fields or [] if f.get("name") in FORM_FIELDS]

    def clean(self):
        super().clean()
        specs = self.fields if isinstance(self.fields, list) else None
        if not specs:
            raise ValidationError({"fields": _("Choose at least one field; the company name is always asked.")})
        names = []
        for spec in specs:
            if not isinstance(spec, dict) or spec.get("name") not in FORM_FIELDS:
                raise ValidationError({"fields": _("Unknown field: %(f)s") % {"f": spec}})
            names.append(spec["name"])
        if "company" not in names:
            self.fields = [{"name": "company", "required": True}, *specs]
        if len(set(names)) != len(names):
            raise ValidationError({"fields": _("Each field may appear once.")})
        if self.run_as_id and not (self.run_as.is_active and can(self.run_as, ObjectType.LEAD, Action.CREATE)):
            raise ValidationError({"run_as": _("This user cannot create leads.")})
        if self.rate_limit_per_hour < 1 or self.rate_limit_per_hour > 1000:
            raise ValidationError({"rate_limit_per_hour": _("Choose between 1 and 1000.")})


class FormSubmission(models.Model):
    """What became of each submission, for the form owner's statistics (no visitor data beyond a hashed IP)."""

    form = models.ForeignKey(WebForm, on_delete=models.CASCADE, related_name="submissions")
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, choices=SubmissionOutcome.choices)
    ip_hash = models.CharField(max_length=64, blank=True)
    lead = models.ForeignKey("leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["form", "-created_at"], name="formsubmission_form_idx")]
