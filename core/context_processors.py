from django.conf import settings

from core.choices import Action, ObjectType
from core.permissions import can


def navigation(request):
    user = getattr(request, "user", None)
    items = []
    if user is not None and user.is_authenticated:
        for object_type, url_name in (
            (ObjectType.ACCOUNT, "accounts:list"),
            (ObjectType.CONTACT, "contacts:list"),
            (ObjectType.LEAD, "leads:list"),
            (ObjectType.OPPORTUNITY, "opportunities:list"),
            (ObjectType.FOLLOWUP, "followups:list"),
        ):
            if can(user, object_type, Action.VIEW):
                items.append({"type": object_type, "label": ObjectType(object_type).label, "url_name": url_name})
    unread = 0
    if user is not None and user.is_authenticated:
        from core.notify import unread_count

        unread = unread_count(user)
    return {"nav_items": items, "tide_name": settings.TIDE_NAME, "unread_notifications": unread}
