from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.choices import ObjectType
from core.models import OwnedModel
from core.validators import normalize_phone, validate_cn_phone

from .choices import Attitude, BuyingRole


class Contact(OwnedModel):
    """A person at an account, with the part he plays in the buying decision."""

    object_type = ObjectType.CONTACT
    shareable = True
    permission_parents = ("account",)
    history_fields = (
        "account",
        "name",
        "title",
        "department",
        "mobile",
        "phone",
        "email",
        "wechat",
        "buying_role",
        "attitude",
        "owner",
        "notes",
    )

    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=60)
    title = models.CharField(_("job title"), max_length=60, blank=True)
    department = models.CharField(_("department"), max_length=60, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True, validators=[validate_cn_phone])
    phone = models.CharField(_("office phone"), max_length=32, blank=True, validators=[validate_cn_phone])
    email = models.EmailField(_("email"), blank=True)
    wechat = models.CharField(_("WeChat"), max_length=60, blank=True)
    buying_role = models.CharField(_("buying role"), max_length=30, choices=BuyingRole.choices, blank=True)
    attitude = models.CharField(_("attitude"), max_length=20, choices=Attitude.choices, default=Attitude.NEUTRAL)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(
                fields=["owner", "-created_at", "-id"],
                name="contact_owner_new_idx",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(fields=["-created_at", "-id"], name="contact_new_idx", condition=Q(deleted_at__isnull=True)),
            models.Index(fields=["mobile"], name="contact_mobile_idx", condition=~Q(mobile="")),
            models.Index(fields=["phone"], name="contact_phone_idx", condition=~Q(phone="")),
            models.Index(fields=["email"], name="contact_email_idx", condition=~Q(email="")),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("contacts:detail", args=[self.pk])

    def clean(self):
        super().clean()
        self.mobile = normalize_phone(self.mobile)
        self.phone = normalize_phone(self.phone)
        self.email = (self.email or "").strip().lower()
