"""``manage.py restore PATH``: an archive of ``manage.py backup`` into an empty
studio (README, "Backup and restore")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from training.backup import BackupError, studio_restore


class Command(BaseCommand):
    help = (
        "Restore a backup archive into this studio, whose database must be empty "
        "(new; it is migrated first). The archive is verified whole first; "
        "nothing is changed when it or the studio does not qualify."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = studio_restore(path=options["path"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for warning in summary.warnings:
            self.stderr.write(f"Warning: {warning}")
        if summary.migrated_from:
            older = ", ".join(
                f"{a} {n}" for a, n in sorted(summary.migrated_from.items())
            )
            self.stdout.write(f"The archive's schema was older ({older}): migrated.")
        self.stdout.write(
            f"Restored {sum(summary.rows.values())} rows of {len(summary.rows)} "
            f"tables and {summary.files} files from {options['path']}."
        )
