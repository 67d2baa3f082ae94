from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.translation import gettext as _

from core.regions import regions
from core.validators import format_phone

register = template.Library()


def _decimal(value):
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


@register.filter
def money(value):
    """¥1,234.56"""
    amount = _decimal(value)
    if amount is None:
        return ""
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


@register.filter
def wan(value):
    """Totals for managers in 万元: 1,234,567 → 123.46 万元"""
    amount = _decimal(value)
    if amount is None:
        return ""
    amount = (amount / Decimal(10000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return _("%(amount)s 10k CNY") % {"amount": f"{amount:,.2f}"}


@register.filter
def phone(value):
    return format_phone(value)


@register.simple_tag
def region(province="", city="", district=""):
    return regions().label(province, city, district)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def querystring_with(context, **kwargs):
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    params.pop("cursor", None)
    return "?" + params.urlencode()


@register.filter
def history_changes(entry):
    """A history entry's changes in the reader's language (see core.history.shown_changes)."""
    from core.history import shown_changes

    return shown_changes(entry)


@register.filter
def shown_note(entry):
    from core.history import shown_note as shown

    return shown(entry)


@register.filter
def in_reader_language(text):
    """A message stored as its writer saw it (a notification), in the reader's language where it is one
    of the app's own messages."""
    from core.history import in_reader_language as translate

    return translate(str(text or ""))
