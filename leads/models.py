from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.choices import Industry
from core.choices import ObjectType
from core.models import OwnedModel
from core.regions import regions, validate_region
from core.validators import normalize_phone, validate_cn_phone

from .choices import InvalidReason, LeadSource, LeadStatus


class Lead(OwnedModel):
    """A sales lead (线索). No owner means it sits in a public pool."""

    object_type = ObjectType.LEAD
    shareable = True
    history_fields = (
        "company",
        "contact_name",
        "title",
        "phone",
        "email",
        "industry",
        "province_code",
        "city_code",
        "district_code",
        "address",
        "source",
        "status",
        "invalid_reason",
        "invalid_note",
        "owner",
        "notes",
    )

    # The owner and pool foreign keys get no index of their own: every query by owner or pool is served by
    # the composite list indexes below, and each index is paid for on every insert and recycling.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    company = models.CharField(_("company"), max_length=200)
    contact_name = models.CharField(_("contact person"), max_length=60, blank=True)
    title = models.CharField(_("job title"), max_length=60, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, validators=[validate_cn_phone])
    email = models.EmailField(_("email"), blank=True)
    industry = models.CharField(_("industry"), max_length=20, choices=Industry.choices, blank=True)
    province_code = models.CharField(_("province"), max_length=2, blank=True)
    city_code = models.CharField(_("city"), max_length=4, blank=True)
    district_code = models.CharField(_("district"), max_length=6, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=LeadSource.choices, default=LeadSource.OTHER)
    status = models.CharField(_("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    invalid_reason = models.CharField(_("invalid reason"), max_length=20, choices=InvalidReason.choices, blank=True)
    invalid_note = models.CharField(_("invalid note"), max_length=300, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    score = models.IntegerField(_("score"), default=0)
    facts = models.JSONField(
        _("qualification facts"),
        default=dict,
        blank=True,
        help_text=_('What the rep has established, e.g. {"has_project": true}; qualification criteria read these.'),
    )
    # Lead flow: where the lead sits and since when (pools), when it was last followed up (derived).
    pool = models.ForeignKey(
        "pools.Pool",
        verbose_name=_("public pool"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        db_index=False,
    )
    pool_entered_at = models.DateTimeField(_("in the pool since"), null=True, blank=True, editable=False)
    owner_since = models.DateTimeField(_("owned since"), null=True, blank=True, editable=False)
    last_followup_at = models.DateTimeField(_("last follow-up"), null=True, blank=True, editable=False)
    is_locked = models.BooleanField(_("locked"), default=False, help_text=_("Locked leads are never recycled."))
    # Duplicate check keys (derived from company): the normalised core name and its first characters.
    match_name = models.CharField(max_length=200, blank=True, editable=False)
    converted_account = models.ForeignKey(
        "accounts.Account",
        verbose_name=_("converted to account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_leads",
        editable=False,
        db_index=False,
    )
    converted_contact = models.ForeignKey(
        "contacts.Contact",
        verbose_name=_("converted to contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_leads",
        editable=False,
        db_index=False,
    )
    converted_opportunity = models.ForeignKey(
        "opportunities.Opportunity",
        verbose_name=_("converted to opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="source_leads",
        editable=False,
        db_index=False,
    )
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            # The newest-first indexes are ascending and read backwards (SQLite and PostgreSQL both can): new
            # leads then land at their right end, where B-tree pages fill up, instead of at their left end,
            # where every split leaves half-empty pages. An import of a million leads wrote ~7 % less
            # (docs/benchmarks.md, 2026-12-03) and these indexes take ~40 % less space.
            # Owned records only: a record entering a pool (recycling, release) then only leaves these two indexes,
            # and a lead imported straight into a pool never enters them. Unowned records are listed by pool.
            models.Index(
                fields=["owner", "status", "created_at", "id"],
                name="lead_owner_status_new_idx",
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
            ),
            models.Index(
                fields=["owner", "created_at", "id"],
                name="lead_owner_new_idx",
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
            ),
            models.Index(
                fields=["status", "created_at", "id"],
                name="lead_status_new_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(fields=["created_at", "id"], name="lead_new_idx", condition=Q(deleted_at__isnull=True)),
            # No (pool, newest) index over all of a pool's records: nothing lists them that way, and every
            # record imported into a pool paid for one. The sweep and the claim list have their own below.
            # The recycling sweep: a pool's owned records by ownership age.
            models.Index(
                fields=["pool", "owner_since"],
                name="lead_pool_owned_idx",
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
            ),
            # A pool's claim list: its unowned records, newest first.
            models.Index(
                fields=["pool", "created_at", "id"],
                name="lead_pool_open_idx",
                condition=Q(deleted_at__isnull=True, owner__isnull=True),
            ),
            # PostgreSQL: pattern operators, so the blocking bucket (names starting with two characters)
            # is a LIKE 'xx%' range of this index under any collation; SQLite ignores opclasses
            models.Index(
                fields=["match_name"],
                name="lead_match_name_idx",
                condition=~Q(match_name=""),
                opclasses=["text_pattern_ops"],
            ),
            # What a lead became, read from the other side (the history of an account, contact or opportunity
            # shows its lead's; deleting or merging one sets its leads' link): converted leads only.
            models.Index(
                fields=["converted_account"],
                name="lead_conv_account_idx",
                condition=Q(converted_account__isnull=False),
            ),
            models.Index(
                fields=["converted_contact"],
                name="lead_conv_contact_idx",
                condition=Q(converted_contact__isnull=False),
            ),
            models.Index(
                fields=["converted_opportunity"],
                name="lead_conv_opportunity_idx",
                condition=Q(converted_opportunity__isnull=False),
            ),
            models.Index(fields=["phone"], name="lead_phone_idx", condition=~Q(phone="")),
            models.Index(fields=["email"], name="lead_email_idx", condition=~Q(email="")),
        ]

    def __str__(self):
        return self.company if not self.contact_name else f"{self.company} · {self.contact_name}"

    def get_absolute_url(self):
        return reverse("leads:detail", args=[self.pk])

    @property
    def region_label(self) -> str:
        return regions().label(self.province_code, self.city_code, self.district_code)

    def clean(self):
        super().clean()
        self.phone = normalize_phone(self.phone)
        self.email = (self.email or "").strip().lower()
        validate_region(self)
        if self.status == LeadStatus.INVALID and not self.invalid_reason:
            raise ValidationError({"invalid_reason": _("Say why the lead is invalid.")})
        if self.status != LeadStatus.INVALID and self.invalid_reason:
            self.invalid_reason = ""
            self.invalid_note = ""
