"""Forms of the pool pages. They only parse input; pools.actions validates and saves (one place for rules)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.choices import Grade
from core.forms import IdMultipleChoiceField
from core.views import FilterForm
from core.widgets import DateInput

from .choices import RULE_KINDS_BY_TYPE, DayCount, PoolObjectType, ReleaseReason, RuleKind
from .models import MAX_DAYS, MAX_LIMIT, Pool


class BootstrapMixin:
    def style(self):
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs.setdefault("class", css)


class PoolForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("name"), max_length=60)
    object_type = forms.ChoiceField(label=_("object type"), choices=PoolObjectType.choices)
    description = forms.CharField(label=_("description"), max_length=300, required=False)
    is_active = forms.BooleanField(label=_("active"), required=False, initial=True)
    daily_claim_limit = forms.IntegerField(
        label=_("claims per user per day"),
        required=False,
        min_value=0,
        max_value=MAX_LIMIT,
        help_text=_("Empty: no limit."),
    )
    ownership_limit = forms.IntegerField(
        label=_("records a user may own at once"),
        required=False,
        min_value=0,
        max_value=MAX_LIMIT,
        help_text=Pool._meta.get_field("ownership_limit").help_text,
    )
    cooldown_days = forms.IntegerField(
        label=_("cool-down (days)"),
        min_value=0,
        max_value=MAX_DAYS,
        initial=0,
        help_text=Pool._meta.get_field("cooldown_days").help_text,
    )
    reminder_days = forms.IntegerField(
        label=_("remind days before recycling"), min_value=0, max_value=365, initial=3, help_text=_("0: no reminders.")
    )
    remind_manager = forms.BooleanField(label=_("also remind the owner's manager"), required=False)
    recycles_unpooled = forms.BooleanField(
        label=_("also recycle members' records that are in no pool"),
        required=False,
        help_text=Pool._meta.get_field("recycles_unpooled").help_text,
    )

    def __init__(self, *args, pool=None, **kwargs):
        if pool is not None and not kwargs.get("data"):
            kwargs["initial"] = {name: getattr(pool, name) for name in self.base_fields}
        super().__init__(*args, **kwargs)
        self.style()


class MembersForm(BootstrapMixin, forms.Form):
    member_departments = IdMultipleChoiceField(
        label=_("member departments"),
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=Pool._meta.get_field("member_departments").help_text,
    )
    member_users = IdMultipleChoiceField(
        label=_("member users"), queryset=None, required=False, widget=forms.SelectMultiple(attrs={"size": 10})
    )
    admins = IdMultipleChoiceField(
        label=_("pool administrators"),
        queryset=None,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=Pool._meta.get_field("admins").help_text,
    )

    def __init__(self, *args, pool=None, **kwargs):
        from org.models import Department, User

        if pool is not None and not kwargs.get("data"):
            kwargs["initial"] = {
                "member_departments": list(pool.member_departments.values_list("pk", flat=True)),
                "member_users": list(pool.member_users.values_list("pk", flat=True)),
                "admins": list(pool.admins.values_list("pk", flat=True)),
            }
        super().__init__(*args, **kwargs)
        self.fields["member_departments"].queryset = Department.objects.order_by("path")
        self.fields["member_departments"].label_from_instance = lambda d: ("— " * d.depth) + d.name
        users = (
            User.objects.filter(is_active=True).select_related("department").order_by("department__path", "username")
        )
        self.fields["member_users"].queryset = users
        self.fields["admins"].queryset = users
        for name in ("member_users", "admins"):
            self.fields[name].label_from_instance = lambda u: f"{u} · {u.department}" if u.department_id else str(u)
        self.style()


class RuleForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_("name"), max_length=100)
    kind = forms.ChoiceField(label=_("recycle when"), choices=RuleKind.choices)
    days = forms.IntegerField(label=_("days"), min_value=1, max_value=MAX_DAYS, help_text=_("N in “for N days”."))
    day_count = forms.ChoiceField(label=_("count"), choices=DayCount.choices, initial=DayCount.CALENDAR)
    exempt_locked = forms.BooleanField(label=_("never recycle locked records"), required=False, initial=True)
    exempt_open_opportunity = forms.BooleanField(
        label=_("never recycle records with an open opportunity"), required=False, initial=True
    )
    is_active = forms.BooleanField(label=_("active"), required=False, initial=True)

    def __init__(self, *args, pool, rule=None, **kwargs):
        if rule is not None and not kwargs.get("data"):
            initial = {name: getattr(rule, name) for name in self.base_fields}
            for grade, days in (rule.grade_days or {}).items():
                initial[f"grade_{grade}"] = days
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.pool = pool
        kinds = RULE_KINDS_BY_TYPE[pool.object_type]
        self.fields["kind"].choices = [(k.value, k.label) for k in kinds]
        if pool.object_type == PoolObjectType.ACCOUNT:
            for grade in Grade:
                self.fields[f"grade_{grade.value}"] = forms.IntegerField(
                    label=_("days for grade %(grade)s") % {"grade": grade.value},
                    required=False,
                    min_value=1,
                    max_value=MAX_DAYS,
                    help_text=_("Empty: the days above."),
                )
        self.order_fields(
            ["name", "kind", "days", "day_count"]
            + [name for name in self.fields if name.startswith("grade_")]
            + ["exempt_locked", "exempt_open_opportunity", "is_active"]
        )
        self.style()

    def grade_fields(self):
        return [self[name] for name in self.fields if name.startswith("grade_")]

    def data_for_action(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("grade_")}
        data["grade_days"] = {
            name.removeprefix("grade_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("grade_") and value is not None
        }
        return data


class ReleaseForm(BootstrapMixin, forms.Form):
    reason = forms.ChoiceField(label=_("reason"), choices=[("", "—")] + list(ReleaseReason.choices))
    note = forms.CharField(label=_("note"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style()


class HolidayForm(BootstrapMixin, forms.Form):
    date = forms.DateField(label=_("date"), widget=DateInput())
    is_workday = forms.TypedChoiceField(
        label=_("kind of day"),
        choices=[("0", _("Day off (holiday)")), ("1", _("Working day (make-up day, 调休)"))],
        coerce=lambda v: v == "1",
    )
    name = forms.CharField(label=_("name"), max_length=60, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.style()


class PoolFilterForm(FilterForm):
    """A pool's search: by the waiting records' names, not by the phones and e-mails members see only
    after claiming."""

    def apply_search(self, qs, query):
        from search.backends import filter_matching_names

        return filter_matching_names(qs, query)
