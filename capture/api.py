from ninja import Router

router = Router(tags=["capture"])  # /api/v1/forms/ (admin side of public web forms)
