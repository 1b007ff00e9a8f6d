"""Reads of the training app, one module per topic: ``authoring`` (jobs, trained
models, deployments, evaluation results), ``evaluation`` (the evaluation screens) and
``review`` (the review queue)."""
