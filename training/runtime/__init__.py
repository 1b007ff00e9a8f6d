"""The runtime: deployment directory and model cache (``registry``), response shapes
(``predict``), downstream target calls (``targets``) and the request-level services
(``services``) behind ``training/apis/runtime.py``. See training/README.md, "Runtime".
"""
