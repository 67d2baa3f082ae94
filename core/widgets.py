from django import forms

from .ids import parse_id


class AutocompleteSelect(forms.Widget):
    """A search box with a hidden id: lists of 200,000 accounts never go into a <select>."""

    template_name = "core/widgets/autocomplete.html"

    def __init__(self, object_type: str, attrs=None, *, queryset=None):
        super().__init__(attrs)
        self.object_type = object_type
        self.queryset = queryset  # the records the user may pick (and so may see named)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        label = ""
        pk = parse_id(value)
        if pk is not None and self.queryset is not None:
            obj = self.queryset.filter(pk=pk).first()
            label = str(obj) if obj else ""
        context["widget"].update({"object_type": self.object_type, "label": label})
        return context


class DateInput(forms.DateInput):
    """A browser date field: its value must be YYYY-MM-DD whatever the language (zh-Hans formats dates as
    2027/03/05, which the browser cannot read: the field showed empty and a save cleared the date)."""

    input_type = "date"

    def format_value(self, value):
        if hasattr(value, "strftime"):
            return value.strftime("%Y-%m-%d")
        return value


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def format_value(self, value):
        if hasattr(value, "strftime"):
            from django.utils import timezone

            if timezone.is_aware(value):
                value = timezone.localtime(value)
            return value.strftime("%Y-%m-%dT%H:%M")
        return value
