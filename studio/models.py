"""API keys, worker heartbeats, the audit trail and the deployment version row."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Append-only from the application's side: rows are inserted, never changed;
    only the retention purge (``studio.audit.audit_events_purge``) deletes them."""

    def update(self, **kwargs: object) -> int:
        raise TypeError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only; only the retention purges.")

    def purge(self) -> int:
        """The retention's delete (the only one)."""
        deleted, _ = models.QuerySet.delete(self)
        return deleted


class AuditEvent(models.Model):
    """Who did what to what, and when: one row per change (per utterance for label
    changes), with what it was before and after as JSON.

    No foreign keys: the trail outlives projects, users and keys (it is what tells
    who deleted them), so it keeps their ids and names as they were."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # None for studio-wide events (API keys, people).
    project_id = models.BigIntegerField(null=True, blank=True)
    project_name = models.CharField(max_length=100, blank=True, default="")
    # Who: a user (signed in, or owner of a personal key), a key, both, or neither
    # (the system: a job, a management command).
    user_id = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=150, blank=True, default="")
    api_key_id = models.BigIntegerField(null=True, blank=True)
    api_key_name = models.CharField(max_length=120, blank=True, default="")
    # "<object>.<verb>": utterance.label, intent.create, model.train, ...
    action = models.CharField(max_length=50)
    # What it acted on, as shown: "utterance 42", "intent Greet", "deployment prod".
    target = models.CharField(max_length=200, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project_id", "-created_at"], name="audit_project"),
            models.Index(
                fields=["project_id", "action", "-created_at"], name="audit_action"
            ),
            models.Index(
                fields=["project_id", "user_id", "-created_at"], name="audit_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only.")

    @property
    def actor(self) -> str:
        if self.api_key_name and self.username:
            return f"{self.username} (API key {self.api_key_name})"
        if self.api_key_name:
            return f"API key {self.api_key_name}"
        return self.username or "system"


class DeploymentState(models.Model):
    """One row (pk=1): bumped in the same transaction as any deployment change.

    Web processes read this one integer (a primary-key lookup) at most every
    ``STUDIO_DEPLOYMENT_REFRESH_SECONDS`` and reload their deployment directory when it
    moved; that is how a deploy or swap reaches every process within a second.

    Below every app (studio/deployment_state.py): training bumps it when a deployment
    changes, projects when a setting the runtime serves with it does (a confidence
    threshold, a default answer), the runtime reads it. The table keeps the name it
    had in training.
    """

    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "training_deploymentstate"

    def __str__(self) -> str:
        return f"deployments v{self.version}"
