from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.choices import ObjectType
from core.models import OwnedModel
from core.regions import regions, validate_region
from core.validators import normalize_phone, validate_cn_phone, validate_credit_code

from .choices import AccountStatus, AccountType, Grade, Industry


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=30, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")

    def __str__(self):
        return self.name


class Account(OwnedModel):
    """A customer company (客户), possibly part of a group: accounts form a parent/child tree."""

    object_type = ObjectType.ACCOUNT
    shareable = True
    history_fields = (
        "name",
        "short_name",
        "credit_code",
        "industry",
        "grade",
        "account_type",
        "parent",
        "province_code",
        "city_code",
        "district_code",
        "address",
        "owner",
        "status",
        "website",
        "phone",
        "notes",
    )

    name = models.CharField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    credit_code = models.CharField(
        _("unified social credit code"), max_length=18, blank=True, validators=[validate_credit_code]
    )
    industry = models.CharField(_("industry"), max_length=20, choices=Industry.choices, blank=True)
    grade = models.CharField(_("grade"), max_length=1, choices=Grade.choices, blank=True)
    account_type = models.CharField(
        _("type"), max_length=20, choices=AccountType.choices, default=AccountType.END_CUSTOMER
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    province_code = models.CharField(_("province"), max_length=2, blank=True)
    city_code = models.CharField(_("city"), max_length=4, blank=True)
    district_code = models.CharField(_("district"), max_length=6, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, validators=[validate_cn_phone])
    website = models.URLField(_("website"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=AccountStatus.choices, default=AccountStatus.POTENTIAL
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="accounts")
    notes = models.TextField(_("notes"), blank=True)
    # Lead flow: public pool, ownership age, follow-up recency (derived), recycling exemption.
    pool = models.ForeignKey(
        "pools.Pool",
        verbose_name=_("public pool"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    pool_entered_at = models.DateTimeField(_("in the pool since"), null=True, blank=True, editable=False)
    owner_since = models.DateTimeField(_("owned since"), null=True, blank=True, editable=False)
    last_followup_at = models.DateTimeField(_("last follow-up"), null=True, blank=True, editable=False)
    is_locked = models.BooleanField(_("locked"), default=False, help_text=_("Locked accounts are never recycled."))
    # Duplicate check keys (derived from name): the normalised core name and its first characters.
    match_name = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = [
            # Owned records only (see the lead's indexes): unowned ones are listed by pool.
            models.Index(
                fields=["owner", "-created_at", "-id"],
                name="account_owner_new_idx",
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
            ),
            models.Index(fields=["-created_at", "-id"], name="account_new_idx", condition=Q(deleted_at__isnull=True)),
            models.Index(fields=["name"], name="account_name_idx"),
            # No (pool, newest) index over all of a pool's records: nothing lists them that way, and every
            # record imported into a pool paid for one. The sweep and the claim list have their own below.
            # The recycling sweep: a pool's owned records by ownership age.
            models.Index(
                fields=["pool", "owner_since"],
                name="account_pool_owned_idx",
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
            ),
            # A pool's claim list: its unowned records, newest first.
            models.Index(
                fields=["pool", "-created_at", "-id"],
                name="account_pool_open_idx",
                condition=Q(deleted_at__isnull=True, owner__isnull=True),
            ),
            # PostgreSQL: pattern operators, so the blocking bucket (names starting with two characters)
            # is a LIKE 'xx%' range of this index under any collation; SQLite ignores opclasses
            models.Index(
                fields=["match_name"],
                name="account_match_name_idx",
                condition=~Q(match_name=""),
                opclasses=["text_pattern_ops"],
            ),
            models.Index(fields=["phone"], name="account_phone_idx", condition=~Q(phone="")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"],
                condition=Q(deleted_at__isnull=True) & ~Q(credit_code=""),
                name="account_unique_credit_code",
                violation_error_message=_("An account with this unified social credit code already exists."),
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("accounts:detail", args=[self.pk])

    @property
    def region_label(self) -> str:
        return regions().label(self.province_code, self.city_code, self.district_code)

    def clean(self):
        super().clean()
        if self.credit_code:
            self.credit_code = self.credit_code.strip().upper()
        self.phone = normalize_phone(self.phone)
        validate_region(self)
        if self.parent_id:
            if self.pk and self.parent_id == self.pk:
                raise ValidationError({"parent": _("An account cannot be its own parent.")})
            seen = {self.pk}
            node_id = self.parent_id
            while node_id:
                if node_id in seen:
                    raise ValidationError({"parent": _("This parent would make a cycle in the account tree.")})
                seen.add(node_id)
                node_id = Account.all_objects.filter(pk=node_id).values_list("parent_id", flat=True).first()
