"""The test suite's settings: config.settings with the development defaults turned on explicitly.

DEBUG=1 gives the development SECRET_KEY and FIELD_ENCRYPTION_KEY and plain-HTTP cookies
(pytest-django still runs each test with settings.DEBUG False); BENCH=1 installs the bench app,
whose data set command is tested. They are set in the environment so that the processes the
tests start (workers, servers, manage.py) inherit them.
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("BENCH", "1")
# Tests talk to local stub servers (the SSRF guard's own tests switch it back on); workers and
# servers the tests start must reach them too.
os.environ.setdefault("INTEGRATIONS_ALLOW_PRIVATE_URLS", "1")

from config.settings import *  # noqa: F403
