"""Shared building blocks: the base record (history, version, soft delete), history entries,
sharing, saved views, API tokens and idempotency records."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .choices import HistoryAction, ObjectType, ShareAccess
from .permissions import VisibleQuerySet, users_in_scope_q


class LiveManager(models.Manager.from_queryset(VisibleQuerySet)):
    """Hides soft-deleted records; the recycle bin uses `all_objects`."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class AllManager(models.Manager.from_queryset(VisibleQuerySet)):
    pass


class TideModel(models.Model):
    """A business record: versioned for optimistic locking, soft-deletable, with history."""

    object_type: str = ""
    shareable = False
    permission_parents: tuple[str, ...] = ()
    # Fields whose changes are written to history (and shown in the timeline).
    history_fields: tuple[str, ...] = ()

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_index=False,  # never queried by; an index would only slow every insert
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_index=False,
    )

    objects = LiveManager()
    all_objects = AllManager()

    class Meta:
        abstract = True
        base_manager_name = "all_objects"

    @classmethod
    def scope_q(cls, user, scope):
        q = users_in_scope_q(user, scope, "owner_id")
        return Q() if q is None else q

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def get_object_type_display(self) -> str:
        return ObjectType(self.object_type).label


class OwnedModel(TideModel):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        abstract = True


class ChangeLog(models.Model):
    """One history entry: who did what to which record, with field-level old and new values."""

    object_type = models.CharField(_("object type"), max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField(_("object id"))
    object_repr = models.CharField(_("record"), max_length=300)
    action = models.CharField(_("action"), max_length=20, choices=HistoryAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("time"), default=timezone.now)
    changes = models.JSONField(_("changes"), default=list, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    # The note is a user's own words (a transfer's reason), shown as written, never read as one of the app's
    # messages in the reader's language. A database default: set-based writers (the sweep) leave it out.
    note_is_own_words = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-at"], name="changelog_object_idx")]
        verbose_name = _("history entry")
        verbose_name_plural = _("history")

    def __str__(self):
        return f"{self.get_action_display()} {self.object_repr}"


class RecordShare(models.Model):
    """A record shared with a user, e.g. a member of an opportunity's project team."""

    object_type = models.CharField(_("object type"), max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField(_("object id"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("member"), on_delete=models.CASCADE, related_name="shares"
    )
    access = models.CharField(_("access"), max_length=10, choices=ShareAccess.choices, default=ShareAccess.VIEW)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["object_type", "object_id", "user"], name="recordshare_unique_member")
        ]
        indexes = [models.Index(fields=["user", "object_type", "access"], name="recordshare_user_idx")]
        verbose_name = _("team member")
        verbose_name_plural = _("team members")


class SavedView(models.Model):
    """A named set of list filters and sort order, private to its owner or shared with everyone."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    name = models.CharField(_("name"), max_length=60)
    query = models.CharField(_("filters"), max_length=1000, blank=True)
    is_shared = models.BooleanField(_("shared with everyone"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "object_type", "name"], name="savedview_unique_name")]


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the Open API; only its SHA-256 is stored, the secret is shown once."""

    PREFIX = "tide_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")

    def __str__(self):
        return f"{self.name} ({self.PREFIX}{self.key_id}_…)"

    @classmethod
    def issue(cls, *, user, name: str) -> tuple[ApiToken, str]:
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        raw = f"{cls.PREFIX}{key_id}_{secret}"
        token = cls.objects.create(user=user, name=name, key_id=key_id, key_hash=hash_token(raw))
        return token, raw

    @classmethod
    def authenticate(cls, raw: str):
        if not raw or not raw.startswith(cls.PREFIX) or "\x00" in raw:
            return None
        key_id = raw[len(cls.PREFIX) :].split("_", 1)[0]
        token = cls.objects.select_related("user").filter(key_id=key_id, revoked_at__isnull=True).first()
        if token is None or not secrets.compare_digest(token.key_hash, hash_token(raw)):
            return None
        now = timezone.now()
        if token.expires_at and token.expires_at <= now:
            return None
        if not token.user.is_active:
            return None
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token


class IdempotencyRecord(models.Model):
    """The stored answer to a create made with an Idempotency-Key, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_key")]


class Notification(models.Model):
    """An in-app message to one user: a lead assigned to him, a record about to be recycled…"""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    body = models.CharField(_("message"), max_length=1000, blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="notification_inbox_idx")]
        verbose_name = _("notification")

    def __str__(self):
        return self.title
