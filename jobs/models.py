"""The Job row: the one record of a long operation's state.

Celery carries the job id, the worker updates this row, clients poll it through the
Azure job URLs (jobs.lro). Running jobs carry their own heartbeat so a sweeper can
fail the jobs of a killed worker (jobs.services).

Jobs sit below projects in the layering (runtime > training > projects > jobs >
studio): a job names its project by the ``"projects.Project"`` string, as it names
its requester by ``AUTH_USER_MODEL``, and imports nothing from the apps that run
jobs. The table keeps its old name, ``training_job``, from when the model lived in
``training``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
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
        # A Data-page file of utterances added to a project (projects.services.uploads).
        UTTERANCES_UPLOAD = "utterances_upload", "Utterance upload"
        # Deployment resources (training.resource_jobs): other endpoints a project's
        # deployments are copied to.
        RESOURCES_ASSIGN = "resources_assign", "Resource assignment"
        RESOURCES_UNASSIGN = "resources_unassign", "Resource unassignment"
        RESOURCES_DEPLOY = "resources_deploy", "Copy to resources"
        RESOURCES_DELETE = "resources_delete", "Deletion from resources"

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

    # Queued, running or being cancelled: what blocks a second job on the same
    # project or queue.
    ACTIVE = (Status.NOT_STARTED, Status.RUNNING, Status.CANCELLING)
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
    # The name in the job's URLs; kept as a string because a deletion job outlives
    # its project and an import may create the project it names.
    project_name = models.CharField(max_length=100, db_index=True)
    # The project row the job belongs to: jobs are found through it, never through
    # the name alone, so a new project that reuses a deleted one's name sees none of
    # the old jobs. Null for an import whose project does not exist yet (the import
    # sets it) and for a deletion job once its project is gone; every other job of
    # a project is deleted with it, files included (services.project_delete).
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.DB_SET_NULL,
        null=True,
        blank=True,
        related_name="jobs",
    )
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
    # How often, and when last, the workers' sweep sent the job's message again
    # because it waited on an idle queue: its message was lost
    # (jobs.services.jobs_redispatch_lost).
    resends = models.PositiveSmallIntegerField(default=0, db_default=0)
    resent_at = models.DateTimeField(null=True, blank=True)
    # The Celery queue it was sent to (jobs.queues.job_queue): "long" or "short".
    queue = models.CharField(max_length=16, default="short")
    # Who asked for it (a studio user, or the owner of a user's API key); None for
    # resource keys and the system. Counts against the per-user queue limit.
    # Database-level like ``project`` (Django refuses to mix both kinds on a model).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DB_SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        # The table it had in training (migrations/0001_initial moves the model, not
        # the rows).
        db_table = "training_job"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project_name", "kind", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
            # Queue positions and the fair-share counts (jobs.queues).
            models.Index(fields=["queue", "status", "created_at"]),
        ]
        constraints = [
            # An import and a deletion replace or remove the whole project: two at
            # once would race, and an upload adding rows in chunks must not
            # interleave with either. Project names are unique across kinds, so this
            # holds across both API families.
            models.UniqueConstraint(
                fields=["project_name"],
                condition=models.Q(
                    kind__in=["import", "project_delete", "utterances_upload"],
                    status__in=["notStarted", "running", "cancelling"],
                ),
                name="one_active_import_or_delete_per_project",
            ),
            # One training job per project at a time (Azure answers 409): the
            # early check in train_start names the job, this closes the race.
            models.UniqueConstraint(
                fields=["project_name"],
                condition=models.Q(
                    kind="train",
                    status__in=["notStarted", "running", "cancelling"],
                ),
                name="one_active_train_per_project",
            ),
            # One deployment-changing job (deploy, delete deployment, swap) per
            # project at a time: a swap touches two deployments, and serializing per
            # project keeps the 10-deployment limit exact. The early check in
            # training.deploy_jobs names the busy job; this closes the race.
            models.UniqueConstraint(
                fields=["project_name"],
                condition=models.Q(
                    kind__in=["deploy", "deployment_delete", "swap"],
                    status__in=["notStarted", "running", "cancelling"],
                ),
                name="one_active_deployment_job_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.job_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
