"""Jobs that rewrite a whole project: the one-at-a-time guard and the staging of
import documents, used by the authoring APIs and the studio's services alike.

Import documents are staged in Django's default storage (``imports/<uuid>.<ext>``)
instead of the job row: a job is read on every poll, and an 8 MB body in its
``params`` would be loaded each time. The import task reads the staged file and
deletes it when the job ends.
"""

from __future__ import annotations

import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from jobs.models import Job
from projects.permissions import Actor, actor_reads_everything, readable_project_names
from studio.errors import Conflict

IMPORTS_DIR = "imports"
# Jobs that rewrite or remove a whole project, or add to it in chunks: only one of
# them may be queued or running per project, or a delete could interleave with an
# import's replacement or an upload's chunks.
EXCLUSIVE_KINDS = (Job.Kind.IMPORT, Job.Kind.PROJECT_DELETE, Job.Kind.UTTERANCES_UPLOAD)
_EXCLUSIVE_WHAT: dict[str, str] = {
    Job.Kind.IMPORT: "an import",
    Job.Kind.PROJECT_DELETE: "a deletion",
    Job.Kind.UTTERANCES_UPLOAD: "an upload of utterances",
}


def project_job_guard(*, project_name: str, actor: Actor = None) -> None:
    """409 while an import, upload or deletion of the project is queued or running.

    A friendly early answer naming the job; the database constraint
    ``one_active_import_or_delete_per_project`` closes the race between two requests.
    Names are unique across project kinds, so both API families are checked. The
    job is named only to ``actor`` (None: a resource key) if they may read the
    project or started the job: an import may be creating a project nobody else
    may see, whose job no role protects yet.
    """
    busy = (
        Job.objects.filter(
            project_name=project_name,
            kind__in=EXCLUSIVE_KINDS,
            status__in=Job.ACTIVE,
        )
        .order_by("created_at")
        .first()
    )
    if busy is not None:
        if (
            actor is not None
            and not actor_reads_everything(actor)
            and busy.params.get("owner_id") != actor.pk
            and not readable_project_names(actor, [project_name])
        ):
            raise Conflict(
                f"The name {project_name!r} is not available right now; try again "
                "later or choose another name.",
                target="projectName",
            )
        what = _EXCLUSIVE_WHAT.get(busy.kind, "a job")
        raise Conflict(
            f"Project {project_name!r} has {what} in progress (job {busy.job_id}); "
            "wait for it to finish and try again.",
            target="projectName",
        )


def staged_document_save(*, content: bytes, file_format: str) -> str:
    """Stage an import body for a worker; the storage name goes in ``job.params``."""
    name = f"{IMPORTS_DIR}/{uuid.uuid4()}.{file_format}"
    return default_storage.save(name, ContentFile(content))
