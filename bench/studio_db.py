"""What the in-process studio benchmarks share (``bench.labeling``,
``bench.review_queue``): a throwaway database to seed and time the studio's views
and selectors in, and the filler words their seeded texts are made of.

The database is Django's test database: in-memory SQLite by default, ``test_<name>``
on the server of ``--database-url`` (or ``DATABASE_URL``) otherwise; it is dropped
when the benchmark ends, however it ends.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager

# Words any query may carry, whatever its intent (the seeded texts' filler).
FILLER_WORDS = [
    "please",
    "can",
    "you",
    "i",
    "want",
    "to",
    "the",
    "a",
    "my",
    "for",
    "me",
    "now",
    "today",
    "this",
    "that",
    "with",
    "on",
    "in",
    "and",
    "would",
    "like",
    "need",
    "some",
    "help",
    "about",
    "it",
    "again",
]


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    """``--database-url``: where the throwaway database is created."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="PostgreSQL server to create the throwaway database on (default: "
        "in-memory SQLite)",
    )


@contextmanager
def throwaway_database(database_url: str) -> Iterator[str]:
    """Set Django up on the test settings, create the test database (on
    ``database_url``'s server, or in-memory SQLite when empty) and drop it on the
    way out. Yields ``"<vendor> <database name>"`` for the benchmark's report."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "studio.settings_test"
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield f"{connection.vendor} {connection.settings_dict['NAME']}"
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
