from __future__ import annotations

from django.apps import AppConfig


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from jobs.dispatch import job_tasks_register
        from jobs.models import Job
        from projects.trained import trained_reader_register
        from studio.health import health_check_register
        from training import (
            deploy_jobs,
            resource_jobs,
            signals,  # noqa: F401 - connects the receivers
            train_jobs,
        )
        from training.engine.embeddings import (
            configure_default_cache,
            configure_encoders,
        )
        from training.engine.static_vectors import configure_static_dir
        from training.project_reads import TrainedModels
        from training.selectors.serving import serving_health

        # What projects read of trained models and deployments (projects.trained).
        trained_reader_register(TrainedModels())
        # /healthz says when a deployment cannot load its model here (a static
        # word vector table missing), counted, never named.
        health_check_register("deployments", serving_health)
        # The Celery task that runs each kind of job training creates (jobs.dispatch).
        job_tasks_register(
            {
                Job.Kind.TRAIN: train_jobs.train_task,
                Job.Kind.LOAD_SNAPSHOT: train_jobs.load_snapshot_task,
                Job.Kind.RESOURCES_ASSIGN: resource_jobs.resources_assign_task,
                Job.Kind.RESOURCES_UNASSIGN: resource_jobs.resources_unassign_task,
                Job.Kind.RESOURCES_DEPLOY: resource_jobs.resources_deploy_task,
                Job.Kind.RESOURCES_DELETE: resource_jobs.resources_delete_task,
            }
        )
        job_tasks_register(
            {
                Job.Kind.DEPLOY: deploy_jobs.deploy_task,
                Job.Kind.DEPLOYMENT_DELETE: deploy_jobs.deployment_delete_task,
                Job.Kind.SWAP: deploy_jobs.swap_task,
            },
            api=Job.Api.CONVERSATIONS,
        )
        job_tasks_register(
            {Job.Kind.DEPLOY: deploy_jobs.kb_deploy_task},
            api=Job.Api.QUESTION_ANSWERING,
        )

        # On by default (issue 15 item 2): retraining encodes only new or edited
        # utterances, and the evaluation reuses the training's encodings.
        configure_default_cache(settings.EMBEDDING_CACHE_DIR)
        configure_static_dir(settings.STATIC_VECTORS_DIR)
        try:
            configure_encoders(settings.STUDIO_ENCODERS)
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from exc
