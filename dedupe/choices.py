"""Choices of the duplicate check: which rules exist per object, what a hit does, merge picks."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.choices import ObjectType


class RuleKind(models.TextChoices):
    CREDIT_CODE = "credit_code", _("Unified social credit code")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    NAME = "name", _("Name similarity")
    ACCOUNT_NAME = "account_name", _("Company is already an account")
    CONTACT_NAME = "contact_name", _("Same name in the same account")


class RuleAction(models.TextChoices):
    BLOCK = "block", _("Block")
    WARN = "warn", _("Warn")
    ALLOW = "allow", _("Allow (report only)")


class Decision(models.TextChoices):
    """What creating the checked record would do under the current rules."""

    NONE = "none", _("No duplicates")
    ALLOW = "allow", _("Duplicates reported, creating is allowed")
    WARN = "warn", _("Possible duplicates: confirm to create")
    BLOCK = "block", _("Duplicate: creating is blocked")


class MergePick(models.TextChoices):
    SURVIVOR = "survivor", _("Keep the surviving record's value")
    LOSER = "loser", _("Take the merged record's value")


DEDUPE_OBJECTS = (ObjectType.ACCOUNT, ObjectType.CONTACT, ObjectType.LEAD)

# (kind, default action, default threshold) per object, in the order the settings page shows them.
# Out of the box nothing interrupts a create except a second account with the same credit code: an
# administrator turns warnings and blocks on (Settings → Duplicate rules).
DEFAULT_RULES = {
    ObjectType.ACCOUNT: (
        (RuleKind.CREDIT_CODE, RuleAction.BLOCK, 100),
        (RuleKind.PHONE, RuleAction.ALLOW, 100),
        (RuleKind.NAME, RuleAction.ALLOW, 85),
    ),
    ObjectType.LEAD: (
        (RuleKind.PHONE, RuleAction.ALLOW, 100),
        (RuleKind.EMAIL, RuleAction.ALLOW, 100),
        (RuleKind.NAME, RuleAction.ALLOW, 85),
        (RuleKind.ACCOUNT_NAME, RuleAction.ALLOW, 85),
    ),
    ObjectType.CONTACT: (
        (RuleKind.PHONE, RuleAction.ALLOW, 100),
        (RuleKind.EMAIL, RuleAction.ALLOW, 100),
        (RuleKind.CONTACT_NAME, RuleAction.ALLOW, 100),
    ),
}
SIMILARITY_RULES = (RuleKind.NAME, RuleKind.ACCOUNT_NAME)
# Which records a rule compares with (for the condition set that narrows them).
RULE_TARGET = {RuleKind.ACCOUNT_NAME: ObjectType.ACCOUNT}
# Ties in score: the harder evidence first.
RULE_PRIORITY = {
    RuleKind.CREDIT_CODE: 0,
    RuleKind.PHONE: 1,
    RuleKind.EMAIL: 2,
    RuleKind.CONTACT_NAME: 3,
    RuleKind.NAME: 4,
    RuleKind.ACCOUNT_NAME: 5,
}
ACTION_SEVERITY = {RuleAction.ALLOW: 1, RuleAction.WARN: 2, RuleAction.BLOCK: 3}
