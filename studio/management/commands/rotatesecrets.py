"""``manage.py rotatesecrets``: re-encrypt stored target secrets under the current
``SECRET_KEY`` after a rotation, and mask the plain secrets of snapshots written
before masking existed (README, "Security")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projects.services.targets import target_secrets_rotate
from training.train_jobs import snapshots_mask_target_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt the stored secrets of HTTP targets under the current SECRET_KEY "
        "(old keys in SECRET_KEY_FALLBACKS), so the old key can be dropped; mask the "
        "plain secrets of snapshots written before masking."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rewritten, unreadable = target_secrets_rotate()
        self.stdout.write(f"Re-encrypted the target secrets of {rewritten} intent(s).")
        masked = snapshots_mask_target_secrets()
        self.stdout.write(f"Masked the target secrets of {masked} older snapshot(s).")
        if unreadable:
            raise CommandError(
                "No key in SECRET_KEY or SECRET_KEY_FALLBACKS decrypts the target "
                f"secrets of: {', '.join(unreadable)}. Enter them again."
            )
