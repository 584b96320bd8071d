"""Fixtures: one imds server per test module, a pristine one per test when asked for,
clients bound to them, and the server's stderr attached to every failure report."""
from __future__ import annotations

import os

import pytest

import helpers
from helpers import ImdsServer

MARKERS = {
    "needs_iam": "needs IAM configuration (--iam-config), delivered by the IAM issue; strict xfail until then",
    "slow": "takes more than a few seconds (thousands of instances, crash/restart)",
    "cli": "runs the real aws CLI",
    "sqlite_only": "tests the SQLite store's file itself; deselected when IMDS_STORE=postgres",
    "postgres_only": "several nodes on one PostgreSQL database; deselected unless IMDS_STORE=postgres",
    "store_neutral": ("a client's own suite (Terraform's provider, the README's commands, the console "
                      "in a browser): every store call it makes, the API suites make on both stores; "
                      "run on SQLite only, deselected when IMDS_STORE=postgres"),
}


def pytest_collection_modifyitems(config, items):
    # On PostgreSQL (IMDS_STORE=postgres) the tests of the SQLite file are not run, and on
    # SQLite the tests of several nodes sharing one database: deselected, not skipped, since
    # there is nothing for them to test there (scripts/test runs both passes). The suites of a
    # client (`store_neutral`) run on SQLite only: they ask nothing of the store that the API
    # suites do not ask on both, and they are most of a pass's time (Terraform's provider alone
    # spends seconds of CPU at every start), which CI's 40 minutes cannot pay twice.
    postgres = os.environ.get("IMDS_STORE") == "postgres"
    others = ("sqlite_only", "store_neutral") if postgres else ("postgres_only",)
    kept = [i for i in items if not any(i.get_closest_marker(m) for m in others)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_configure(config):
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    # Keep the developer's AWS configuration (profiles, endpoints, retry settings) out of
    # boto3: every client here is built with explicit credentials and endpoint.
    for var in list(os.environ):
        if var.startswith("AWS_") and var not in ("AWS_CA_BUNDLE",):
            del os.environ[var]
    os.environ["AWS_CONFIG_FILE"] = "/dev/null"
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


# A suite that needs what this machine lacks skips loudly, saying how to get it. Under
# IMDS_REQUIRE_ALL=1 (as .ci/run sets) a skip is a failure instead, so CI cannot pass by
# skipping.
REQUIRE_ALL = os.environ.get("IMDS_REQUIRE_ALL") == "1"


def _fail_skip_if_required(report) -> None:
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"SKIPPED under IMDS_REQUIRE_ALL=1 (a skip fails in CI): {reason}"


# ----------------------------------------------------------------------------- servers


class ServerFactory:
    """Starts servers on demand inside a test; stops all of them at teardown."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.servers: list[ImdsServer] = []

    def __call__(self, *, start: bool = True, **kw) -> ImdsServer:
        srv = ImdsServer(self.tmp_path / f"srv{len(self.servers)}", **kw)
        self.servers.append(srv)
        if start:
            srv.start()
        return srv

    def close(self):
        for srv in self.servers:
            if srv.running:
                srv.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the whole test module (ephemeral store)."""
    yield from helpers.running(ImdsServer(tmp_path_factory.mktemp("imds-module")))


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own for one test: pristine store (only the default instance)."""
    yield from helpers.running(ImdsServer(tmp_path / "imds"))


@pytest.fixture
def server_factory(tmp_path):
    factory = ServerFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def endpoint(server):
    return server.endpoint


@pytest.fixture(scope="module")
def ec2(server):
    """boto3 EC2 client on the module server, region us-west-2."""
    return server.client(helpers.REGION)


@pytest.fixture
def fresh_ec2(fresh_server):
    """boto3 EC2 client on a pristine server, region us-west-2."""
    return fresh_server.client(helpers.REGION)


# ----------------------------------------------------------------------------- reporting


def _servers_of(item) -> list[ImdsServer]:
    found: list[ImdsServer] = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, ImdsServer):
            found.append(value)
        elif isinstance(value, ServerFactory):
            found.extend(value.servers)
    uniq = []
    for s in found:
        if all(s is not u for u in uniq):
            uniq.append(s)
    return uniq


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    _fail_skip_if_required(report)
    if not report.failed:
        return
    for srv in _servers_of(item):
        status = "running" if srv.running else f"exited ({srv.proc.returncode if srv.proc else '-'})"
        report.sections.append(
            (f"imds {srv.name} [{status}] {' '.join(srv.argv)} -- stderr", srv.stderr_tail()))
