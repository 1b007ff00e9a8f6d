"""Writes of the training app, one module per topic (selectors/ holds the reads):
``jobs`` (the job lifecycle: create and enqueue, run on a worker, cancel, fail the
jobs of dead workers, purge), ``review`` (the review queue's triage and "add to
data"), ``clusters`` (labeling a cluster of waiting queries at once), ``gate`` (the
deploy gate's comparison, refusal and audit events) and ``resources`` (the
deployment-resource registry). Import from the topic module: ``review`` writes
through ``projects.services``, which creates jobs through ``jobs``, so re-exporting
both here would make their import order matter."""
