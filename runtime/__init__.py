"""The runtime: prediction serving behind Azure's ``:analyze-conversations``,
``:query-knowledgebases`` and ``:query-text`` (``urls``, ``apis``) and the studio's
Playground (``urls``, ``views``). A request is checked against its declared schema
and parsed (``schemas``, ``parsing``), rate-limited (``limits``), answered by
``services`` from the deployed-model directory and cache (``registry``,
``bundles``), routed to an orchestration's targets (``routing``, ``targets``),
shaped (``predict``) and optionally logged (``logs``). See runtime/README.md.
"""
