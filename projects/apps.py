from __future__ import annotations

from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "projects"

    def ready(self) -> None:
        from jobs.dispatch import job_tasks_register
        from jobs.models import Job
        from projects import (
            signals,  # noqa: F401 - connects the receivers
            tasks,
        )

        # The Celery task that runs each kind of job projects create (jobs.dispatch).
        job_tasks_register(
            {
                Job.Kind.IMPORT: tasks.project_import_task,
                Job.Kind.EXPORT: tasks.project_export_task,
                Job.Kind.PROJECT_DELETE: tasks.project_delete_task,
                Job.Kind.UTTERANCES_UPLOAD: tasks.utterances_upload_task,
            }
        )
        job_tasks_register(
            {Job.Kind.UPDATE_SOURCES: tasks.kb_sources_fetch_task},
            api=Job.Api.QUESTION_ANSWERING,
        )
