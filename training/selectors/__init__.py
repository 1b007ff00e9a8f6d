"""Reads of the training app, one module per topic: ``authoring`` (jobs, trained
models, deployments, evaluation results), ``evaluation`` (the evaluation screens),
``review`` (the review queue), ``clusters`` (its clusters of waiting queries) and
``shadow`` (shadow models' agreement)."""
