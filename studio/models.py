"""API keys and worker heartbeats."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A runtime/authoring key sent as ``Ocp-Apim-Subscription-Key``.

    Only a SHA-256 digest is stored: keys are 256-bit random strings, so a plain
    fast hash is enough (no salt or stretching needed) and allows an indexed lookup.
    """

    name = models.CharField(max_length=100)
    # The first characters of the key, to tell keys apart in lists; not secret.
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="api_keys",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class WorkerHeartbeat(models.Model):
    """Written by every Celery worker every few seconds; read by ``/healthz``.

    Celery's remote-control ping does not work on the filesystem transport, so
    liveness is recorded here instead.
    """

    hostname = models.CharField(max_length=255, unique=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    # The Celery queues it consumes, comma-separated ("long", "short"); blank for a
    # worker that consumes every queue (started without -Q).
    queues = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"{self.hostname} (seen {self.last_seen_at:%Y-%m-%d %H:%M:%S})"
