from core.choices import Action, ObjectType, Scope  # noqa: F401  (re-exported for org forms and API)

GRANTABLE_TYPES = [
    ObjectType.ACCOUNT,
    ObjectType.CONTACT,
    ObjectType.LEAD,
    ObjectType.OPPORTUNITY,
    ObjectType.FOLLOWUP,
    ObjectType.DEPARTMENT,
    ObjectType.USER,
    ObjectType.ROLE,
]
