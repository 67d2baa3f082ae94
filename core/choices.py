"""Choices shared by every domain: object types, actions, data scopes, history actions."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ObjectType(models.TextChoices):
    ACCOUNT = "account", _("Account")
    CONTACT = "contact", _("Contact")
    LEAD = "lead", _("Lead")
    OPPORTUNITY = "opportunity", _("Opportunity")
    FOLLOWUP = "followup", _("Follow-up")
    DEPARTMENT = "department", _("Department")
    USER = "user", _("User")
    ROLE = "role", _("Role")


class Action(models.TextChoices):
    VIEW = "view", _("View")
    CREATE = "create", _("Create")
    EDIT = "edit", _("Edit")
    DELETE = "delete", _("Delete")
    EXPORT = "export", _("Export")
    TRANSFER = "transfer", _("Transfer")


class Scope(models.IntegerChoices):
    """Data scope of a grant; a larger number is wider, so the widest grant is max()."""

    OWN = 1, _("Own records")
    DEPARTMENT = 2, _("Own department")
    SUBTREE = 3, _("Own department and below")
    ALL = 4, _("All")


class ShareAccess(models.TextChoices):
    VIEW = "view", _("Can view")
    EDIT = "edit", _("Can edit")


class HistoryAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Changed")
    DELETE = "delete", _("Deleted")
    RESTORE = "restore", _("Restored")
    TRANSFER = "transfer", _("Transferred")
    SHARE = "share", _("Shared")
    UNSHARE = "unshare", _("Unshared")
