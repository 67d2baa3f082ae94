from django.core.management.base import BaseCommand, CommandError

from core.actions import issue_api_token
from org.models import User


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (it is stored hashed and shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"{username!r} is deactivated.")
        _token, raw = issue_api_token(user=user, name=name)
        self.stdout.write(raw)
