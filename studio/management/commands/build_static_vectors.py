"""``manage.py build_static_vectors``: distill standard training's static word
vector table now (README, "Intent engine"), instead of in a worker's background
at the first standard training. Run it where the table directory is shared with
the web processes (``STUDIO_STATIC_VECTORS``); a table already there is kept.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from training.engine.embeddings import AdvancedModeUnavailable, set_encode_threads
from training.engine.static_vectors import (
    StaticVectorsUnavailable,
    build_table,
    table_path,
)


class Command(BaseCommand):
    help = "Build the static word vector table of standard training (once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--threads",
            type=int,
            default=0,
            help="encoding threads (default: every core)",
        )

    def handle(self, *args: object, **options: Any) -> None:
        path = table_path()
        if path is None:
            raise CommandError(
                "Static word vectors are turned off (STUDIO_STATIC_VECTORS=off)."
            )
        if path.is_file():
            self.stdout.write(f"Already built: {path}")
            return
        threads = int(options.get("threads") or 0) or os.cpu_count() or 1
        set_encode_threads(threads)
        started = time.monotonic()
        shown = [-1]

        def progress(fraction: float) -> None:
            percent = int(100 * fraction) // 10 * 10
            if percent > shown[0]:
                shown[0] = percent
                self.stdout.write(f"  {percent}%")

        try:
            table = build_table(progress=progress)
        except (AdvancedModeUnavailable, StaticVectorsUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        size_mb = path.stat().st_size / 1e6
        self.stdout.write(
            f"Built {path} ({len(table.words)} words x {table.dims} dimensions, "
            f"{size_mb:.1f} MB, sha256 {table.spec.sha256[:12]}) in "
            f"{time.monotonic() - started:.0f} s."
        )
