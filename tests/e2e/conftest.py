"""pytest fixtures for the end-to-end tests (see registry_process.py for the registry API).

Fixtures:
    registry_impl      "berth" or "distribution" (env E2E_REGISTRY, default berth)
    registry           a started RegistryProcess for one test (own root dir and port)
    registry_module    the same, shared by every test of a module
    make_registry      factory: make_registry(tls=True, htpasswd={"u": "p"}, impl=..., ...) -> started
    busybox_layout     ImageInfo of an OCI layout with busybox (tag "latest") in tmp_path
    (autouse)          every test module's skopeo calls get a credential-free home of their own

Markers:
    @pytest.mark.berth_only(reason)  skip unless running against berth (features Distribution
                                     2.8.2 lacks: referrers API, OCI-Subject, ...)

When a test fails, the tail of each of its registries' logs is added to its report (make_registry's
are printed at teardown).
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from images import make_busybox_oci_layout  # noqa: E402
from registry_process import RegistryProcess, implementation_available, registry_impl as _impl_from_env  # noqa: E402
from skopeo_support import set_skopeo_home  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "berth_only(reason): needs a feature Distribution 2.8.2 lacks")


def pytest_collection_modifyitems(config, items):
    impl = _impl_from_env()
    for item in items:
        marker = item.get_closest_marker("berth_only")
        if marker and impl != "berth":
            why = marker.args[0] if marker.args else "not supported by Distribution 2.8.2"
            item.add_marker(pytest.mark.skip(reason=f"{impl}: {why}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.when == "call" and rep.failed:
        # Attach the log tail of every registry the test used (directly, or via an object's .reg).
        seen = set()
        for value in getattr(item, "funcargs", {}).values():
            reg = value if isinstance(value, RegistryProcess) else getattr(value, "reg", None)
            if isinstance(reg, RegistryProcess) and id(reg) not in seen:
                seen.add(id(reg))
                rep.sections.append((f"{reg.impl} log ({reg.url})", reg.log_tail(60)))


def _failed(request) -> bool:
    node = request.node
    return any(getattr(getattr(node, "rep_" + w, None), "failed", False) for w in ("setup", "call"))


@pytest.fixture(scope="module", autouse=True)
def _skopeo_home(tmp_path_factory):
    set_skopeo_home(tmp_path_factory.mktemp("skopeo-home"))


@pytest.fixture(scope="session")
def registry_impl():
    return _impl_from_env()


def _require(impl):
    ok, why = implementation_available(impl)
    if not ok:
        pytest.skip(why)


@pytest.fixture
def registry(request, tmp_path, registry_impl):
    """A registry (E2E_REGISTRY implementation, delete enabled, plain HTTP) for one test."""
    _require(registry_impl)
    reg = RegistryProcess(tmp_path / "registry", registry_impl)
    reg.start()
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def registry_module(request, tmp_path_factory, registry_impl):
    """A registry shared by all tests of a module (keep tests independent: use distinct repos)."""
    _require(registry_impl)
    reg = RegistryProcess(tmp_path_factory.mktemp("registry"), registry_impl)
    reg.start()
    yield reg
    reg.close()


@pytest.fixture
def make_registry(request, tmp_path, registry_impl):
    """Factory for registries with options; all are stopped at teardown."""
    made = []

    def factory(impl=None, **kwargs):
        impl = impl or registry_impl
        _require(impl)
        reg = RegistryProcess(tmp_path / f"registry{len(made)}", impl, **kwargs)
        made.append(reg)
        return reg.start()

    yield factory
    for reg in made:
        if _failed(request):
            print(f"\n{reg!r}\n{reg.log_tail(80)}")
        reg.close()


@pytest.fixture
def busybox_layout(tmp_path):
    return make_busybox_oci_layout(tmp_path / "busybox-oci", tag="latest")
