"""Jobs: Azure's long-running operations, below every app that runs one.

A job is a row (``models.Job``) created by ``services.job_create`` and sent, when its
transaction commits, to the Celery task registered for its kind (``dispatch``: each
app fills the table from its ``AppConfig.ready``), on the queue its kind and size
choose (``queues``). A worker runs it under ``services.job_execute`` (claim, heartbeat,
outcome); clients poll it through the helpers of ``lro`` (202, ``Operation-Location``,
the job body); ``selectors`` find a project's jobs by the project row, not its name.
"""
