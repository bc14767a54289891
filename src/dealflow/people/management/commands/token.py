"""`dealflow token create USERNAME` / `dealflow token revoke PREFIX`: API tokens."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dealflow.people.models import ApiToken, User
from dealflow.people.services import token_create, token_revoke


class Command(BaseCommand):
    help = "Manage API tokens: `token create USERNAME`, `token revoke PREFIX`, `token list`."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="create a token (printed once, never stored)")
        create.add_argument("username", help="whose token it is")
        create.add_argument(
            "--name", default="cli", help="what the token is for (default: %(default)s)"
        )
        revoke = actions.add_parser(
            "revoke", help="revoke a token by the prefix `token list` shows"
        )
        revoke.add_argument("prefix", help="the token's first characters, as listed")
        listing = actions.add_parser("list", help="list tokens (prefixes only)")
        listing.add_argument(
            "username", nargs="?", help="only this user's tokens (default: everyone's)"
        )

    def handle(self, *args, **options):
        getattr(self, f"handle_{options['action']}")(options)

    def handle_create(self, options):
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        api_token, token = token_create(actor=None, user=user, name=options["name"])
        self.stdout.write(f"token {api_token.prefix}... for {user.username} (shown once):")
        self.stdout.write(token)

    def handle_revoke(self, options):
        matches = list(ApiToken.objects.filter(prefix=options["prefix"], revoked_at=None))
        if len(matches) != 1:
            raise CommandError(
                f"{len(matches)} active tokens have the prefix {options['prefix']!r}; need exactly 1"
            )
        token_revoke(actor=None, api_token=matches[0])
        self.stdout.write(f"revoked {matches[0].prefix}...")

    def handle_list(self, options):
        tokens = ApiToken.objects.select_related("user")
        if options["username"]:
            tokens = tokens.filter(user__username=options["username"])
        for api_token in tokens:
            state = "revoked" if api_token.revoked_at else "active"
            self.stdout.write(
                f"{api_token.prefix}  {api_token.user.username}  {api_token.name}  {state}"
            )
