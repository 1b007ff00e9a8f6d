"""Reads of the training app, one module per topic: ``authoring`` (jobs, trained
models, deployments, evaluation results), ``evaluation`` (the evaluation screens),
``review`` (the review queue) and ``shadow`` (shadow models' agreement)."""
