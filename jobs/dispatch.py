"""Which Celery task runs a job: a table each app fills from its ``AppConfig.ready``.

``job_create`` sends a new job to the task registered for its kind (per API family
where the two run a kind differently: a knowledge base's deploy is not a
conversation project's). So a service that queues a job never imports the tasks
module that runs it (the tasks call the services: importing them back would be a
circle), and "what runs a job of kind X" is answered in one place per app
(projects/apps.py, training/apps.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured


class Enqueueable(Protocol):
    """A Celery task, as ``job_create`` uses it (tests record the calls instead)."""

    def apply_async(self, *args: Any, **kwargs: Any) -> Any: ...


# (kind, api) -> task; api None: every API family.
_TASKS: dict[tuple[str, str | None], Enqueueable] = {}


def job_tasks_register(
    tasks: Mapping[str, Enqueueable], *, api: str | None = None
) -> None:
    """Run jobs of each kind in ``tasks`` with its task (only those of ``api`` when
    given). Registering a kind twice with another task is a wiring mistake."""
    for choice, task in tasks.items():
        kind = str(choice)  # a Job.Kind member or its value
        known = _TASKS.setdefault((kind, api), task)
        if known is not task:
            raise ImproperlyConfigured(
                f"Jobs of kind {kind!r} (API {api or 'any'}) already run {known!r}; "
                f"cannot also run {task!r}."
            )


def job_task(*, kind: str, api: str) -> Enqueueable:
    """The task that runs jobs of ``kind`` in the ``api`` family."""
    kind, api = str(kind), str(api)
    task = _TASKS.get((kind, api)) or _TASKS.get((kind, None))
    if task is None:
        raise ImproperlyConfigured(
            f"No task runs jobs of kind {kind!r} (API {api}): the app that creates "
            "them registers one in its AppConfig.ready (jobs.dispatch)."
        )
    return task
