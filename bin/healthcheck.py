#!/usr/bin/env python
"""Docker HEALTHCHECK for the web container: GET /health/live/ on the local gunicorn.

Standard library only and no Django start-up, so it is cheap to run every few seconds.
Usage: healthcheck.py [URL]   (default http://127.0.0.1:$PORT/health/live/)
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    default = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/live/"
    url = sys.argv[1] if len(sys.argv) > 1 else default
    try:
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - fixed local URL
            return 0 if response.status == 200 else 1
    except Exception as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
