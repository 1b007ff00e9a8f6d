from __future__ import annotations

from django.apps import AppConfig


class StudioConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "studio"

    def ready(self) -> None:
        # Every SQLite connection's writers say when they wait for the lock, so
        # that bulk work steps aside (studio/sqlite_writers.py).
        from django.db.backends.signals import connection_created

        from studio.sqlite_writers import install

        connection_created.connect(install, dispatch_uid="studio.sqlite_writers")
