from ninja import Router

router = Router(tags=["duplicates"])  # /api/v1/duplicates/
