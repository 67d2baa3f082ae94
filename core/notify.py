"""In-app notifications: a row per recipient, written in bulk, read from the bell in the navbar."""

from collections.abc import Iterable

from .models import Notification


def notify(*, users: Iterable, kind: str, title: str, body: str = "", url: str = "") -> int:
    rows = [
        Notification(user=u, kind=kind, title=str(title)[:200], body=str(body)[:1000], url=url[:300])
        for u in {u.pk: u for u in users if u is not None and u.is_active}.values()
    ]
    Notification.objects.bulk_create(rows)
    return len(rows)


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
