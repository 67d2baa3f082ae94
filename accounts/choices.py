from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Industry(models.TextChoices):
    GOVERNMENT = "government", _("Government & public sector")
    TRANSPORT = "transport", _("Transport & logistics")
    ENERGY = "energy", _("Energy & utilities")
    TELECOM = "telecom", _("Telecom operators")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    HIGH_TECH = "high_tech", _("High tech & electronics")
    HEALTHCARE = "healthcare", _("Healthcare")
    EDUCATION = "education", _("Education")
    FINANCE = "finance", _("Finance & insurance")
    MEDIA = "media", _("Media & entertainment")
    RETAIL = "retail", _("Retail & FMCG")
    CONSTRUCTION = "construction", _("Construction & real estate")
    SOFTWARE = "software", _("Software & internet")
    OTHER = "other", _("Other")


class Grade(models.TextChoices):
    A = "A", _("A – key account")
    B = "B", _("B – important")
    C = "C", _("C – ordinary")
    D = "D", _("D – low value")


class AccountType(models.TextChoices):
    END_CUSTOMER = "end_customer", _("End customer")
    PARTNER = "partner", _("Partner / agent")
    SUPPLIER = "supplier", _("Supplier")
    DESIGN_INSTITUTE = "design_institute", _("Design institute")
    COMPETITOR = "competitor", _("Competitor")


class AccountStatus(models.TextChoices):
    POTENTIAL = "potential", _("Potential")
    CUSTOMER = "customer", _("Customer")
    DORMANT = "dormant", _("Dormant")
    LOST = "lost", pgettext_lazy("account status", "Lost")
