from ninja import Router

router = Router(tags=["pools"])  # /api/v1/pools/
lead_router = Router(tags=["pools"])  # claim/release under /api/v1/leads/
account_router = Router(tags=["pools"])  # claim/release under /api/v1/accounts/
