from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact
from core.choices import ObjectType
from core.models import OwnedModel

from .choices import OpportunityStatus


class Stage(models.Model):
    """A step of the sales process with its win probability; won/lost stages close the deal."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"), validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    status = models.CharField(
        _("closes as"), max_length=10, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")

    def __str__(self):
        return f"{self.name} ({self.probability}%)"


class Opportunity(OwnedModel):
    """A deal (商机) at an account. Its status follows its stage."""

    object_type = ObjectType.OPPORTUNITY
    shareable = True
    history_fields = (
        "account",
        "name",
        "amount",
        "expected_close_date",
        "stage",
        "status",
        "owner",
        "contact",
        "lost_reason",
        "notes",
    )

    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="opportunities"
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("key contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    name = models.CharField(_("name"), max_length=200)
    amount = models.DecimalField(
        _("amount (CNY)"), max_digits=16, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    expected_close_date = models.DateField(_("expected close date"))
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities")
    status = models.CharField(
        _("status"), max_length=10, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN, editable=False
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    lost_reason = models.CharField(_("lost reason"), max_length=300, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            models.Index(
                fields=["owner", "status", "-created_at", "-id"],
                name="opp_owner_status_new_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(fields=["-created_at", "-id"], name="opp_new_idx", condition=Q(deleted_at__isnull=True)),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("opportunities:detail", args=[self.pk])

    @property
    def weighted_amount(self):
        return (self.amount or 0) * self.stage.probability / 100

    def clean(self):
        super().clean()
        # Unknown ids are already field errors from clean_fields(); look related rows up without assuming them.
        contact_account = (
            Contact.all_objects.filter(pk=self.contact_id).values_list("account_id", flat=True).first()
            if self.contact_id
            else None
        )
        if contact_account is not None and self.account_id and contact_account != self.account_id:
            raise ValidationError({"contact": _("The key contact must work for the opportunity's account.")})
        stage = Stage.objects.filter(pk=self.stage_id).first() if self.stage_id else None
        if stage is not None:
            self.status = stage.status
            if self.status == OpportunityStatus.LOST and not self.lost_reason:
                raise ValidationError({"lost_reason": _("Say why the opportunity was lost.")})
