"""Distribution config features, each through the real server: upload purging, read-only
mode, an API prefix, extra headers, JSON logs, and the external host in Location headers."""
import json
import time

from registry_client import BerthRegistry


def test_upload_purging_removes_abandoned_sessions(tmp_path):
    reg = BerthRegistry(tmp_path)
    reg.stop()
    reg.config["storage"]["maintenance"] = {"uploadpurging": {"enabled": True, "age": "1s", "interval": "1s",
                                                              "dryrun": False}}
    reg.start()
    try:
        location = reg.start_upload("purge/app")
        assert reg.request("PATCH", location, b"abandoned").status == 202
        deadline = time.time() + 15
        while time.time() < deadline and reg.request("GET", location).status == 204:
            time.sleep(0.3)
        assert reg.request("GET", location).error_code() == "BLOB_UPLOAD_UNKNOWN"
        assert not list((tmp_path / "root" / "berth" / "uploads").iterdir())
    finally:
        reg.stop()


def test_read_only_mode_serves_pulls_and_refuses_pushes(tmp_path):
    reg = BerthRegistry(tmp_path)
    digest, body = reg.push_image("ro/app", "v1")
    reg.stop()
    reg.config["storage"]["maintenance"] = {"readonly": {"enabled": True}}
    reg.start()
    try:
        assert reg.request("GET", "/v2/ro/app/manifests/v1").body == body
        refused = reg.request("POST", "/v2/ro/app/blobs/uploads/")
        assert refused.status == 405 and refused.error_code() == "UNSUPPORTED"
        assert reg.request("DELETE", f"/v2/ro/app/manifests/{digest}").status == 405
    finally:
        reg.stop()


def test_prefix_headers_host_and_json_logs(tmp_path):
    # The readiness probe uses /v2/; with a prefix it lives under /registry/v2/.
    reg = BerthRegistry(tmp_path, ready_path="/registry/v2/", extra_config={
        "log": {"level": "info", "formatter": "json"},
        "http": {"prefix": "/registry/", "host": "https://registry.example.com",
                 "headers": {"X-Content-Type-Options": ["nosniff"]}}})
    try:
        base = reg.request("GET", "/registry/v2/")
        assert base.header("X-Content-Type-Options") == "nosniff"
        assert reg.request("GET", "/v2/").status == 404
        started = reg.request("POST", "/registry/v2/pre/app/blobs/uploads/")
        assert started.status == 202
        assert started.header("Location").startswith("https://registry.example.com/registry/v2/pre/app/blobs/uploads/")
        lines = [line for line in reg.log_since_start().splitlines() if line.strip()]
        assert lines and all(json.loads(line)["level"] for line in lines)
        assert any(json.loads(line)["msg"] == "listening" for line in lines)
    finally:
        reg.stop()
