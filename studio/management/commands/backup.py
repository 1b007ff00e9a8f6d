"""``manage.py backup PATH``: the whole studio in one consistent archive (README,
"Backup and restore")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from training.backup import BackupError, studio_backup


class Command(BaseCommand):
    help = (
        "Write the whole studio (database and model files) to one consistent zip "
        "archive at PATH, a new file or a folder to put a dated one in. The studio "
        "keeps serving while it runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", help="a new file, or a folder (a name ending in / is made)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = studio_backup(path=options["path"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = sum(summary.rows.values())
        for name in summary.missing_files:
            self.stderr.write(
                f"Warning: {name} is referenced but missing from storage; "
                "not in the archive."
            )
        for problem in summary.missing_static_vectors:
            self.stderr.write(
                f"Warning: a static word vector table is missing ({problem}); "
                "not in the archive."
            )
        self.stdout.write(
            f"Backed up {rows} rows of {len(summary.rows)} tables and "
            f"{summary.files} files ({summary.size} bytes) to {summary.path}"
        )
