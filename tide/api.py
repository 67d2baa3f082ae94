"""The Open API under /api/v1/: one NinjaAPI with every domain's router."""

from ninja import NinjaAPI

from accounts.api import router as accounts_router
from assignment.api import lead_router as assignment_lead_router
from assignment.api import router as assignment_router
from capture.api import router as capture_router
from contacts.api import router as contacts_router
from core.api import AUTH, install_error_handlers
from dedupe.api import router as dedupe_router
from followups.api import router as followups_router
from imports.api import router as imports_router
from leads.api import router as leads_router
from opportunities.api import router as opportunities_router
from opportunities.api import stages_router
from org.api import departments_router, roles_router, users_router
from pools.api import account_router as pool_account_router
from pools.api import lead_router as pool_lead_router
from pools.api import router as pools_router
from search.api import router as search_router

api = NinjaAPI(
    title="Tide CRM Open API",
    version="1",
    description=(
        "Authenticate with `Authorization: Bearer <token>` (create tokens on your profile page or with "
        "`manage.py apitoken USERNAME`). Lists use cursor pagination (`next_cursor`). Errors have one shape: "
        "`{code, message, errors: {field: [messages]}}`. Updates accept `If-Match` with the ETag you read "
        "(412 on a conflicting write); creates accept an `Idempotency-Key`."
    ),
    auth=AUTH,
    urls_namespace="api",
)
install_error_handlers(api)

api.add_router("/accounts/", accounts_router)
api.add_router("/contacts/", contacts_router)
api.add_router("/leads/", leads_router)
api.add_router("/opportunities/", opportunities_router)
api.add_router("/stages/", stages_router)
api.add_router("/followups/", followups_router)
api.add_router("/departments/", departments_router)
api.add_router("/users/", users_router)
api.add_router("/roles/", roles_router)
api.add_router("/search/", search_router)
api.add_router("/leads/", pool_lead_router)
api.add_router("/accounts/", pool_account_router)
api.add_router("/leads/", assignment_lead_router)
api.add_router("/pools/", pools_router)
api.add_router("/duplicates/", dedupe_router)
api.add_router("/assignment/", assignment_router)
api.add_router("/imports/", imports_router)
api.add_router("/forms/", capture_router)
