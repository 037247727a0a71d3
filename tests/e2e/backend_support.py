"""The S3 and PostgreSQL servers scripts/test.sh starts for the suite (scripts/s3-server.sh and
scripts/postgres-server.sh; their env files named by BERTH_TEST_S3_ENV and
BERTH_TEST_POSTGRES_ENV): the `s3` fixture, berth-registry's `storage.s3` section for the bucket,
and a database of one's own with its `database` section."""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

MiB = 1024 * 1024


def env_file(variable: str) -> dict:
    """The KEY=value lines of the env file `variable` names; the suite fails, loudly, without one."""
    path = os.environ.get(variable)
    assert path and Path(path).is_file(), f"{variable} names no env file: run the suite with scripts/test.sh"
    return dict(line.split("=", 1) for line in Path(path).read_text().splitlines() if "=" in line)


@pytest.fixture
def s3():
    """The S3 server's endpoint, keys and bucket."""
    return env_file("BERTH_TEST_S3_ENV")


def postgres_url() -> str:
    pg = env_file("BERTH_TEST_POSTGRES_ENV")
    return f"postgresql://{pg['PG_USER']}:{pg['PG_PASSWORD']}@{pg['PG_HOST']}:{pg['PG_PORT']}/{pg['PG_DATABASE']}"


def create_database(prefix: str) -> dict:
    """A new, empty database on the suite's PostgreSQL; berth-registry's `database` section for it."""
    pg = env_file("BERTH_TEST_POSTGRES_ENV")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", postgres_url(), "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return {"enabled": True, "host": pg["PG_HOST"], "port": int(pg["PG_PORT"]), "user": pg["PG_USER"],
            "password": pg["PG_PASSWORD"], "dbname": name, "sslmode": "disable"}


def drop_database(section: dict) -> None:
    subprocess.run(["psql", postgres_url(), "-qc", f"DROP DATABASE IF EXISTS {section['dbname']} WITH (FORCE)"],
                   capture_output=True)


def s3_storage(s3, prefix, **extra):
    section = {"accesskey": s3["S3_ACCESS_KEY"], "secretkey": s3["S3_SECRET_KEY"], "region": "us-east-1",
               "regionendpoint": s3["S3_ENDPOINT"], "forcepathstyle": True, "bucket": s3["S3_BUCKET"],
               "rootdirectory": f"/{prefix}", "chunksize": 5 * MiB}
    section.update(extra)
    return section
