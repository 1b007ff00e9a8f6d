"""Jobs (and, with the runtime issue, trained models and deployments).

A Job is the only record of a long operation's state: Celery carries the job id, the
worker updates this row, clients poll it through the Azure job URLs. Running jobs carry
their own heartbeat so a sweeper can fail the jobs of a killed worker.
"""

from __future__ import annotations

import uuid

from django.db import models


class Job(models.Model):
    class Kind(models.TextChoices):
        IMPORT = "import"
        EXPORT = "export"
        PROJECT_DELETE = "project_delete"
        TRAIN = "train"
        DEPLOY = "deploy"
        DEPLOYMENT_DELETE = "deployment_delete"
        SWAP = "swap"
        LOAD_SNAPSHOT = "load_snapshot"
        UPDATE_QNAS = "update_qnas"
        UPDATE_SOURCES = "update_sources"

    class Status(models.TextChoices):
        # Azure's spellings, including the spec's "cancelled" (see azure-api.md §3.1).
        NOT_STARTED = "notStarted"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLING = "cancelling"
        CANCELLED = "cancelled"
        PARTIALLY_COMPLETED = "partiallyCompleted"

    class Api(models.TextChoices):
        CONVERSATIONS = "conversations"
        QUESTION_ANSWERING = "questionanswering"

    FINISHED = (
        Status.SUCCEEDED,
        Status.FAILED,
        Status.CANCELLED,
        Status.PARTIALLY_COMPLETED,
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The opaque id clients see: "<uuid>_<ticks>", as Azure formats it.
    job_id = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    api = models.CharField(
        max_length=32, choices=Api.choices, default=Api.CONVERSATIONS
    )
    # Kept as a string: a deletion job outlives its project.
    project_name = models.CharField(max_length=100, db_index=True)
    # The deployment (or "swap") a deployment job belongs to, the model label for
    # load-snapshot; empty otherwise.
    target_name = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.NOT_STARTED
    )
    percent_complete = models.PositiveSmallIntegerField(default=0)
    # Validated input of the operation (never raw request data).
    params = models.JSONField(default=dict, blank=True)
    # Operation-specific output (training result, export file name, ...).
    result = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project_name", "kind", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]
        constraints = [
            # An import and a deletion replace or remove the whole project: two at
            # once would race. Project names are unique across kinds, so this holds
            # across both API families.
            models.UniqueConstraint(
                fields=["project_name"],
                condition=models.Q(
                    kind__in=["import", "project_delete"],
                    status__in=["notStarted", "running", "cancelling"],
                ),
                name="one_active_import_or_delete_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.job_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
