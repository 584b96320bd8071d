"""botocore's own IMDS client against the loopback metadata service (spec/imds.md §14).

Every fetcher here is pointed at http://127.0.0.1:PORT/ (the `ec2_metadata_service_endpoint`
config key, or AWS_EC2_METADATA_SERVICE_ENDPOINT for the session-based paths), and each test
checks the fetcher's base URL before it sends anything. The loopback guard records (and
refuses) any connection to a non-loopback address, so botocore's default 169.254.169.254 can
never be reached from this module. Role credentials need an instance profile, so botocore's
credential fetch with a role is in test_imds_exec.py (inside the instance's namespace).

The served instance is the default instance (us-east-1a..f, no instance profile).
"""
from __future__ import annotations

import botocore.credentials
import botocore.session
import botocore.utils
import pytest
from botocore.exceptions import MetadataRetrievalError
from botocore.utils import (
    BadIMDSRequestError,
    IMDSRegionProvider,
    InstanceMetadataFetcher,
    InstanceMetadataRegionFetcher,
)

import helpers
from imds_helpers import (
    loopback_only,
    TOKEN_RE,
    default_instance,
    imds_address,
    options_applied,
)

# --------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    yield from loopback_only(monkeypatch)


@pytest.fixture(scope="module")
def base_url(server) -> str:
    return f"http://{imds_address(server)}/"


@pytest.fixture(scope="module")
def ec2e(server):
    return server.client(helpers.DEFAULT_REGION)


@pytest.fixture(scope="module")
def iid(ec2e) -> str:
    iid = default_instance(ec2e)
    helpers.wait_applied(ec2e, iid)
    return iid


@pytest.fixture(scope="module")
def region(ec2e, iid) -> str:
    az = helpers.instance(ec2e, iid)["Placement"]["AvailabilityZone"]
    assert az[:-1] == helpers.DEFAULT_REGION
    return az[:-1]


class Recorder:
    """Wraps a fetcher's HTTP session: every (method, url, request headers, status, body)."""

    def __init__(self, fetcher):
        self.calls: list[tuple[str, str, dict, int, bytes]] = []
        real = fetcher._session.send

        def send(request):
            resp = real(request)
            self.calls.append((request.method, request.url,
                               {k.lower(): v for k, v in request.headers.items()},
                               resp.status_code, resp.content))
            return resp

        fetcher._session.send = send

    def summary(self) -> list[tuple[str, str, bool, int]]:
        """(method, path, carried a token, status) per request."""
        out = []
        for method, url, headers, status, _ in self.calls:
            path = "/" + url.split("/", 3)[3]
            out.append((method, path, "x-aws-ec2-metadata-token" in headers, status))
        return out


def make(cls, base_url: str, *, attempts: int = 1, v1_disabled: bool = False, **attrs):
    """A botocore fetcher bound to the loopback service, with a request recorder.

    `attrs` override class attributes (`_TOKEN_PATH`, `_TOKEN_TTL`) to make botocore send the
    requests that produce the token-endpoint answers of spec §14 (400, 403, 405)."""
    if attrs:
        cls = type(f"Tweaked{cls.__name__}", (cls,), dict(attrs))
    config = {"ec2_metadata_service_endpoint": base_url}
    if v1_disabled:
        config["ec2_metadata_v1_disabled"] = True
    fetcher = cls(timeout=2, num_attempts=attempts, env={}, config=config)
    assert fetcher.get_base_url() == base_url, "botocore is not pointed at the loopback service"
    assert base_url.startswith("http://127.0.0.1:")
    return fetcher, Recorder(fetcher)


REGION_PATH = "/latest/meta-data/placement/availability-zone/"
ROLE_PATH = "/latest/meta-data/iam/security-credentials/"
TOKEN = "/latest/api/token"


# --------------------------------------------------------------------------------------
# Built-in options: HttpTokens optional
# --------------------------------------------------------------------------------------


def test_botocore_region_with_token(base_url, region):
    fetcher, rec = make(InstanceMetadataRegionFetcher, base_url)
    assert fetcher.retrieve_region() == region
    assert rec.summary() == [("PUT", TOKEN, False, 200), ("GET", REGION_PATH, True, 200)]
    put, got = rec.calls
    assert put[2]["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    assert TOKEN_RE.match(put[4].decode()), put[4]
    assert got[2]["x-aws-ec2-metadata-token"] == put[4].decode(), "the token PUT returned"


def test_botocore_no_role_returns_empty(base_url, iid):
    fetcher, rec = make(InstanceMetadataFetcher, base_url)
    assert fetcher.retrieve_iam_role_credentials() == {}
    # 404 on security-credentials/ is "no role" (spec §9): botocore stops after one GET.
    assert rec.summary() == [("PUT", TOKEN, False, 200), ("GET", ROLE_PATH, True, 404)]


def test_botocore_no_role_retries_then_empty(base_url, iid):
    fetcher, rec = make(InstanceMetadataFetcher, base_url, attempts=3)
    assert fetcher.retrieve_iam_role_credentials() == {}
    assert rec.summary() == [("PUT", TOKEN, False, 200)] + [("GET", ROLE_PATH, True, 404)] * 3


def test_botocore_v1_disabled_still_works_with_token(base_url, region):
    fetcher, rec = make(InstanceMetadataRegionFetcher, base_url, v1_disabled=True)
    assert fetcher.retrieve_region() == region
    assert [s[2] for s in rec.summary()] == [False, True]


def test_botocore_token_400_gives_up(base_url):
    """Spec §14: 400 on the token PUT → botocore gives up (no IMDSv1 fallback). A TTL of
    21601 is what makes the service answer 400."""
    fetcher, rec = make(InstanceMetadataRegionFetcher, base_url, _TOKEN_TTL="21601")
    with pytest.raises(BadIMDSRequestError):
        fetcher.retrieve_region()  # not caught by retrieve_region
    assert rec.summary() == [("PUT", TOKEN, False, 400)]
    creds, rec = make(InstanceMetadataFetcher, base_url, _TOKEN_TTL="0")
    assert creds.retrieve_iam_role_credentials() == {}
    assert rec.summary() == [("PUT", TOKEN, False, 400)]


def test_botocore_token_403_falls_back_to_v1(base_url, region):
    """Spec §14: 403 on the token PUT → IMDSv1. `latest/api/token/` is answered 403."""
    fetcher, rec = make(InstanceMetadataRegionFetcher, base_url,
                        _TOKEN_PATH="latest/api/token/")
    assert fetcher.retrieve_region() == region
    assert rec.summary() == [("PUT", TOKEN + "/", False, 403),
                             ("GET", REGION_PATH, False, 200)]


def test_botocore_token_405_falls_back_to_v1(base_url, region):
    """Spec §14: 405 → IMDSv1. A PUT on a metadata path is answered 405."""
    fetcher, rec = make(InstanceMetadataRegionFetcher, base_url,
                        _TOKEN_PATH="latest/meta-data/instance-id")
    assert fetcher.retrieve_region() == region
    assert rec.summary() == [("PUT", "/latest/meta-data/instance-id", False, 405),
                             ("GET", REGION_PATH, False, 200)]


def test_botocore_token_403_with_v1_disabled_raises(base_url):
    fetcher, rec = make(InstanceMetadataRegionFetcher, base_url, v1_disabled=True,
                        _TOKEN_PATH="latest/api/token/")
    with pytest.raises(MetadataRetrievalError):
        fetcher.retrieve_region()
    assert rec.summary() == [("PUT", TOKEN + "/", False, 403)]


# --------------------------------------------------------------------------------------
# HttpTokens required
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="class")
def required(ec2e, iid):
    with options_applied(ec2e, iid, HttpTokens="required") as opts:
        yield opts


@pytest.mark.usefixtures("required")
class TestRequired:
    def test_botocore_region_required(self, base_url, region):
        fetcher, rec = make(InstanceMetadataRegionFetcher, base_url)
        assert fetcher.retrieve_region() == region
        assert rec.summary() == [("PUT", TOKEN, False, 200), ("GET", REGION_PATH, True, 200)]

    def test_botocore_no_role_required(self, base_url):
        fetcher, rec = make(InstanceMetadataFetcher, base_url)
        assert fetcher.retrieve_iam_role_credentials() == {}
        assert rec.summary() == [("PUT", TOKEN, False, 200), ("GET", ROLE_PATH, True, 404)]

    def test_botocore_v1_fallback_refused_under_required(self, base_url):
        """Token refused (403) → botocore falls back to IMDSv1 → 401 under required, retried
        `num_attempts` times → None."""
        fetcher, rec = make(InstanceMetadataRegionFetcher, base_url, attempts=2,
                            _TOKEN_PATH="latest/api/token/")
        assert fetcher.retrieve_region() is None
        assert rec.summary() == [("PUT", TOKEN + "/", False, 403),
                                 ("GET", REGION_PATH, False, 401),
                                 ("GET", REGION_PATH, False, 401)]
        assert rec.calls[1][4].startswith(b"<?xml")


# --------------------------------------------------------------------------------------
# HttpEndpoint disabled
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="class")
def disabled(ec2e, iid):
    with options_applied(ec2e, iid, HttpEndpoint="disabled") as opts:
        yield opts


@pytest.mark.usefixtures("disabled")
class TestEndpointDisabled:
    def test_botocore_region_disabled_is_none(self, base_url):
        """PUT → 403 → IMDSv1 fallback → GET 403 (non-200: retried num_attempts times) →
        `_RetriesExceededError`, which retrieve_region turns into None."""
        fetcher, rec = make(InstanceMetadataRegionFetcher, base_url, attempts=2)
        assert fetcher.retrieve_region() is None
        assert rec.summary() == [("PUT", TOKEN, False, 403),
                                 ("GET", REGION_PATH, False, 403),
                                 ("GET", REGION_PATH, False, 403)]
        assert all(c[4] == b"" for c in rec.calls)

    def test_botocore_credentials_disabled_is_empty(self, base_url):
        fetcher, rec = make(InstanceMetadataFetcher, base_url)
        assert fetcher.retrieve_iam_role_credentials() == {}
        assert rec.summary() == [("PUT", TOKEN, False, 403), ("GET", ROLE_PATH, False, 403)]

    def test_botocore_disabled_with_v1_disabled_raises(self, base_url):
        fetcher, rec = make(InstanceMetadataRegionFetcher, base_url, v1_disabled=True)
        with pytest.raises(MetadataRetrievalError):
            fetcher.retrieve_region()
        assert rec.summary() == [("PUT", TOKEN, False, 403)]


# --------------------------------------------------------------------------------------
# Session-based paths (environment variables)
# --------------------------------------------------------------------------------------


@pytest.fixture
def imds_env(monkeypatch, base_url):
    """The environment a process on the instance would have, pointed at loopback."""
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", base_url)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_METADATA_SERVICE_TIMEOUT", "2")
    monkeypatch.setenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1")
    return monkeypatch


def test_botocore_session_region_provider(imds_env, base_url, region):
    session = botocore.session.Session()
    provider = IMDSRegionProvider(session)
    fetcher = provider._get_fetcher()
    assert fetcher.get_base_url() == base_url
    rec = Recorder(fetcher)
    assert provider.provide() == region
    assert [s[:3] for s in rec.summary()] == [("PUT", TOKEN, False), ("GET", REGION_PATH, True)]


def test_botocore_session_endpoint_wins_over_ipv6_mode(imds_env, base_url, region):
    """Spec §14: AWS_EC2_METADATA_SERVICE_ENDPOINT wins over the endpoint mode."""
    imds_env.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")
    session = botocore.session.Session()
    provider = IMDSRegionProvider(session)
    assert provider._get_fetcher().get_base_url() == base_url
    assert provider.provide() == region


def test_botocore_session_v1_disabled_env(imds_env, base_url, region):
    imds_env.setenv("AWS_EC2_METADATA_V1_DISABLED", "true")
    session = botocore.session.Session()
    provider = IMDSRegionProvider(session)
    assert provider._get_fetcher().get_base_url() == base_url
    assert provider.provide() == region


def test_botocore_session_credential_chain_no_role(imds_env, base_url):
    """The whole credential chain: only the instance-metadata provider could answer, and the
    default instance has no role → no credentials (None), after asking loopback only."""
    session = botocore.session.Session()
    resolver = botocore.credentials.create_credential_resolver(session)
    imds_providers = [p for p in resolver.providers
                      if isinstance(p, botocore.credentials.InstanceMetadataProvider)]
    assert len(imds_providers) == 1
    fetcher = imds_providers[0]._role_fetcher
    assert fetcher.get_base_url() == base_url
    rec = Recorder(fetcher)
    assert resolver.load_credentials() is None
    assert rec.summary() == [("PUT", TOKEN, False, 200), ("GET", ROLE_PATH, True, 404)]


def test_botocore_disabled_env_sends_nothing(imds_env, base_url):
    imds_env.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = botocore.session.Session()
    provider = IMDSRegionProvider(session)
    rec = Recorder(provider._get_fetcher())
    assert provider.provide() is None
    assert rec.calls == []
