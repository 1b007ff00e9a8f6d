"""The runtime: deployment directory and model cache (``registry``), response shapes
(``predict``), downstream target calls (``targets``) and the request-level services
(``services``) behind ``runtime/apis.py``. See runtime/README.md.
"""
