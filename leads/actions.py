"""State changes of leads; pages, the API and jobs call these and nothing else."""

import datetime

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import actions as core_actions
from core import history
from core.choices import Action, HistoryAction, ObjectType
from core.errors import DomainError, NotFoundError, PermissionDeniedError, validation_error_fields
from core.models import ChangeLog
from core.permissions import can, owner_assignable
from core.validators import normalize_phone, parse_cn_phone

from .choices import LeadStatus
from .models import Lead

# Notes, labels and notifications kept as written and shown in the reader's language (core.history).
CONVERTED_NOTE = history.message(gettext_noop("Converted"))
CONVERTED_FROM_LABEL = history.label(gettext_noop("Converted from lead"))
CONVERTED_FROM_NOTE = history.message(gettext_noop("Converted from the lead “%(lead)s”."))


def _has_explicit_owner(data: dict) -> bool:
    return any(data.get(key) for key in ("owner", "owner_id", "pool", "pool_id"))


@transaction.atomic
def create_lead(*, user, data: dict) -> Lead:
    """Create a lead. One that arrives without an owner or a pool goes through the assignment rules;
    when no rule places it, its creator owns it."""
    lead = core_actions.create_record(model=Lead, user=user, data=data)
    if not _has_explicit_owner(data):
        from assignment.service import assign_new_lead

        assign_new_lead(lead=lead, actor=user)
    return lead


def update_lead(*, lead: Lead, user, data: dict, expected_version=None) -> Lead:
    return core_actions.update_record(instance=lead, user=user, data=data, expected_version=expected_version)


def delete_lead(*, lead: Lead, user, expected_version=None) -> Lead:
    return core_actions.delete_record(instance=lead, user=user, expected_version=expected_version)


def restore_lead(*, lead: Lead, user) -> Lead:
    return core_actions.restore_record(instance=lead, user=user)


def transfer_leads(*, ids, user, new_owner, note="") -> int:
    return core_actions.transfer_records(model=Lead, ids=ids, user=user, new_owner=new_owner, note=note)


def mark_invalid(*, lead: Lead, user, reason: str, note: str = "", expected_version=None) -> Lead:
    """Close a lead as invalid; the reason is required (validated by the model)."""
    from .choices import LeadStatus

    return core_actions.update_record(
        instance=lead,
        user=user,
        data={"status": LeadStatus.INVALID, "invalid_reason": reason, "invalid_note": note},
        expected_version=expected_version,
    )


# --- qualification ----------------------------------------------------------------------------


def lead_qualification(*, lead: Lead) -> dict:
    """The level the lead reaches and every criterion with whether it holds (see assignment.qualification)."""
    from assignment.qualification import assess

    return assess(lead)


@transaction.atomic
def set_lead_facts(*, lead: Lead, user, facts: dict, expected_version=None) -> Lead:
    """Tick or untick qualification facts. Reaching a level that names a status moves an open lead
    on to it (never backwards); each changed fact is written to the history."""
    from assignment.qualification import all_facts, assess, promoted_status

    if not isinstance(facts, dict):
        raise ValidationError({"facts": [_("Send the facts as an object of code: true/false.")]})
    known = {f.code: f for f in all_facts() if f.is_active}
    unknown = sorted(str(code) for code in facts if code not in known)
    if unknown:
        raise ValidationError({"facts": [_("Unknown facts: %(codes)s.") % {"codes": ", ".join(unknown)}]})
    if any(not isinstance(value, bool) for value in facts.values()):
        raise ValidationError({"facts": [_("Each fact is true or false.")]})
    current = core_actions.get_for(Lead, user, Action.EDIT, lead.pk, lock=True)
    core_actions.check_version(current, expected_version)
    before = dict(current.facts or {})
    merged = {**before, **facts}
    changes = [
        {
            "field": f"fact:{code}",
            "label": known[code].label,
            "old": "✓" if before.get(code) else "✗",
            "new": "✓" if value else "✗",
        }
        for code, value in facts.items()
        if bool(before.get(code)) != value
    ]
    if not changes:
        return current
    probe = Lead(**{f.attname: getattr(current, f.attname) for f in Lead._meta.concrete_fields})
    probe.facts = merged
    status = promoted_status(current.status, assess(probe)["level"])
    data = {"facts": merged}
    if status != current.status:
        data["status"] = status
    return core_actions.update_record(instance=current, user=user, data=data, after_save=lambda _lead: changes)


# --- conversion -------------------------------------------------------------------------------

ACCOUNT_FIELDS = {
    "name",
    "short_name",
    "credit_code",
    "industry",
    "grade",
    "account_type",
    "province_code",
    "city_code",
    "district_code",
    "address",
    "phone",
    "website",
    "notes",
    "owner",
    "owner_id",
}
CONTACT_FIELDS = {
    "name",
    "title",
    "department",
    "mobile",
    "phone",
    "email",
    "wechat",
    "buying_role",
    "notes",
    "owner",
    "owner_id",
}
OPPORTUNITY_FIELDS = {"name", "amount", "expected_close_date", "stage", "stage_id", "notes", "owner", "owner_id"}


def _prefixed(prefix: str, error: ValidationError) -> ValidationError:
    """Errors of the account/contact/opportunity part named after it: `contact.name`."""
    if isinstance(error, DomainError):  # a save check's error (a duplicate) keeps its code and candidates
        return error
    return ValidationError(
        {
            (prefix if key == "__all__" else f"{prefix}.{key}"): msgs
            for key, msgs in validation_error_fields(error).items()
        }
    )


def _only(prefix: str, data: dict | None, allowed: set[str]) -> dict:
    data = dict(data or {})
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError({f"{prefix}.{k}": [_("This field cannot be set here.")] for k in unknown})
    return data


def _default_owner(user, object_type: str, lead: Lead):
    """New records go to the lead's owner when the converting user may give them to him."""
    owner = lead.owner if lead.owner_id else None
    if owner is not None and owner.is_active and owner_assignable(user, object_type, Action.CREATE, owner):
        return owner
    return user


def _split_phone(value: str) -> dict:
    number = parse_cn_phone(value) if value else None
    if number is None:
        return {"mobile": value} if value else {}
    kind = phonenumbers.number_type(number)
    if kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return {"mobile": normalize_phone(value)}
    return {"phone": normalize_phone(value)}


def _origin_entry(record, lead: Lead, user, note: str) -> None:
    history.write(
        instance=record,
        action=HistoryAction.UPDATE,
        actor=user,
        changes=[{"field": "source_lead", "label": _(CONVERTED_FROM_LABEL), "old": "", "new": str(lead)}],
        note=note,
    )


def account_candidates(*, lead: Lead, user, limit: int = 5) -> list[dict]:
    """Accounts the duplicate check finds for the lead's company (its name and phone, by the account rules
    an admin keeps), as `dedupe.service.present` shows them to `user`, visible ones first: what the
    convert page offers to convert into instead of a new account."""
    from dedupe import service

    probe = service.Probe.build(ObjectType.ACCOUNT, name=lead.company, phone=lead.phone)
    found = service.present(service.find_duplicates(probe, service.rules_for(ObjectType.ACCOUNT), limit=limit), user)
    return sorted(found, key=lambda c: not c["visible"])


@transaction.atomic
def convert_lead(
    *, lead: Lead, user, account=None, account_data=None, contact_data=None, opportunity_data=None
) -> Lead:
    """Turn a lead into an account (new, or an existing one the user can see), a contact and
    optionally an opportunity, in one step. The lead's follow-ups are linked to the account and
    contact, every record gets a history entry and the lead is marked converted. Whoever may edit
    the lead and create the records may convert it; a converted lead cannot be converted again."""
    from accounts.actions import create_account
    from accounts.models import Account
    from contacts.actions import create_contact
    from followups.models import FollowUp
    from opportunities.actions import create_opportunity
    from opportunities.choices import OpportunityStatus
    from opportunities.models import Stage

    if not Lead.objects.visible_to(user, Action.VIEW).filter(pk=lead.pk).exists():
        raise NotFoundError()
    if not Lead.objects.visible_to(user, Action.EDIT).filter(pk=lead.pk).exists():
        raise PermissionDeniedError(_("You may not convert this lead."))
    current = core_actions.get_for(Lead, user, Action.EDIT, lead.pk, lock=True)
    if current.status == LeadStatus.CONVERTED or current.converted_at is not None:
        raise DomainError(_("This lead has already been converted."), code="lead_already_converted", status=409)
    if current.status == LeadStatus.INVALID:
        raise DomainError(
            _("This lead is marked invalid; reopen it before converting it."), code="lead_invalid", status=409
        )
    if account is not None and account_data:
        raise ValidationError({"account": [_("Choose an existing account or describe a new one, not both.")]})
    needed = [ObjectType.CONTACT] + ([ObjectType.ACCOUNT] if account is None else [])
    if opportunity_data is not None:
        needed.append(ObjectType.OPPORTUNITY)
    for object_type in needed:
        if not can(user, object_type, Action.CREATE):
            raise PermissionDeniedError(
                _("You may not create %(type)s records.") % {"type": ObjectType(object_type).label}
            )
    account_data = _only("account", account_data, ACCOUNT_FIELDS)
    contact_data = _only("contact", contact_data, CONTACT_FIELDS)
    if opportunity_data is not None:  # a part left empty takes the default
        opportunity_data = {
            k: v for k, v in _only("opportunity", opportunity_data, OPPORTUNITY_FIELDS).items() if v is not None
        }
    note = _(CONVERTED_FROM_NOTE) % {"lead": current}

    # the account
    if account is not None:
        account_id = getattr(account, "pk", account)
        account = Account.objects.visible_to(user, Action.VIEW).filter(pk=account_id).first()
        if account is None:
            raise ValidationError(
                {"account": [_("Select a valid choice. That choice is not one of the available choices.")]}
            )
        _origin_entry(account, current, user, note)
    else:
        data = {
            "name": current.company,
            "industry": current.industry,
            "province_code": current.province_code,
            "city_code": current.city_code,
            "district_code": current.district_code,
            "address": current.address,
        }
        data.update(account_data)
        if not data.get("owner") and not data.get("owner_id"):
            data.pop("owner_id", None)
            data["owner"] = _default_owner(user, ObjectType.ACCOUNT, current)
        try:
            account = create_account(user=user, data=data)
        except ValidationError as error:
            raise _prefixed("account", error) from None
        _origin_entry(account, current, user, note)

    # the contact
    data = {"name": current.contact_name, "title": current.title, "email": current.email, **_split_phone(current.phone)}
    data.update(contact_data)
    data["account"] = account
    if not data.get("owner") and not data.get("owner_id"):
        data.pop("owner_id", None)
        data["owner"] = _default_owner(user, ObjectType.CONTACT, current)
    try:
        contact = create_contact(user=user, data=data)
    except ValidationError as error:
        raise _prefixed("contact", error) from None
    _origin_entry(contact, current, user, note)

    # the opportunity, when asked for
    opportunity = None
    if opportunity_data is not None:
        data = {"name": current.company, "amount": 0}
        stages = Stage.objects.filter(is_active=True)
        if "stage_id" in opportunity_data or "stage" in opportunity_data:
            chosen = opportunity_data.pop("stage_id", None) or opportunity_data.pop("stage", None)
            chosen = getattr(chosen, "pk", chosen)
            # a new opportunity starts open: a won or lost stage would skip the sales process altogether
            open_stages = stages.filter(status=OpportunityStatus.OPEN)
            data["stage"] = open_stages.filter(pk=chosen).first() if str(chosen).isdecimal() else None
            if data["stage"] is None:
                raise ValidationError(
                    {
                        "opportunity.stage": [
                            _("Select a valid choice. That choice is not one of the available choices.")
                        ]
                    }
                )
        else:
            data["stage"] = stages.filter(status=OpportunityStatus.OPEN).order_by("sort_order").first()
        if "expected_close_date" not in opportunity_data:
            data["expected_close_date"] = timezone.localdate() + datetime.timedelta(days=90)
        data.update(opportunity_data)
        data.update(account=account, contact=contact)
        if not data.get("owner") and not data.get("owner_id"):
            data.pop("owner_id", None)
            data["owner"] = _default_owner(user, ObjectType.OPPORTUNITY, current)
        try:
            opportunity = create_opportunity(user=user, data=data)
        except ValidationError as error:
            raise _prefixed("opportunity", error) from None
        _origin_entry(opportunity, current, user, note)

    # the lead's follow-ups now also belong to the account and contact
    now = timezone.now()
    account_label = str(FollowUp._meta.get_field("account").verbose_name)
    contact_label = str(FollowUp._meta.get_field("contact").verbose_name)
    entries, to_account, to_contact = [], [], []
    moving = FollowUp.all_objects.filter(lead=current).filter(Q(account__isnull=True) | Q(contact__isnull=True))
    for f in moving.select_related("lead", "account", "contact", "opportunity"):
        changes = []
        if f.account_id is None:
            to_account.append(f.pk)
            changes.append({"field": "account", "label": account_label, "old": "", "new": str(account)})
        if f.contact_id is None and f.account_id in (None, account.pk):
            to_contact.append(f.pk)
            changes.append({"field": "contact", "label": contact_label, "old": "", "new": str(contact)})
        if changes:
            entries.append(
                ChangeLog(
                    object_type=ObjectType.FOLLOWUP,
                    object_id=f.pk,
                    object_repr=str(f)[:300],
                    action=HistoryAction.UPDATE,
                    actor=user,
                    at=now,
                    changes=changes,
                    note=note[:500],
                )
            )
    FollowUp.all_objects.filter(pk__in=to_account).update(account=account)
    FollowUp.all_objects.filter(pk__in=to_contact).update(contact=contact)
    FollowUp.all_objects.filter(pk__in=set(to_account) | set(to_contact)).update(
        version=models.F("version") + 1, updated_at=now
    )
    ChangeLog.objects.bulk_create(entries)
    latest = FollowUp.objects.filter(lead=current).aggregate(at=Max("occurred_at"))["at"]
    if latest is not None:  # derived: the account's newest follow-up
        Account.all_objects.filter(pk=account.pk).filter(
            Q(last_followup_at__isnull=True) | Q(last_followup_at__lt=latest)
        ).update(last_followup_at=latest)

    # the lead itself
    old_status = current.get_status_display()
    current.status = LeadStatus.CONVERTED
    current.converted_account = account
    current.converted_contact = contact
    current.converted_opportunity = opportunity
    current.converted_at = now
    current.version += 1
    current.updated_at = now
    current.save(
        update_fields=[
            "status",
            "converted_account",
            "converted_contact",
            "converted_opportunity",
            "converted_at",
            "version",
            "updated_at",
        ]
    )
    changes = [
        {
            "field": "status",
            "label": str(Lead._meta.get_field("status").verbose_name),
            "old": str(old_status),
            "new": str(current.get_status_display()),
        },
        {
            "field": "converted_account",
            "label": str(Lead._meta.get_field("converted_account").verbose_name),
            "old": "",
            "new": str(account),
        },
        {
            "field": "converted_contact",
            "label": str(Lead._meta.get_field("converted_contact").verbose_name),
            "old": "",
            "new": str(contact),
        },
    ]
    if opportunity is not None:
        changes.append(
            {
                "field": "converted_opportunity",
                "label": str(Lead._meta.get_field("converted_opportunity").verbose_name),
                "old": "",
                "new": str(opportunity),
            }
        )
    history.write(instance=current, action=HistoryAction.UPDATE, actor=user, changes=changes, note=_(CONVERTED_NOTE))
    return current
