from django.db import models
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded — map the columns")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class RowOutcome(models.TextChoices):
    CREATED = "created", _("Created")
    MERGED = "merged", _("Merged into an existing record")
    SKIPPED = "skipped", _("Skipped as a duplicate")
    REJECTED = "rejected", _("Rejected")


class OnDuplicate(models.TextChoices):
    SKIP = "skip", _("Skip the row")
    MERGE = "merge", _("Fill the existing record's empty fields")
    CREATE = "create", _("Create it anyway")


# Lead fields a column can be mapped to, in the order the mapping form shows them.
LEAD_TARGETS = [
    "company",
    "contact_name",
    "title",
    "phone",
    "email",
    "industry",
    "province",
    "city",
    "district",
    "address",
    "source",
    "campaign",
    "score",
    "owner",
    "notes",
]
