"""A real redis-server for the tests, started and stopped by the test suite (deploy/cluster.py starts it)."""

from __future__ import annotations

import os
import shutil

import pytest

from deploy.cluster import RedisServer as _RedisServer
from deploy.cluster import free_port

__all__ = ["RedisServer", "free_port"]


class RedisServer(_RedisServer):
    """deploy's RedisServer; skips the test outside CI when redis-server is not installed."""

    def __init__(self, folder, port=None):
        """Prepare the server, or skip (outside CI) without redis-server."""
        if shutil.which("redis-server") is None:
            if os.environ.get("CI"):
                raise RuntimeError("redis-server is not installed (.ci/run installs it)")
            pytest.skip("redis-server is not installed (CI installs it)")
        super().__init__(folder, port)
