from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.choices import ObjectType
from core.models import OwnedModel
from core.validators import validate_plausible_moment

from .choices import FollowUpType

CONTENT_MAX = 10000


class FollowUp(OwnedModel):
    """A follow-up record (跟进记录) on an account, contact, lead or opportunity."""

    object_type = ObjectType.FOLLOWUP
    permission_parents = ("account", "contact", "lead", "opportunity")
    history_fields = ("kind", "occurred_at", "content", "next_step", "next_follow_up_on", "owner")
    # Each link is indexed together with the time (see Meta.indexes), so the plain FK indexes are off.
    RELATED_FIELDS = ("account", "contact", "lead", "opportunity")

    kind = models.CharField(_("type"), max_length=20, choices=FollowUpType.choices, default=FollowUpType.CALL)
    account = models.ForeignKey(
        "accounts.Account",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="followups",
        db_index=False,
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="followups",
        db_index=False,
    )
    lead = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("lead"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="followups",
        db_index=False,
    )
    opportunity = models.ForeignKey(
        "opportunities.Opportunity",
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="followups",
        db_index=False,
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now, validators=[validate_plausible_moment])
    # The length bounds the page's field (and its validation) and, through full_clean, every other way in.
    content = models.TextField(_("what was said"), max_length=CONTENT_MAX, validators=[MaxLengthValidator(CONTENT_MAX)])
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_follow_up_on = models.DateField(_("next follow-up date"), null=True, blank=True)

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [
            models.Index(fields=["account", "-occurred_at"], name="followup_account_idx"),
            models.Index(fields=["contact", "-occurred_at"], name="followup_contact_idx"),
            models.Index(fields=["lead", "-occurred_at"], name="followup_lead_idx"),
            models.Index(fields=["opportunity", "-occurred_at"], name="followup_opp_idx"),
            models.Index(
                fields=["owner", "-created_at", "-id"],
                name="followup_owner_new_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(fields=["-created_at", "-id"], name="followup_new_idx", condition=Q(deleted_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.subject_label}"

    def get_absolute_url(self):
        return reverse("followups:detail", args=[self.pk])

    @property
    def subject(self):
        for field in ("opportunity", "contact", "lead", "account"):
            obj = getattr(self, field)
            if obj is not None:
                return obj
        return None

    @property
    def subject_label(self) -> str:
        subject = self.subject
        return str(subject) if subject is not None else ""

    def clean(self):
        super().clean()
        if not any(getattr(self, f"{f}_id") for f in self.RELATED_FIELDS):
            raise ValidationError(_("A follow-up must be about an account, a contact, a lead or an opportunity."))
        # Keep the account filled in when the subject belongs to one, so the account's 360° view shows it.
        if not self.account_id:
            if self.contact_id:
                self.account_id = self.contact.account_id
            elif self.opportunity_id:
                self.account_id = self.opportunity.account_id
        if (
            self.next_follow_up_on
            and self.occurred_at
            and self.next_follow_up_on < timezone.localdate(self.occurred_at)
        ):
            raise ValidationError({"next_follow_up_on": _("The next follow-up cannot be before this one.")})
