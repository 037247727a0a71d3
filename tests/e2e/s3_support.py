"""The S3 server scripts/test.sh starts for the suite (scripts/s3-server.sh; its env file named
by BERTH_TEST_S3_ENV), as a fixture, and berth-registry's `storage.s3` section for it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

MiB = 1024 * 1024


@pytest.fixture
def s3():
    """The S3 server's endpoint, keys and bucket; the suite fails, loudly, without one."""
    path = os.environ.get("BERTH_TEST_S3_ENV")
    assert path and Path(path).is_file(), \
        "BERTH_TEST_S3_ENV names no env file of scripts/s3-server.sh: run the suite with scripts/test.sh"
    values = dict(line.split("=", 1) for line in Path(path).read_text().splitlines() if "=" in line)
    return values


def s3_storage(s3, prefix, **extra):
    section = {"accesskey": s3["S3_ACCESS_KEY"], "secretkey": s3["S3_SECRET_KEY"], "region": "us-east-1",
               "regionendpoint": s3["S3_ENDPOINT"], "forcepathstyle": True, "bucket": s3["S3_BUCKET"],
               "rootdirectory": f"/{prefix}", "chunksize": 5 * MiB}
    section.update(extra)
    return section
