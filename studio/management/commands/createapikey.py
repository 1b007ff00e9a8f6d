"""``manage.py createapikey NAME``: prints a new key, alone, on the last stdout line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studio.errors import StudioError
from studio.services import apikey_create


class Command(BaseCommand):
    help = "Create an API key (Ocp-Apim-Subscription-Key). The key is shown only once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name to recognise the key by.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            api_key, raw_key = apikey_create(name=options["name"])
        except StudioError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(
            f"Created API key {api_key.name!r} ({api_key.prefix}…). "
            "Store it now: it is not shown again."
        )
        self.stdout.write(raw_key)
