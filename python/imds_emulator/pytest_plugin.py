"""The pytest plugin of imds (registered by the `pytest11` entry point `imds`).

Fixtures:

- ``imds_server`` (session): one ``imds serve --ephemeral`` on free loopback ports for the
  whole session (a `Server`): ``api_url``, ``metadata_url``, ``env()`` (the variables boto3,
  botocore and the aws CLI take it from), ``client(service)``, ``launch(**RunInstances)``.
- ``imds_env`` (function): ``imds_server.env()`` set in ``os.environ`` for the test (with
  ``monkeypatch``), so code under test that builds its own clients reaches the server.
- ``imds_instance`` (function): a fresh running instance with its own metadata endpoint on
  loopback (an `Instance`: ``id``, ``metadata_url``, ``env``, ``get``, ``token``,
  ``modify_metadata_options``), terminated after the test. Parametrize it indirectly to
  launch it otherwise::

      @pytest.mark.parametrize("imds_instance",
                               [{"MetadataOptions": {"HttpTokens": "required"}}],
                               indirect=True)
      def test_needs_a_token(imds_instance): ...

Options: ``--imds-iam-config PATH`` (accounts, keys and SCPs: requests are then signed and
authorized; the fixtures sign with the first account's root key), ``--imds-apply-delay``
(how long changed metadata options stay ``pending``, default 50ms), ``--imds-spot-notice``
(how long a Spot interruption notice lasts, default EC2's 2m), ``--imds-bin`` (another
binary than the installed one; also ``$IMDS_BIN``).
"""
from __future__ import annotations

import os

import pytest

from . import ImdsError, Instance, Server


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imds", "imds: a local EC2 metadata-options stand-in")
    group.addoption("--imds-iam-config", metavar="PATH", default=None,
                    help="start imds with this --iam-config (signed, authorized requests)")
    group.addoption("--imds-apply-delay", metavar="DURATION", default="50ms",
                    help="how long changed metadata options stay pending (default 50ms)")
    group.addoption("--imds-spot-notice", metavar="DURATION", default=None,
                    help="how long a Spot interruption notice lasts (default 2m, EC2's)")
    group.addoption("--imds-bin", metavar="PATH", default=None,
                    help="the imds binary (default: the one this package installed)")


@pytest.fixture(scope="session")
def imds_server(pytestconfig: pytest.Config):
    """One imds server for the session, stopped at its end."""
    option = pytestconfig.getoption
    server = Server(iam_config=option("--imds-iam-config"),
                    apply_delay=option("--imds-apply-delay"),
                    spot_notice=option("--imds-spot-notice"),
                    imds_bin=option("--imds-bin"))
    try:
        server.start()
    except ImdsError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imds_env(imds_server: Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The server's environment, set for this test only."""
    env = imds_server.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # A profile or credentials file of the user's would otherwise win over nothing here,
    # but could name another Region or role: the test's environment is the server's.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return env


@pytest.fixture
def imds_instance(imds_server: Server, request: pytest.FixtureRequest):
    """A fresh running instance (RunInstances with ``request.param``'s parameters when the
    fixture is parametrized indirectly), terminated after the test."""
    params = dict(getattr(request, "param", None) or {})
    instance: Instance = imds_server.launch(**params)
    try:
        yield instance
    finally:
        instance.terminate()


def pytest_report_header(config: pytest.Config) -> str | None:
    iam = config.getoption("--imds-iam-config")
    return f"imds: --iam-config {iam}" if iam else None
