from ninja import Router

router = Router(tags=["imports"])  # /api/v1/imports/
