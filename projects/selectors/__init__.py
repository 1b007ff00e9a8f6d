"""Reads of the projects app, one module per topic (services/ holds the writes):
``authoring`` (the REST APIs' reads), ``labeling`` (the Data screen), ``kb`` (the
knowledge-base screen) and ``studio_projects`` (the projects list, keys, UI jobs)."""
