"""Which model belongs to each owned object type."""

from .choices import ObjectType


def owned_models() -> dict:
    from accounts.models import Account
    from contacts.models import Contact
    from followups.models import FollowUp
    from leads.models import Lead
    from opportunities.models import Opportunity

    return {
        ObjectType.ACCOUNT: Account,
        ObjectType.CONTACT: Contact,
        ObjectType.LEAD: Lead,
        ObjectType.OPPORTUNITY: Opportunity,
        ObjectType.FOLLOWUP: FollowUp,
    }
