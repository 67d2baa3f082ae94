from django import forms


class AutocompleteSelect(forms.Widget):
    """A search box with a hidden id: lists of 200,000 accounts never go into a <select>."""

    template_name = "core/widgets/autocomplete.html"

    def __init__(self, object_type: str, attrs=None):
        super().__init__(attrs)
        self.object_type = object_type

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        label = ""
        if value not in (None, ""):
            field_model = getattr(self, "model", None)
            if field_model is not None:
                obj = field_model.all_objects.filter(pk=value).first()
                label = str(obj) if obj else ""
        context["widget"].update({"object_type": self.object_type, "label": label})
        return context


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def format_value(self, value):
        if hasattr(value, "strftime"):
            from django.utils import timezone

            if timezone.is_aware(value):
                value = timezone.localtime(value)
            return value.strftime("%Y-%m-%dT%H:%M")
        return value
