"""Print how to log in to the demo company built by `manage.py demo` (nothing when there is none)."""

import os

from django.core.management.base import BaseCommand

from org.models import User

from .demo import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Print the URL, demo usernames (with role and department) and the shared demo password."

    def handle(self, *args, **options):
        admin = User.objects.filter(username="admin", is_active=True, department__isnull=False).first()
        # All demo users share one hash (made once by `demo`), so one slow check_password() is enough.
        if admin is None or not admin.check_password(DEMO_PASSWORD):
            if options["verbosity"] > 1:
                self.stdout.write("No demo users (run `manage.py demo`).")
            return
        users = (
            User.objects.filter(password=admin.password, is_active=True, department__isnull=False)
            .select_related("department")
            .prefetch_related("roles")
        )
        users = sorted(users, key=lambda u: ([int(i) for i in u.department.path.strip("/").split("/")], u.pk))
        port = os.environ.get("PORT") or "8000"
        self.stdout.write(self.style.SUCCESS(f"Tide CRM demo: http://127.0.0.1:{port}/"))
        self.stdout.write(f"Password for every demo user: {DEMO_PASSWORD}  (demo data only)")
        width = max(len(u.username) for u in users)
        for u in users:
            roles = ", ".join(r.name for r in u.roles.all())
            self.stdout.write(f"  {u.username:<{width}}  {u.display_name} · {roles} · {u.department.full_name}")
