from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from studio.cpu import web_switch_interval
from studio.middleware import ChunkedBodyMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

# Request threads get the interpreter back quickly (studio/cpu.py says why).
web_switch_interval()

# Chunked request bodies get a length before Django reads them (see the middleware).
application = ChunkedBodyMiddleware(get_wsgi_application())
