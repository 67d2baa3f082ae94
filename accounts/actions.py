"""State changes of accounts; pages, the API and jobs call these and nothing else."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import actions as core_actions
from core import history

from .models import Account, Tag

# Notes, labels and notifications kept as written and shown in the reader's language (core.history).
TAGS_LABEL = history.label(gettext_noop("Tags"))


MAX_TAGS = 20


def _tag_names(tag_names) -> list[str] | None:
    """The tags as stored, or a field error: a tag longer than a tag holds was cut without a word before."""
    if tag_names is None:
        return None
    names = sorted({n.strip() for n in tag_names if n and n.strip()})
    longest = Tag._meta.get_field("name").max_length
    too_long = [n for n in names if len(n) > longest]
    if too_long:
        raise ValidationError(
            {
                "tags": [
                    _("A tag has at most %(n)d characters: “%(tag)s…”.") % {"n": longest, "tag": too_long[0][:longest]}
                ]
            }
        )
    if len(names) > MAX_TAGS:
        raise ValidationError({"tags": [_("At most %(n)d tags.") % {"n": MAX_TAGS}]})
    return names


def _tag_setter(tag_names):
    names = _tag_names(tag_names)

    def after_save(account):
        if names is None:
            return []
        before = ", ".join(sorted(t.name for t in account.tags.all()))
        tags = [Tag.objects.get_or_create(name=n)[0] for n in names]
        account.tags.set(tags)
        after = ", ".join(names)
        if before == after:
            return []
        return [{"field": "tags", "label": _(TAGS_LABEL), "old": before, "new": after}]

    return after_save


def create_account(*, user, data: dict, tags=None) -> Account:
    return core_actions.create_record(model=Account, user=user, data=data, after_save=_tag_setter(tags))


def update_account(*, account: Account, user, data: dict, tags=None, expected_version=None) -> Account:
    return core_actions.update_record(
        instance=account, user=user, data=data, expected_version=expected_version, after_save=_tag_setter(tags)
    )


def delete_account(*, account: Account, user, expected_version=None) -> Account:
    return core_actions.delete_record(instance=account, user=user, expected_version=expected_version)


def restore_account(*, account: Account, user) -> Account:
    return core_actions.restore_record(instance=account, user=user)


def transfer_accounts(*, ids, user, new_owner, note="") -> int:
    return core_actions.transfer_records(model=Account, ids=ids, user=user, new_owner=new_owner, note=note)
