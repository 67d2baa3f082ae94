"""makemessages that also extracts `history.plural_message(singular, plural, …)`: the app's plural
notification texts are registered through it rather than through `ngettext_lazy` at their call site."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=plural_message:1,2"]
