"""The Azure-compatible authoring REST API (``/language/authoring/...``).

One module per API family: ``conversations`` (CLU and orchestration projects) and
``question_answering``; helpers both use live in ``common``. Views parse input, call
one service or selector and render Azure's bodies; every rule lives in the services.
"""
