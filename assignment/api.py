from ninja import Router

router = Router(tags=["assignment"])  # /api/v1/assignment/
lead_router = Router(tags=["leads"])  # conversion and qualification under /api/v1/leads/
