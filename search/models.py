from django.db import models

from core.choices import ObjectType


class SearchEntry(models.Model):
    """Derived search tokens of one record; SQLite indexes them with FTS5, PostgreSQL with a GIN tsvector."""

    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField()
    tokens = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["object_type", "object_id"], name="searchentry_unique_object")]
