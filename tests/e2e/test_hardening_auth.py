"""Issue 10, SigV4 refusals and admin routes behind IAM, against the real server with raw
requests signed by botocore (or built by hand where botocore would not send them).

Sources: spec wave2.md §3.2 (SigV4 failures on EC2, "Recommended check order"), §3.4
(unsigned EC2 → MissingParameter) and conformance cases 45–53; Coral's wording for IAM and STS
(`Credential should be scoped to correct service: '<svc>'. `, quoted for CloudFormation, a
Query service, in timkay/aws#111). What no source confirms is marked UNCONFIRMED where it is
asserted. Everything talks to 127.0.0.1 only.
"""
from __future__ import annotations

import datetime
import http.client
import os
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import helpers
from helpers import ACCESS_KEY, REGION, SECRET_KEY, expect_raw_error
from iam_helpers import Acct, Clients, Creds, doc, iam_server, make_user, signed_request, uniq

ROOT = Acct("111122223333", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
AUTH_FAILURE = "AWS was not able to validate the provided access credentials"
HOST_NOT_SIGNED = "'Host' must be a 'SignedHeader' in the AWS Authorization."
BOTH_FORMS = ("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as "
              "HTTP header.")
DESCRIBE = {"Action": "DescribeInstances", "Version": "2016-11-15"}
RUN = {"Action": "RunInstances", "Version": "2016-11-15", "ImageId": helpers.AMI_AL2,
       "InstanceType": "t3.micro", "MinCount": "1", "MaxCount": "1"}
STS_CALL = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
IAM_CALL = {"Action": "ListAccessKeys", "Version": "2010-05-08"}
FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.fixture(scope="module")
def open_srv(tmp_path_factory):
    """Without --iam-config."""
    yield from helpers.running(helpers.ImdsServer(tmp_path_factory.mktemp("open")))


@pytest.fixture(scope="module")
def iam_srv(tmp_path_factory):
    """With --iam-config, the API on 127.0.0.1."""
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("iam"), [ROOT]))


@pytest.fixture(scope="module")
def wildcard_srv(tmp_path_factory):
    """With --iam-config, the API on 0.0.0.0: /metrics is no longer open."""
    from iam_helpers import write_iam_config
    d = tmp_path_factory.mktemp("wild")
    cfg = write_iam_config(d / "iamcfg", [ROOT])
    yield from helpers.running(helpers.WildcardServer(d / "srv", extra_args=["--iam-config", str(cfg)]))


def root_creds() -> Creds:
    return Creds(ROOT.key, ROOT.secret)


def any_creds(srv) -> Creds:
    """Credentials `srv` accepts: any well-formed ones without IAM, the root's with it."""
    return root_creds() if "--iam-config" in srv.extra_args else Creds(ACCESS_KEY, SECRET_KEY)


def send(srv, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
         ) -> helpers.RawResponse:
    """One request with exactly these headers, repeated names kept (http.client's putheader)."""
    parts = urllib.parse.urlsplit(srv.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body or method == "POST":
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        r = conn.getresponse()
        hl = r.getheaders()
        return helpers.RawResponse(r.status, r.reason, {k.lower(): v for k, v in hl}, r.read(), hl)
    finally:
        conn.close()


def header_signed(srv, params: dict | None, creds: Creds, *, method: str = "POST",
                  path: str = "/", service: str = "ec2", region: str = REGION,
                  when: datetime.datetime | None = None) -> tuple[list[tuple[str, str]], bytes]:
    """Headers (Host first) and body of a request signed by botocore in the header form."""
    body = urllib.parse.urlencode(params).encode() if params is not None else b""
    headers = {"Content-Type": FORM} if params is not None else {}
    req = AWSRequest(method=method, url=srv.endpoint + path, data=body, headers=headers)
    signer = SigV4Auth(Credentials(creds.key, creds.secret, creds.token), service, region)
    if when is None:
        signer.add_auth(req)
    else:
        from unittest import mock

        import botocore.auth
        with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: when):
            signer.add_auth(req)
    host = urllib.parse.urlsplit(srv.endpoint).netloc
    return [("Host", host), *req.headers.items()], body


def query_error(resp: helpers.RawResponse) -> tuple[str, str]:
    """(Code, Message) of an IAM / STS `ErrorResponse`."""
    root = ET.fromstring(resp.body)
    assert root.tag.endswith("ErrorResponse"), resp
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    err = root.find(f"{ns}Error")
    return err.find(f"{ns}Code").text, err.find(f"{ns}Message").text


def replace_header(headers, name: str, fn) -> list[tuple[str, str]]:
    return [(k, fn(v) if k.lower() == name.lower() else v) for k, v in headers]


# --------------------------------------------------------------------------------------
# 1. The credential scope's Region (wave2 §3.2, cases 46 and 47)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
@pytest.mark.parametrize("region", ["mars-central-9", "US-EAST-1"])
def test_scope_region_imds_does_not_know_is_auth_failure(request, which, region):
    srv = request.getfixturevalue(which)
    ec2 = Clients(srv, any_creds(srv)).ec2(region="us-east-1")
    before = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}
    resp = signed_request(srv, any_creds(srv), RUN, region=region)
    expect_raw_error(resp, "AuthFailure", 401, AUTH_FAILURE)
    resp = signed_request(srv, any_creds(srv), DESCRIBE, region=region, query=True)
    expect_raw_error(resp, "AuthFailure", 401, AUTH_FAILURE)
    after = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
             for i in r["Instances"]}
    assert after == before, "a refused RunInstances launched nothing"


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
def test_scope_in_a_known_region_is_accepted(request, which):
    srv = request.getfixturevalue(which)
    resp = signed_request(srv, any_creds(srv), DESCRIBE, region="eu-west-1")
    assert resp.status == 200, resp


def test_unsigned_request_without_iam_config_stays_allowed(open_srv):
    resp = helpers.raw(open_srv.endpoint, DESCRIBE, sign_request=False)
    assert resp.status == 200, resp


# --------------------------------------------------------------------------------------
# 2. The scope's service, per dialect (wave2 §3.2 case 48; Coral for IAM and STS)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
@pytest.mark.parametrize("service", ["s3", "monitoring", "sts"])
def test_ec2_scoped_to_another_service_is_auth_failure(request, which, service):
    # wave2 §3.2: "recommended" (UNCONFIRMED for EC2).
    srv = request.getfixturevalue(which)
    resp = signed_request(srv, any_creds(srv), DESCRIBE, service=service)
    expect_raw_error(resp, "AuthFailure", 401, AUTH_FAILURE)


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
@pytest.mark.parametrize("params,service,expected", [
    (STS_CALL, "ec2", "sts"), (STS_CALL, "s3", "sts"),
    (IAM_CALL, "ec2", "iam"), (IAM_CALL, "s3", "iam"),
])
def test_iam_and_sts_scoped_to_another_service_answer_as_coral(request, which, params,
                                                               service, expected):
    srv = request.getfixturevalue(which)
    resp = signed_request(srv, any_creds(srv), params, service=service, region="us-east-1")
    assert resp.status == 403, resp
    assert query_error(resp) == (
        "SignatureDoesNotMatch", f"Credential should be scoped to correct service: '{expected}'. ")


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
def test_iam_and_sts_scoped_to_their_own_service_work(request, which):
    srv = request.getfixturevalue(which)
    for params, service in [(STS_CALL, "sts"), (IAM_CALL, "iam")]:
        resp = signed_request(srv, any_creds(srv), params, service=service, region="us-east-1")
        assert resp.status == 200, resp


def test_sts_scoped_to_an_unknown_region_answers_as_coral(iam_srv):
    resp = signed_request(iam_srv, root_creds(), STS_CALL, service="sts", region="mars-central-9")
    assert resp.status == 403, resp
    assert query_error(resp) == (
        "SignatureDoesNotMatch", "Credential should be scoped to a valid region, not 'mars-central-9'. ")


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
def test_scope_date_other_than_x_amz_date_is_auth_failure(request, which):
    srv = request.getfixturevalue(which)
    headers, body = header_signed(srv, DESCRIBE, any_creds(srv))
    today = [v for k, v in headers if k.lower() == "x-amz-date"][0][:8]
    other = (datetime.datetime.strptime(today, "%Y%m%d") - datetime.timedelta(days=1)).strftime("%Y%m%d")
    headers = replace_header(headers, "Authorization", lambda v: v.replace(f"/{today}/", f"/{other}/"))
    expect_raw_error(send(srv, "POST", "/", headers, body), "AuthFailure", 401, AUTH_FAILURE)


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
def test_expired_comes_before_the_scope_and_host(request, which):
    """wave2 §3.2 "Recommended check order": the clock before `host` and the scope."""
    srv = request.getfixturevalue(which)
    then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=30)
    headers, body = header_signed(srv, DESCRIBE, any_creds(srv), region="mars-central-9", when=then)
    headers = replace_header(headers, "Authorization",
                             lambda v: v.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;"))
    expect_raw_error(send(srv, "POST", "/", headers, body), "RequestExpired", 400, "Request has expired.")


# --------------------------------------------------------------------------------------
# 3. `host` must be signed (wave2 §3.2 case 51)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
def test_host_not_signed_in_the_header_is_refused(request, which):
    srv = request.getfixturevalue(which)
    headers, body = header_signed(srv, DESCRIBE, any_creds(srv))
    auth = [v for k, v in headers if k == "Authorization"][0]
    assert "SignedHeaders=content-type;host;x-amz-date" in auth, auth
    headers = replace_header(headers, "Authorization",
                             lambda v: v.replace(";host;", ";"))
    expect_raw_error(send(srv, "POST", "/", headers, body), "SignatureDoesNotMatch", 403,
                     HOST_NOT_SIGNED)


def presigned_target(srv, creds) -> str:
    """The path and query of a DescribeInstances GET presigned by botocore."""
    req = AWSRequest(method="GET", url=srv.endpoint + "/?" + urllib.parse.urlencode(DESCRIBE))
    SigV4QueryAuth(Credentials(creds.key, creds.secret), "ec2", REGION, expires=300).add_auth(req)
    return req.url[len(srv.endpoint):]


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
def test_host_not_signed_in_a_presigned_query_is_refused(request, which):
    srv = request.getfixturevalue(which)
    creds = any_creds(srv)
    target = presigned_target(srv, creds)
    assert "X-Amz-SignedHeaders=host" in target, target
    host = ("Host", urllib.parse.urlsplit(srv.endpoint).netloc)
    ok = send(srv, "GET", target, [host])
    assert ok.status == 200, ok
    bad = target.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date")
    expect_raw_error(send(srv, "GET", bad, [host]), "SignatureDoesNotMatch", 403, HOST_NOT_SIGNED)


# --------------------------------------------------------------------------------------
# 4. One signature only (wave2 §3.2 cases 52 and 53)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
def test_two_authorization_headers_are_incomplete(request, which):
    # Code recommended by wave2 §3.2; message UNCONFIRMED.
    srv = request.getfixturevalue(which)
    headers, body = header_signed(srv, DESCRIBE, any_creds(srv))
    assert send(srv, "POST", "/", headers, body).status == 200
    auth = [v for k, v in headers if k == "Authorization"][0]
    for second in [auth, auth.replace(any_creds(srv).key, "AKIDOTHER")]:
        resp = send(srv, "POST", "/", [*headers, ("Authorization", second)], body)
        expect_raw_error(resp, "IncompleteSignature", 400)


@pytest.mark.parametrize("which", ["open_srv", "iam_srv"])
def test_authorization_header_and_presigned_query_are_incomplete(request, which):
    srv = request.getfixturevalue(which)
    creds = any_creds(srv)
    target = presigned_target(srv, creds)
    headers, _ = header_signed(srv, None, creds, method="GET", path=target)
    resp = send(srv, "GET", target, headers)
    expect_raw_error(resp, "IncompleteSignature", 400, BOTH_FORMS)


# --------------------------------------------------------------------------------------
# 5. Unsigned with --iam-config (wave2 §3.4, conformance case 45)
# --------------------------------------------------------------------------------------


def test_unsigned_ec2_with_iam_config_is_missing_parameter_case_45(iam_srv):
    resp = helpers.raw(iam_srv.endpoint, DESCRIBE, sign_request=False)
    expect_raw_error(resp, "MissingParameter", 400,
                     "The request must contain the parameter AWSAccessKeyId")


def test_unsigned_sts_with_iam_config_stays_missing_authentication_token(iam_srv):
    resp = helpers.raw(iam_srv.endpoint, STS_CALL, sign_request=False)
    assert resp.status == 403, resp
    assert query_error(resp) == ("MissingAuthenticationToken",
                                 "Request is missing Authentication Token")


# --------------------------------------------------------------------------------------
# 6. Admin routes
# --------------------------------------------------------------------------------------


def admin(srv, method: str, path: str, creds: Creds | None = None, *,
          service: str = "ec2") -> helpers.RawResponse:
    """An admin request, signed by botocore when `creds` are given."""
    if creds is None:
        headers = [("Host", urllib.parse.urlsplit(srv.endpoint).netloc)]
    else:
        headers, _ = header_signed(srv, None, creds, method=method, path=path, service=service)
    return send(srv, method, path, headers)


ALLOW_DETACH = doc({"Effect": "Allow", "Action": "imds:DetachNetworkNamespace", "Resource": "*"})
ALLOW_METRICS = doc({"Effect": "Allow", "Action": "imds:GetMetrics", "Resource": "*"})
ALLOW_EC2 = doc({"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})


def test_admin_routes_stay_open_without_iam_config(open_srv):
    resp = admin(open_srv, "DELETE", "/_imds/netns/imds-none")
    assert (resp.status, resp.body) == (404, b"not serving in imds-none\n")
    resp = admin(open_srv, "POST", "/_imds/netns/bad.name")
    assert (resp.status, resp.body) == (400, b"bad namespace name")
    assert admin(open_srv, "GET", "/metrics").status == 200


def test_netns_routes_with_iam_config_need_a_signed_allowed_caller(iam_srv):
    iam = Clients(iam_srv, ROOT).iam()
    _, detacher = make_user(iam, uniq("detacher"), [ALLOW_DETACH])
    _, ec2_only = make_user(iam, uniq("ec2only"), [ALLOW_EC2])
    path = "/_imds/netns/imds-none"
    expect_raw_error(admin(iam_srv, "DELETE", path), "MissingParameter", 400,
                     "The request must contain the parameter AWSAccessKeyId")
    expect_raw_error(admin(iam_srv, "DELETE", path, Creds(ROOT.key, "x" * 40)),
                     "SignatureDoesNotMatch", 403)
    expect_raw_error(admin(iam_srv, "DELETE", path, Creds("AKIDUNKNOWN000000000", "x")),
                     "AuthFailure", 401)
    expect_raw_error(admin(iam_srv, "DELETE", path, root_creds(), service="s3"),
                     "AuthFailure", 401, AUTH_FAILURE)
    for who, method in [(ec2_only, "DELETE"), (ec2_only, "POST"), (detacher, "POST")]:
        msg = expect_raw_error(admin(iam_srv, method, path, who), "UnauthorizedOperation", 403)
        action = "imds:DetachNetworkNamespace" if method == "DELETE" else "imds:AttachNetworkNamespace"
        assert f"is not authorized to perform: {action} on resource: *" in msg, msg
    # Allowed callers reach the route itself (which has nothing to detach, or refuses the name).
    for who in [detacher, root_creds()]:
        resp = admin(iam_srv, "DELETE", path, who)
        assert (resp.status, resp.body) == (404, b"not serving in imds-none\n"), resp
    resp = admin(iam_srv, "POST", "/_imds/netns/bad.name", root_creds())
    assert (resp.status, resp.body) == (400, b"bad namespace name"), resp


def test_metrics_with_iam_config_stay_open_on_loopback(iam_srv):
    resp = admin(iam_srv, "GET", "/metrics")
    assert resp.status == 200, resp
    assert b"imds_metadata_requests" in resp.body


def test_metrics_with_iam_config_off_loopback_need_get_metrics(wildcard_srv):
    iam = Clients(wildcard_srv, ROOT).iam()
    _, reader = make_user(iam, uniq("reader"), [ALLOW_METRICS])
    _, ec2_only = make_user(iam, uniq("ec2only"), [ALLOW_EC2])
    expect_raw_error(admin(wildcard_srv, "GET", "/metrics"), "MissingParameter", 400)
    msg = expect_raw_error(admin(wildcard_srv, "GET", "/metrics", ec2_only),
                           "UnauthorizedOperation", 403)
    assert "imds:GetMetrics" in msg
    for who in [reader, root_creds()]:
        resp = admin(wildcard_srv, "GET", "/metrics", who)
        assert resp.status == 200, resp
        assert b"imds_metadata_requests" in resp.body

    # `imds stats` signs its request with the credentials of the environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    cmd = [helpers.IMDS_BIN, "stats", "--endpoint", wildcard_srv.endpoint]
    unsigned = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert unsigned.returncode != 0 and "MissingParameter" in unsigned.stderr, unsigned
    signed = subprocess.run(cmd, env={**env, "AWS_ACCESS_KEY_ID": reader.key,
                                      "AWS_SECRET_ACCESS_KEY": reader.secret},
                            capture_output=True, text=True, timeout=30)
    assert signed.returncode == 0, signed
