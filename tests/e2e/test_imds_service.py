"""Instance Metadata Service over loopback (spec/imds.md §1–§16).

A connection from 127.0.0.1 is served as the default instance (us-east-1, Name=imds-default),
so these tests read that instance and change its options through the EC2 API
(ModifyInstanceMetadataOptions, then wait for `applied`). Cases that need an instance with
user data, a key or an instance profile run in `TestSuccessorDefaultInstance`: a server of its
own whose default instance is terminated, so that loopback is served as the next instance of
the default account and Region, launched with those attributes. (The same cases through the
real address, from inside the instance's network namespace, are in test_imds_exec.py.)

Raw sockets throughout: header names are checked as they are on the wire. Nothing here is
sent anywhere but 127.0.0.1, and the loopback guard fails a test that tries.
"""
from __future__ import annotations

import base64
import datetime
import http.client
import json
import re
import shutil
import subprocess
import time
import urllib.parse

import pytest

import helpers
from helpers import ImdsServer, wait_until
from imds_helpers import (
    PAGE_401,
    SPEC_VERSIONS,
    OPTIONAL_VERSIONS,
    TOKEN_PATH,
    TOKEN_RE,
    TOKEN_REQ,
    TTL_REQ,
    TTL_RESP,
    loopback_only,
    TtlSniffer,
    apply_options,
    assert_empty,
    assert_framing,
    assert_page,
    assert_text_200,
    can_sniff,
    default_instance,
    get,
    imds_address,
    options_applied,
    put_token,
    request,
    request_with_port,
    token,
)

# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    yield from loopback_only(monkeypatch)


@pytest.fixture(scope="module")
def imds(server) -> str:
    return imds_address(server)


@pytest.fixture(scope="module")
def ec2e(server):
    """EC2 client in the default Region (where the default instance lives)."""
    return server.client(helpers.DEFAULT_REGION)


@pytest.fixture(scope="module")
def iid(ec2e) -> str:
    iid = default_instance(ec2e)
    opts = helpers.wait_applied(ec2e, iid)
    helpers.assert_options(opts, HttpTokens="optional", HttpPutResponseHopLimit=1,
                           HttpEndpoint="enabled", InstanceMetadataTags="disabled")
    return iid


@pytest.fixture(scope="module")
def inst(ec2e, iid) -> dict:
    return helpers.instance(ec2e, iid)


@pytest.fixture(scope="module")
def tok(imds, iid) -> str:
    return token(imds)


@pytest.fixture(scope="class")
def required(ec2e, iid):
    with options_applied(ec2e, iid, HttpTokens="required") as opts:
        yield opts


# --------------------------------------------------------------------------------------
# Tokens (cases 1–12)
# --------------------------------------------------------------------------------------


def test_imds_case_1_token_21600(imds, iid):
    r = put_token(imds, 21600)
    assert r.status == 200, r
    assert TOKEN_RE.match(r.text) and len(r.body) == 56, f"token {r.body!r}"
    assert r.text.startswith("AQA"), r.text
    assert not r.body.endswith(b"\n")
    # Exact casing on the wire, as EC2 spells it and as aws-config/go-v2 read it.
    assert r.has_line(TTL_RESP, "21600"), r.header_list
    # Each PUT gets a token of its own.
    assert token(imds) != r.text


def test_imds_case_2_ttl_1_token_dies(imds, iid):
    r = put_token(imds, 1)
    assert r.status == 200, r
    assert r.has_line(TTL_RESP, "1"), r.header_list
    time.sleep(2.1)
    assert_page(get(imds, "/latest/meta-data/instance-id", r.text), 401)


def test_imds_token_ttl_header_on_get_is_remaining_seconds(imds, iid):
    """Spec §2: a GET with a valid token carries the TTL header (remaining seconds, as the
    brief's contract says; EC2's own choice is UNCONFIRMED)."""
    t = token(imds, 30)
    first = get(imds, "/latest/meta-data/instance-id", t)
    assert first.status == 200, first
    assert int(first.header(TTL_RESP) or -1) in (29, 30), first.header_list
    assert TTL_RESP in first.names(), f"header name casing: {first.names()}"
    time.sleep(2.1)
    later = get(imds, "/latest/meta-data/instance-id", t)
    assert later.status == 200, later
    assert int(later.header(TTL_RESP) or -1) in (27, 28), later.header_list


def test_imds_case_3_no_ttl_400(imds, iid):
    r = request(imds, "PUT", TOKEN_PATH)
    assert_page(r, 400)


@pytest.mark.parametrize("case,ttl", [(4, "0"), (5, "21601"), (6, "abc"), (7, "-1"),
                                      (4, ""), (5, "99999999999999999999999")],
                         ids=["case4-0", "case5-21601", "case6-abc", "case7-minus1", "empty",
                              "huge"])
def test_imds_cases_4_to_7_bad_ttl_400(imds, iid, case, ttl):
    r = request(imds, "PUT", TOKEN_PATH, {TTL_REQ: ttl})
    assert_page(r, 400)
    assert r.header(TTL_RESP) is None


def test_imds_ttl_bounds_accepted(imds, iid):
    for ttl in ("1", "21600", "300"):
        r = put_token(imds, ttl)
        assert r.status == 200 and r.has_line(TTL_RESP, ttl), r


def test_imds_case_8_x_forwarded_for_403(imds, iid):
    r = request(imds, "PUT", TOKEN_PATH, {TTL_REQ: "21600", "X-Forwarded-For": "1.2.3.4"})
    assert_empty(r, 403)
    assert r.header(TTL_RESP) is None


def test_imds_case_9_versioned_token_path_403(imds, iid):
    r = request(imds, "PUT", "/2021-03-23/api/token", {TTL_REQ: "21600"})
    assert_empty(r, 403)


def test_imds_case_10_token_path_trailing_slash_403(imds, iid):
    r = request(imds, "PUT", "/latest/api/token/", {TTL_REQ: "21600"})
    assert_empty(r, 403)
    assert r.header("Content-Type") == "text/plain", r.header_list


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_imds_case_11_token_path_other_methods_405(imds, tok, method):
    r = request(imds, method, TOKEN_PATH, {TTL_REQ: "21600", TOKEN_REQ: tok})
    assert_empty(r, 405)
    assert r.reason == "Not Allowed", r
    assert r.has_line("Allow", "OPTIONS, PUT"), r.header_list
    assert r.header("Content-Type") == "text/plain", r.header_list


def test_imds_case_12_header_names_case_insensitive(imds, iid):
    for name in ("x-aws-ec2-metadata-token-ttl-seconds", "X-AWS-EC2-METADATA-TOKEN-TTL-SECONDS"):
        r = request(imds, "PUT", TOKEN_PATH, {name: "60"})
        assert r.status == 200 and TOKEN_RE.match(r.text), (name, r)
        for tname in ("x-aws-ec2-metadata-token", "X-AWS-EC2-METADATA-TOKEN"):
            g = request(imds, "GET", "/latest/meta-data/instance-id", {tname: r.text})
            assert g.status == 200 and g.text == iid, (tname, g)
            assert g.header(TTL_RESP) is not None, g.header_list


# --------------------------------------------------------------------------------------
# HttpTokens (cases 13–16)
# --------------------------------------------------------------------------------------


def test_imds_case_13_optional_no_token_200(imds, iid):
    r = get(imds, "/latest/meta-data/instance-id")
    assert_text_200(r)
    assert r.text == iid
    assert helpers.INSTANCE_ID_RE.match(r.text)
    assert not r.body.endswith(b"\n")
    assert r.header(TTL_RESP) is None, "an IMDSv1 reply carries no token TTL"


def test_imds_case_16_optional_bogus_token_401(imds, tok, iid):
    assert_page(get(imds, "/latest/meta-data/instance-id", "bogus"), 401)
    # Well-formed but altered: still 401, never downgraded to v1.
    raw = bytearray(base64.urlsafe_b64decode(tok))
    raw[-1] ^= 0x01
    forged = base64.urlsafe_b64encode(bytes(raw)).decode()
    assert forged != tok and len(forged) == 56
    assert_page(get(imds, "/latest/meta-data/instance-id", forged), 401)
    # A token's own data altered (its expiry pushed out) is not accepted either.
    raw = bytearray(base64.urlsafe_b64decode(tok))
    raw[8] ^= 0x40
    assert_page(get(imds, "/latest/meta-data/instance-id",
                    base64.urlsafe_b64encode(bytes(raw)).decode()), 401)
    # The genuine token still works.
    assert get(imds, "/latest/meta-data/instance-id", tok).text == iid


def test_imds_token_from_another_server_401(imds, iid, server_factory):
    """A token minted by another imds process (another key) is foreign here."""
    other = server_factory()
    foreign = token(imds_address(other))
    assert TOKEN_RE.match(foreign)
    assert_page(get(imds, "/latest/meta-data/instance-id", foreign), 401)


@pytest.mark.usefixtures("required")
class TestRequired:
    def test_imds_case_14_required_no_token_401(self, imds):
        r = get(imds, "/latest/meta-data/instance-id")
        assert_page(r, 401)
        assert len(r.body) == 343 and r.body == PAGE_401
        assert r.header("Content-Length") == "343"

    def test_imds_case_15_required_valid_token_200(self, imds, iid):
        t = token(imds)  # the token endpoint works in both modes (spec §4)
        r = get(imds, "/latest/meta-data/instance-id", t)
        assert_text_200(r)
        assert r.text == iid
        assert r.header(TTL_RESP) is not None, r.header_list

    def test_imds_required_bogus_token_401(self, imds):
        assert_page(get(imds, "/latest/meta-data/instance-id", "bogus"), 401)

    @pytest.mark.parametrize("path", ["/", "/latest/", "/latest/meta-data/",
                                      "/latest/meta-data/nope", "/latest/user-data",
                                      "/latest/dynamic/instance-identity/document",
                                      "/latest/meta-data"])
    def test_imds_required_every_tokenless_get_401(self, imds, path):
        """Table row 10 ("GET any") and §15's note: the token check precedes path
        resolution, so an unknown path or a redirect is 401 too."""
        assert_page(get(imds, path), 401)

    def test_imds_required_head_without_token_401(self, imds):
        r = get(imds, "/latest/meta-data/instance-id", method="HEAD")
        assert r.status == 401 and r.body == b"", r


# --------------------------------------------------------------------------------------
# Framing (case 18) and error pages (case 19)
# --------------------------------------------------------------------------------------

FRAMING_REQUESTS = {
    "token-200": ("PUT", TOKEN_PATH, {TTL_REQ: "21600"}, 200),
    "leaf-200-v1": ("GET", "/latest/meta-data/instance-id", {}, 200),
    "leaf-200-v2": ("GET", "/latest/meta-data/instance-id", "TOKEN", 200),
    "listing-200": ("GET", "/latest/meta-data/", {}, 200),
    "versions-200": ("GET", "/", {}, 200),
    "document-200": ("GET", "/latest/dynamic/instance-identity/document", {}, 200),
    "head-200": ("HEAD", "/latest/meta-data/instance-id", "TOKEN", 200),
    "redirect-301": ("GET", "/latest/meta-data", {}, 301),
    "bad-ttl-400": ("PUT", TOKEN_PATH, {TTL_REQ: "0"}, 400),
    "bogus-401": ("GET", "/latest/meta-data/instance-id", {TOKEN_REQ: "bogus"}, 401),
    "xff-403": ("PUT", TOKEN_PATH, {TTL_REQ: "60", "X-Forwarded-For": "1.2.3.4"}, 403),
    "slash-403": ("PUT", "/latest/api/token/", {TTL_REQ: "60"}, 403),
    "unknown-404": ("GET", "/latest/meta-data/nope", {}, 404),
    "user-data-404": ("GET", "/latest/user-data", {}, 404),
    "token-get-405": ("GET", TOKEN_PATH, {}, 405),
    "meta-post-405": ("POST", "/latest/meta-data/instance-id", {}, 405),
}


@pytest.mark.parametrize("kind", list(FRAMING_REQUESTS))
def test_imds_case_18_framing(imds, tok, kind):
    method, path, headers, status = FRAMING_REQUESTS[kind]
    if headers == "TOKEN":
        headers = {TOKEN_REQ: tok}
    r = request(imds, method, path, headers)
    assert r.status == status, r
    assert_framing(r, method)


def test_imds_case_18_one_request_per_connection(imds, iid):
    """Two pipelined requests on one connection: one answer, then the connection closes."""
    import socket
    host, port = imds.rsplit(":", 1)
    one = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall((one + one).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.count(b"HTTP/1.") == 1, data
    assert data.endswith(iid.encode()), data


def test_imds_case_19_unknown_path_404(imds, tok):
    r = get(imds, "/latest/meta-data/nope", tok)
    assert_page(r, 404)
    assert len(r.body) == 337
    assert b'\n\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' in r.body
    # Also without a token under optional, and deeper unknown paths.
    assert_page(get(imds, "/latest/meta-data/nope"), 404)
    assert_page(get(imds, "/latest/meta-data/placement/nope"), 404)
    assert_page(get(imds, "/latest/meta-data/instance-id/nope"), 404)
    assert_page(get(imds, "/latest/nope"), 404)


def test_imds_unserved_version_404(imds, tok):
    for path in ("/2099-01-01/meta-data/instance-id", "/2016-09-03/meta-data/", "/nope/",
                 "/latest-1/meta-data/instance-id"):
        assert_page(get(imds, path, tok), 404)


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "PATCH"])
def test_imds_other_methods_on_metadata_405(imds, method):
    r = request(imds, method, "/latest/meta-data/instance-id")
    assert_empty(r, 405)
    assert r.has_line("Allow", "GET, HEAD"), r.header_list


def test_imds_200_text_headers(imds, tok):
    for path in ("/latest/meta-data/instance-id", "/latest/meta-data/", "/",
                 "/latest/dynamic/instance-identity/document"):
        for t in (None, tok):
            r = get(imds, path, t)
            assert_text_200(r)


@pytest.mark.parametrize("path", [
    "/latest/meta-data/instance-id",
    # Issue 11: the identity document (and the rest of dynamic/) had none.
    "/latest/dynamic/instance-identity/document",
    "/latest/dynamic/instance-identity/signature",
    "/latest/dynamic/instance-identity/",
    "/latest/dynamic/",
])
def test_imds_200_last_modified(imds, tok, path):
    """Spec §2: 200 metadata replies carry `Last-Modified` [C10][R2]."""
    r = get(imds, path, tok)
    assert r.status == 200
    lm = r.header("Last-Modified")
    assert lm, f"no Last-Modified on a 200 metadata reply: {r.header_list}"
    import email.utils
    assert email.utils.parsedate_to_datetime(lm).timestamp() <= time.time() + 60


# --------------------------------------------------------------------------------------
# Paths, listings, redirects (cases 20–28)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/latest/meta-data",  # case 20
    "/latest",
    "/2016-09-02/meta-data",
    "/latest/meta-data/placement",
    "/latest/meta-data/block-device-mapping",
    "/latest/meta-data/network/interfaces/macs",
    "/latest/meta-data/events/maintenance",
    "/latest/meta-data/services",
    "/latest/dynamic",
    "/latest/dynamic/instance-identity",
])
def test_imds_case_20_directory_without_slash_301(imds, tok, path):
    for t in (None, tok):
        r = get(imds, path, t)
        assert r.status == 301, r
        assert r.reason == "Moved Permanently", r
        assert r.has_line("Location", f"http://169.254.169.254{path}/"), r.header_list
        assert_empty(r, 301)
        # The target of the redirect is served.
        assert get(imds, path + "/", t).status == 200


def test_imds_case_22_meta_data_root_listing(imds, tok):
    r = get(imds, "/latest/meta-data/", tok)
    assert_text_200(r)
    assert not r.body.endswith(b"\n") and b"\r" not in r.body
    items = r.text.split("\n")
    assert items == sorted(items), f"not alphabetical: {items}"
    assert len(items) == len(set(items))
    expected = {"ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/",
                "events/", "hostname", "instance-action", "instance-id", "instance-life-cycle",
                "instance-type", "local-hostname", "local-ipv4", "mac", "network/",
                "placement/", "profile", "reservation-id", "security-groups", "services/"}
    assert expected <= set(items), f"missing {expected - set(items)}"
    # The default instance has no profile, no key, tags not allowed, no public IP, no spot.
    for absent in ("iam/", "public-keys/", "tags/", "spot/", "public-ipv4", "public-hostname"):
        assert absent not in items, f"{absent} listed: {items}"
    # Every directory is listed with '/', every leaf without: check each entry.
    for item in items:
        name = item.rstrip("/")
        sub = get(imds, f"/latest/meta-data/{name}", tok)
        assert sub.status == (301 if item.endswith("/") else 200), (item, sub)


def test_imds_case_23_version_list(imds):
    r = get(imds, "/")
    assert_text_200(r)
    assert not r.body.endswith(b"\n")
    versions = r.text.split("\n")
    assert versions[-1] == "latest" and versions[0] == "1.0", versions
    required = [v for v in SPEC_VERSIONS if v not in OPTIONAL_VERSIONS]
    assert [v for v in versions if v not in OPTIONAL_VERSIONS] == required, versions
    assert set(versions) <= set(SPEC_VERSIONS)


def test_imds_case_24_latest_listing(imds, tok):
    for t in (None, tok):
        r = get(imds, "/latest/", t)
        assert_text_200(r)
        assert r.body == b"dynamic\nmeta-data\nuser-data"


def test_imds_case_25_versioned_read_with_latest_token(imds, tok, iid):
    for version in ("2016-09-02", "2009-04-04", "1.0", "2021-03-23"):
        r = get(imds, f"/{version}/meta-data/instance-id", tok)
        assert_text_200(r)
        assert r.text == iid, (version, r)
    assert get(imds, "/2016-09-02/meta-data/instance-id").text == iid  # v1 too, under optional


def test_imds_dated_versions_serve_the_categories_they_had(imds, tok):
    """Dated prefixes are frozen builds (spec imds.md §1, §12 gives each category's first
    version): a category newer than the version asked for is neither listed nor served."""
    listing = lambda v: get(imds, f"/{v}/meta-data/", tok).text.split("\n")  # noqa: E731
    assert "instance-type" not in listing("2007-03-01")
    assert "instance-type" in listing("2007-08-29")
    assert "placement/" not in listing("2007-12-15") and "placement/" in listing("2008-02-01")
    assert "services/" not in listing("2012-01-12") and "services/" in listing("2014-02-25")
    assert "identity-credentials/" not in listing("2018-03-28")
    assert "identity-credentials/" in listing("2018-08-17") and "identity-credentials/" in listing("latest")
    assert get(imds, "/2007-03-01/meta-data/instance-type", tok).status == 404
    assert get(imds, "/2007-08-29/meta-data/instance-type", tok).status == 200
    assert get(imds, "/2019-10-01/meta-data/placement/region", tok).status == 404
    assert get(imds, "/latest/meta-data/placement/region", tok).status == 200
    assert get(imds, "/2014-02-25/meta-data/services/", tok).text == "domain"
    assert get(imds, "/latest/meta-data/services/", tok).text == "domain\npartition"


def test_imds_case_26_leaf_with_trailing_slash(imds, tok, inst):
    r = get(imds, "/latest/meta-data/placement/availability-zone/", tok)
    assert_text_200(r)
    assert r.text == inst["Placement"]["AvailabilityZone"]
    assert get(imds, "/latest/meta-data/instance-id/", tok).text == inst["InstanceId"]


def test_imds_case_27_no_key_public_keys_404(imds, tok):
    """The default instance has no key pair: `public-keys/` is absent and answers 404."""
    assert "public-keys/" not in get(imds, "/latest/meta-data/", tok).text.split("\n")
    assert_page(get(imds, "/latest/meta-data/public-keys/", tok), 404)
    assert_page(get(imds, "/latest/meta-data/public-keys/0/openssh-key", tok), 404)


def test_imds_case_28_head_with_token(imds, tok, iid):
    g = get(imds, "/latest/meta-data/instance-id", tok)
    h = get(imds, "/latest/meta-data/instance-id", tok, method="HEAD")
    assert h.status == 200, h
    assert h.body == b"", h
    assert h.header("Content-Length") == str(len(iid)) == g.header("Content-Length")
    assert h.header("Content-Type") == g.header("Content-Type") == "text/plain"
    assert h.header(TTL_RESP) is not None
    assert_framing(h, "HEAD")
    # HEAD of a listing and of an unknown path.
    assert get(imds, "/latest/meta-data/", tok, method="HEAD").status == 200
    nf = get(imds, "/latest/meta-data/nope", tok, method="HEAD")
    assert nf.status == 404 and nf.body == b"", nf


def test_imds_case_29_no_user_data_404(imds, tok):
    for t in (None, tok):
        assert_page(get(imds, "/latest/user-data", t), 404)


def test_imds_case_37_no_role(imds, tok):
    items = get(imds, "/latest/meta-data/", tok).text.split("\n")
    assert "iam/" not in items, items
    assert_page(get(imds, "/latest/meta-data/iam/", tok), 404)
    assert_page(get(imds, "/latest/meta-data/iam/security-credentials/", tok), 404)  # table 24
    assert_page(get(imds, "/latest/meta-data/iam/info", tok), 404)
    assert_page(get(imds, "/latest/meta-data/iam/security-credentials"), 404)


def test_imds_case_40_no_spot_interruption_404(imds, tok):
    assert_page(get(imds, "/latest/meta-data/spot/instance-action", tok), 404)
    assert_page(get(imds, "/latest/meta-data/spot/termination-time", tok), 404)
    assert get(imds, "/latest/meta-data/instance-life-cycle", tok).text == "on-demand"
    assert_page(get(imds, "/latest/meta-data/events/recommendations/rebalance", tok), 404)


def test_imds_case_41_no_maintenance_events(imds, tok):
    r = get(imds, "/latest/meta-data/events/maintenance/scheduled", tok)
    assert_text_200(r)
    assert r.body == b"[]"
    assert get(imds, "/latest/meta-data/events/maintenance/history", tok).body == b"[]"
    assert get(imds, "/latest/meta-data/events/maintenance/", tok).text.split("\n") == [
        "history", "scheduled"]


def test_imds_catalogue_matches_describe(imds, tok, ec2e, inst):
    """The values served agree with DescribeInstances for the same instance (spec §12)."""
    resp = ec2e.describe_instances(InstanceIds=[inst["InstanceId"]])
    reservation = resp["Reservations"][0]["ReservationId"]
    eni = inst["NetworkInterfaces"][0]
    groups = inst["SecurityGroups"]

    def md(path):
        r = get(imds, "/latest/meta-data/" + path, tok)
        assert r.status == 200, (path, r)
        assert not r.body.endswith(b"\n"), (path, r.body)
        return r.text

    az = inst["Placement"]["AvailabilityZone"]
    expected = {
        "ami-id": inst["ImageId"],
        "ami-launch-index": str(inst["AmiLaunchIndex"]),
        "ami-manifest-path": "(unknown)",
        "instance-id": inst["InstanceId"],
        "instance-type": inst["InstanceType"],
        "instance-action": "none",
        "local-ipv4": inst["PrivateIpAddress"],
        "local-hostname": inst["PrivateDnsName"],
        "hostname": inst["PrivateDnsName"],
        "mac": eni["MacAddress"],
        "reservation-id": reservation,
        "security-groups": "\n".join(g["GroupName"] for g in groups),
        "placement/availability-zone": az,
        "placement/region": az[:-1],
        "profile": "default-hvm",
        "services/domain": "amazonaws.com",
        "services/partition": "aws",
        "block-device-mapping/ami": "/dev/xvda",
        "block-device-mapping/root": inst["RootDeviceName"],
    }
    got = {k: md(k) for k in expected}
    assert got == expected
    assert inst["ImageId"] == helpers.AMI_AL2 and inst["InstanceType"] == "t3.micro"

    mac = eni["MacAddress"]
    assert mac == mac.lower() and re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac)
    assert md("network/interfaces/macs/") == f"{mac}/"
    per_mac = {
        "device-number": "0",
        "interface-id": eni["NetworkInterfaceId"],
        "local-ipv4s": inst["PrivateIpAddress"],
        "local-hostname": inst["PrivateDnsName"],
        "mac": mac,
        "owner-id": helpers.ACCOUNT,
        "security-group-ids": "\n".join(g["GroupId"] for g in groups),
        "security-groups": "\n".join(g["GroupName"] for g in groups),
        "subnet-id": inst["SubnetId"],
        "vpc-id": inst["VpcId"],
    }
    got = {k: md(f"network/interfaces/macs/{mac}/{k}") for k in per_mac}
    assert got == per_mac
    listing = md(f"network/interfaces/macs/{mac}/").split("\n")
    for k in list(per_mac) + ["subnet-ipv4-cidr-block", "vpc-ipv4-cidr-block",
                              "vpc-ipv4-cidr-blocks"]:
        assert k in listing, (k, listing)
    cidr = md(f"network/interfaces/macs/{mac}/subnet-ipv4-cidr-block")
    import ipaddress
    assert ipaddress.ip_address(inst["PrivateIpAddress"]) in ipaddress.ip_network(cidr)


def test_imds_placement_availability_zone_id(imds, tok, inst):
    """Spec §12: `placement/availability-zone-id` is EC2's zone id, `use1-az4` in us-east-1."""
    assert inst["Placement"]["AvailabilityZone"].startswith("us-east-1")
    r = get(imds, "/latest/meta-data/placement/availability-zone-id", tok)
    assert_text_200(r)
    assert re.fullmatch(r"use1-az[1-6]", r.text), r.text


# --------------------------------------------------------------------------------------
# HttpEndpoint (case 30), hop limit (case 31), tags (cases 33–34)
# --------------------------------------------------------------------------------------


def test_imds_case_30_endpoint_disabled_403(imds, ec2e, iid):
    old = token(imds)
    with options_applied(ec2e, iid, HttpEndpoint="disabled"):
        assert_empty(put_token(imds), 403)
        assert_empty(get(imds, "/latest/meta-data/instance-id"), 403)
        assert_empty(get(imds, "/latest/meta-data/instance-id", old), 403)
        assert_empty(get(imds, "/latest/meta-data/instance-id", "bogus"), 403)
        assert_empty(get(imds, "/"), 403)
        assert_empty(get(imds, "/latest/meta-data/nope", old), 403)
        assert_empty(get(imds, "/latest/user-data"), 403)
        for r in (put_token(imds), get(imds, "/latest/meta-data/instance-id")):
            assert_framing(r)
    # On again: served again.
    assert get(imds, "/latest/meta-data/instance-id").text == iid


def test_imds_case_31_token_reply_ttl_is_hop_limit(imds, ec2e, iid):
    why = can_sniff()
    if why:
        pytest.skip(why)
    port = int(imds.rsplit(":", 1)[1])
    default_ttl = int(open("/proc/sys/net/ipv4/ip_default_ttl").read())
    assert default_ttl not in (1, 3)
    sniffer = TtlSniffer(port)
    try:
        def ttls(method, path, headers=None):
            # A capture can still miss a packet when loopback is flooded by other suites:
            # ask again (a fresh connection) rather than fail on the sniffer.
            for _ in range(3):
                r, local = request_with_port(imds, method, path, headers)
                assert r.status == 200, r
                got = sniffer.payload_ttls(local)
                if got:
                    return got
            raise AssertionError(f"no packets captured for {method} {path}")

        assert ttls("PUT", TOKEN_PATH, {TTL_REQ: "60"}) == {1}
        assert ttls("GET", "/latest/meta-data/instance-id") == {default_ttl}
        with options_applied(ec2e, iid, HttpPutResponseHopLimit=3):
            assert ttls("PUT", TOKEN_PATH, {TTL_REQ: "60"}) == {3}
            t = token(imds)
            assert ttls("GET", "/latest/meta-data/instance-id", {TOKEN_REQ: t}) == {default_ttl}
        assert ttls("PUT", TOKEN_PATH, {TTL_REQ: "60"}) == {1}
    finally:
        sniffer.close()


def test_imds_case_33_tags_disabled(imds, tok):
    assert "tags/" not in get(imds, "/latest/meta-data/", tok).text.split("\n")
    for path in ("tags/instance", "tags/instance/", "tags/instance/Name", "tags/"):
        assert_page(get(imds, f"/latest/meta-data/{path}", tok), 404)


@pytest.fixture(scope="class")
def tags_enabled(ec2e, iid):
    ec2e.create_tags(Resources=[iid], Tags=[{"Key": "Empty", "Value": ""},
                                            {"Key": "Env", "Value": "prod-1"}])
    try:
        with options_applied(ec2e, iid, InstanceMetadataTags="enabled") as opts:
            yield opts
    finally:
        ec2e.delete_tags(Resources=[iid], Tags=[{"Key": "Empty"}, {"Key": "Env"},
                                                {"Key": "Live"}])


@pytest.mark.usefixtures("tags_enabled")
class TestTagsEnabled:
    def test_imds_case_34_tags_listed(self, imds, tok):
        root = get(imds, "/latest/meta-data/", tok).text.split("\n")
        assert "tags/" in root and root == sorted(root), root
        assert get(imds, "/latest/meta-data/tags/", tok).text == "instance/"
        r = get(imds, "/latest/meta-data/tags/instance/", tok)
        assert_text_200(r)
        assert not r.body.endswith(b"\n")
        assert sorted(r.text.split("\n")) == ["Empty", "Env", "Name"], r.text

    def test_imds_case_34_tag_values(self, imds, tok):
        r = get(imds, "/latest/meta-data/tags/instance/Name", tok)
        assert_text_200(r)
        assert r.body == b"imds-default"
        assert get(imds, "/latest/meta-data/tags/instance/Env").body == b"prod-1"
        empty = get(imds, "/latest/meta-data/tags/instance/Empty", tok)
        assert empty.status == 200 and empty.body == b"", empty
        assert empty.header("Content-Length") == "0"
        assert_page(get(imds, "/latest/meta-data/tags/instance/Nope", tok), 404)

    def test_imds_case_34_tags_instance_without_slash(self, imds, tok):
        """Spec §15 row 23 and case 34: `GET …/tags/instance` (no slash) lists the keys."""
        r = get(imds, "/latest/meta-data/tags/instance", tok)
        assert_text_200(r)
        assert sorted(r.text.split("\n")) == ["Empty", "Env", "Name"], r

    def test_imds_tags_listing_is_a_directory_as_cloud_init_pr_1346_saw_on_ec2(self, imds, tok):
        """What `tags/` lists (issue 11): `instance/`, a directory. Source: cloud-init PR #1346
        ("Add 2021-07-15 EC2 instance meta version"), whose test steps on a real EC2 instance
        show `jq '.ds."meta-data".tags.instance'` as an object of key → value. cloud-init's
        crawler (`MetadataMaterializer._parse` in cloudinit/sources/helpers/ec2.py) recurses
        only into lines ending in `/` and reads every other line as a leaf, so that object
        exists only if EC2 lists `instance/`; a bare `instance` would have been read as one
        leaf holding the list of keys. This crawl follows the same rule."""
        def crawl(path: str):
            out = {}
            for line in get(imds, path, tok).text.split("\n"):
                if line.endswith("/"):
                    out[line[:-1]] = crawl(path + line)
                elif line:
                    r = get(imds, path + line, tok)
                    assert r.status == 200, (path + line, r.status)
                    out[line] = r.text
            return out
        assert crawl("/latest/meta-data/tags/") == {
            "instance": {"Empty": "", "Env": "prod-1", "Name": "imds-default"}}

    def test_imds_tags_follow_create_and_delete_live(self, imds, tok, ec2e, iid):
        """Spec §8: on Nitro (t3.micro) tag changes show up without a restart."""
        ec2e.create_tags(Resources=[iid], Tags=[{"Key": "Live", "Value": "yes"}])
        wait_until(lambda: get(imds, "/latest/meta-data/tags/instance/Live", tok).body == b"yes",
                   timeout=5, desc="new tag served")
        assert "Live" in get(imds, "/latest/meta-data/tags/instance/", tok).text.split("\n")
        ec2e.delete_tags(Resources=[iid], Tags=[{"Key": "Live"}])
        wait_until(lambda: get(imds, "/latest/meta-data/tags/instance/Live", tok).status == 404,
                   timeout=5, desc="deleted tag gone")


def test_imds_tags_disabled_again_after_class(imds, tok):
    """After TestTagsEnabled restored the option, `tags/` is gone again."""
    assert_page(get(imds, "/latest/meta-data/tags/instance/", tok), 404)


# --------------------------------------------------------------------------------------
# Pending vs applied (case 38)
# --------------------------------------------------------------------------------------


def test_imds_case_38_pending_keeps_old_options(server_factory):
    srv = server_factory(apply_delay="3000ms")
    addr = imds_address(srv)
    ec2 = srv.client(helpers.DEFAULT_REGION)
    iid = default_instance(ec2)
    helpers.wait_applied(ec2, iid, timeout=15)

    def probe_while_pending(expect_status: int, min_probes: int = 3) -> int:
        n = 0
        while True:
            before = helpers.options(ec2, iid)["State"]
            r = get(addr, "/latest/meta-data/instance-id")
            after = helpers.options(ec2, iid)["State"]
            if before != "pending" or after != "pending":
                break
            assert r.status == expect_status, f"while pending: {r}"
            n += 1
            time.sleep(0.2)
        assert n >= min_probes, f"only {n} probes while pending (apply delay 3 s)"
        return n

    resp = ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    assert resp["InstanceMetadataOptions"]["State"] == "pending"
    probe_while_pending(200)
    helpers.wait_applied(ec2, iid, timeout=15)
    assert_page(get(addr, "/latest/meta-data/instance-id"), 401)

    ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="optional",
                                         HttpEndpoint="disabled")
    probe_while_pending(401)
    helpers.wait_applied(ec2, iid, timeout=15)
    assert_empty(get(addr, "/latest/meta-data/instance-id"), 403)


# --------------------------------------------------------------------------------------
# Identity document (case 39) and its signatures
# --------------------------------------------------------------------------------------

DOC_KEYS = ["accountId", "architecture", "availabilityZone", "billingProducts",
            "devpayProductCodes", "marketplaceProductCodes", "imageId", "instanceId",
            "instanceType", "kernelId", "pendingTime", "privateIp", "ramdiskId", "region",
            "version"]


def test_imds_case_39_identity_document(imds, tok, inst):
    r = get(imds, "/latest/dynamic/instance-identity/document", tok)
    assert_text_200(r)
    pairs = json.loads(r.body, object_pairs_hook=list)
    assert [k for k, _ in pairs] == DOC_KEYS
    doc = dict(pairs)
    # 2-space indent, " : " separators, EC2's layout exactly.
    assert r.text == json.dumps(doc, indent=2, separators=(",", " : ")), r.text
    launch = inst["LaunchTime"].astimezone(datetime.timezone.utc)
    az = inst["Placement"]["AvailabilityZone"]
    assert doc == {
        "accountId": helpers.ACCOUNT,
        "architecture": "x86_64",
        "availabilityZone": az,
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": inst["ImageId"],
        "instanceId": inst["InstanceId"],
        "instanceType": "t3.micro",
        "kernelId": None,
        "pendingTime": launch.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "privateIp": inst["PrivateIpAddress"],
        "ramdiskId": None,
        "region": az[:-1],
        "version": "2017-09-30",
    }
    assert doc["region"] == helpers.DEFAULT_REGION
    # The same bytes without a token (optional) and under another version.
    assert get(imds, "/latest/dynamic/instance-identity/document").body == r.body
    assert get(imds, "/2016-09-02/dynamic/instance-identity/document", tok).body == r.body


def test_imds_dynamic_listing(imds, tok):
    r = get(imds, "/latest/dynamic/", tok)
    assert_text_200(r)
    assert "instance-identity/" in r.text.split("\n")


def test_imds_identity_signatures_listed(imds, tok):
    r = get(imds, "/latest/dynamic/instance-identity/", tok)
    assert r.status == 200, r
    assert sorted(r.text.split("\n")) == ["document", "pkcs7", "rsa2048", "signature"], r.text


def _b64(imds, tok, name) -> tuple[bytes, bytes]:
    r = get(imds, f"/latest/dynamic/instance-identity/{name}", tok)
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/plain"
    assert b"-----BEGIN" not in r.body, "base64 without PEM armour (spec §12)"
    return r.body, base64.b64decode(b"".join(r.body.split()), validate=True)


def test_imds_identity_signature_rsa_sha256(imds, tok):
    _, sig = _b64(imds, tok, "signature")
    assert len(sig) == 256, f"an RSA-2048 signature is 256 bytes, got {len(sig)}"


@pytest.mark.parametrize("name", ["pkcs7", "rsa2048"])
def test_imds_identity_pkcs7(imds, tok, name):
    _, der = _b64(imds, tok, name)
    assert der[:1] == b"\x30" and len(der) > 256, f"{name}: not a DER PKCS#7 structure"
    # PKCS#7 signedData OID 1.2.840.113549.1.7.2
    assert b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" in der[:32]


def _openssl(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, timeout=30, **kw)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_imds_identity_signatures_verify_with_certificate(server_factory, tmp_path):
    """Spec §12 / R9: `signature` is RSA-SHA256 over the document bytes, `pkcs7` and
    `rsa2048` are PKCS#7 signatures of the document; all verify with the certificate that
    `imds certificate --data-dir` prints for the server's data dir (`--database-url` for its
    PostgreSQL database)."""
    data_dir = tmp_path / "data"
    srv = server_factory(data_dir=data_dir)
    addr = imds_address(srv)
    t = token(addr)
    doc = get(addr, "/latest/dynamic/instance-identity/document", t).body
    # On PostgreSQL the key is the database's, shared by every node (`--database-url`).
    where = (["--database-url", srv.database_url] if srv.database_url
             else ["--data-dir", str(data_dir)])
    cert = subprocess.run([helpers.IMDS_BIN, "certificate", *where],
                          capture_output=True, timeout=30)
    assert cert.returncode == 0, cert
    assert cert.stdout.startswith(b"-----BEGIN CERTIFICATE-----"), cert.stdout[:100]
    (tmp_path / "cert.pem").write_bytes(cert.stdout)
    (tmp_path / "doc").write_bytes(doc)
    pub = _openssl("x509", "-pubkey", "-noout", "-in", str(tmp_path / "cert.pem"))
    assert pub.returncode == 0, pub
    (tmp_path / "pub.pem").write_bytes(pub.stdout)

    _, sig = _b64(addr, t, "signature")
    (tmp_path / "sig").write_bytes(sig)
    v = _openssl("dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                 str(tmp_path / "sig"), str(tmp_path / "doc"))
    assert v.returncode == 0 and b"Verified OK" in v.stdout, v
    # A changed document does not verify.
    (tmp_path / "doc2").write_bytes(doc.replace(b"t3.micro", b"t3.large"))
    v = _openssl("dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
                 str(tmp_path / "sig"), str(tmp_path / "doc2"))
    assert v.returncode != 0, v

    for name in ("pkcs7", "rsa2048"):
        body, _ = _b64(addr, t, name)
        pem = (b"-----BEGIN PKCS7-----\n" + body.strip() + b"\n-----END PKCS7-----\n")
        (tmp_path / f"{name}.pem").write_bytes(pem)
        v = _openssl("smime", "-verify", "-in", str(tmp_path / f"{name}.pem"), "-inform", "PEM",
                     "-content", str(tmp_path / "doc"), "-certfile", str(tmp_path / "cert.pem"),
                     "-nointern", "-noverify")  # -nointern: the signer must be that certificate
        assert v.returncode == 0 and b"Verification successful" in v.stderr, (name, v)
        v = _openssl("smime", "-verify", "-in", str(tmp_path / f"{name}.pem"), "-inform", "PEM",
                     "-content", str(tmp_path / "doc2"), "-certfile",
                     str(tmp_path / "cert.pem"), "-noverify")
        assert v.returncode != 0, (name, "a changed document verified")


# --------------------------------------------------------------------------------------
# Counters (case 42)
# --------------------------------------------------------------------------------------

_METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}\s+([0-9.eE+-]+)$')


def _metrics(endpoint: str) -> dict[tuple[str, str], float]:
    parts = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        assert resp.status == 200, f"GET /metrics: {resp.status} {body[:300]!r}"
        ctype = resp.getheader("Content-Type", "")
        # Prometheus text (0.0.4) or OpenMetrics text: both are what Prometheus scrapes.
        assert ctype.startswith(("text/plain", "application/openmetrics-text")), ctype
    finally:
        conn.close()
    out = {}
    for line in body.splitlines():
        m = _METRIC_RE.match(line.strip())
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if "instance_id" in labels:
            out[(m.group(1), labels["instance_id"])] = float(m.group(3))
    return out


def test_imds_case_42_no_token_counters(fresh_server):
    addr = imds_address(fresh_server)
    ec2 = fresh_server.client(helpers.DEFAULT_REGION)
    iid = default_instance(ec2)
    helpers.wait_applied(ec2, iid)
    nt, rej = "imds_metadata_no_token_total", "imds_metadata_no_token_rejected_total"

    def counts():
        m = _metrics(fresh_server.endpoint)
        return m.get((nt, iid), 0), m.get((rej, iid), 0)

    base = counts()
    assert get(addr, "/latest/meta-data/instance-id").status == 200
    assert counts() == (base[0] + 1, base[1]), "a tokenless 200 counts MetadataNoToken"
    t = token(addr)
    assert get(addr, "/latest/meta-data/instance-id", t).status == 200
    assert counts() == (base[0] + 1, base[1]), "token reads are not counted"
    apply_options(ec2, iid, HttpTokens="required")
    assert get(addr, "/latest/meta-data/instance-id").status == 401
    assert counts() == (base[0] + 1, base[1] + 1), "a tokenless 401 counts MetadataNoTokenRejected"
    assert get(addr, "/latest/meta-data/instance-id", t).status == 200
    assert counts() == (base[0] + 1, base[1] + 1)


# --------------------------------------------------------------------------------------
# An instance with user data, a key and a profile, served over loopback
# --------------------------------------------------------------------------------------

USER_DATA = b"#!/bin/sh\necho hello\n\x00\x01\xfe\xff binary tail\r\n"
KEY_NAME = "imds-e2e-key"
PROFILE = "imds-e2e-role"


class Successor:
    def __init__(self, srv, addr, ec2, old, iid, old_token):
        self.srv, self.addr, self.ec2 = srv, addr, ec2
        self.old, self.iid, self.old_token = old, iid, old_token


@pytest.fixture(scope="class")
def successor(tmp_path_factory):
    """A server of its own: an instance launched in the default Region with user data, a key
    and an instance profile; then the default instance is terminated, so loopback (an
    address of no instance) is served as the first remaining instance of the default
    account and Region: the new one."""
    srv = ImdsServer(tmp_path_factory.mktemp("imds-successor"))
    srv.start()
    try:
        addr = imds_address(srv)
        ec2 = srv.client(helpers.DEFAULT_REGION)
        old = default_instance(ec2)
        old_token = token(addr)
        iid = helpers.running_instance(ec2, KeyName=KEY_NAME, UserData=USER_DATA,
                                       IamInstanceProfile={"Name": PROFILE},
                                       tags={"Name": "successor"})
        ec2.terminate_instances(InstanceIds=[old])
        helpers.wait_state(ec2, old, "terminated")
        served = get(addr, "/latest/meta-data/instance-id").text
        assert served == iid, (
            f"loopback is served as {served}, not as the successor default instance {iid}: "
            "these loopback cases rely on the host's rule 'an address of no instance is served "
            "as the first live instance of the default account and Region'")
        yield Successor(srv, addr, ec2, old, iid, old_token)
    finally:
        srv.stop()


class TestSuccessorDefaultInstance:
    @pytest.fixture(autouse=True)
    def successor_server(self, successor) -> ImdsServer:
        # Requested by every test here, so a failure report carries this server's stderr.
        return successor.srv

    def test_imds_case_17_foreign_token_401(self, successor):
        s = successor
        # The token was issued to the old default instance: foreign to the one served now.
        assert_page(get(s.addr, "/latest/meta-data/instance-id", s.old_token), 401)
        t = token(s.addr)
        assert get(s.addr, "/latest/meta-data/instance-id", t).text == s.iid

    def test_imds_case_27_public_keys(self, successor):
        s = successor
        t = token(s.addr)
        assert "public-keys/" in get(s.addr, "/latest/meta-data/", t).text.split("\n")
        r = get(s.addr, "/latest/meta-data/public-keys/", t)
        assert_text_200(r)
        assert r.body == f"0={KEY_NAME}".encode()
        assert get(s.addr, "/latest/meta-data/public-keys/0/", t).body == b"openssh-key"
        key = get(s.addr, "/latest/meta-data/public-keys/0/openssh-key", t)
        assert key.status == 200
        assert key.body.endswith(b"\n") and key.body.count(b"\n") == 1, key.body
        assert re.fullmatch(rb"ssh-rsa [A-Za-z0-9+/=]+ " + KEY_NAME.encode() + rb"\n", key.body)
        r = get(s.addr, "/latest/meta-data/public-keys/0", t)
        assert r.status == 301 and r.has_line(
            "Location", "http://169.254.169.254/latest/meta-data/public-keys/0/"), r

    def test_imds_case_29_user_data_bytes(self, successor):
        s = successor
        for t in (None, token(s.addr)):
            r = get(s.addr, "/latest/user-data", t)
            assert r.status == 200, r
            assert r.header("Content-Type") == "application/octet-stream", r.header_list
            assert r.header("Accept-Ranges") == "bytes", r.header_list
            assert r.body == USER_DATA
            assert_framing(r)

    def test_imds_case_21_security_credentials_redirect(self, successor):
        s = successor
        t = token(s.addr)
        r = get(s.addr, "/latest/meta-data/iam/security-credentials", t)
        assert r.status == 301, r
        assert r.has_line(
            "Location", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"), r
        assert_empty(r, 301)
        r = get(s.addr, "/latest/meta-data/iam", t)
        assert r.status == 301 and r.header("Location").endswith("/latest/meta-data/iam/"), r

    def test_imds_case_35_role_credentials(self, successor):
        s = successor
        t = token(s.addr)
        root = get(s.addr, "/latest/meta-data/", t).text.split("\n")
        assert "iam/" in root and root == sorted(root)
        assert get(s.addr, "/latest/meta-data/iam/", t).body == b"info\nsecurity-credentials/"
        r = get(s.addr, "/latest/meta-data/iam/security-credentials/", t)
        assert_text_200(r)
        assert r.body == PROFILE.encode()
        r = get(s.addr, f"/latest/meta-data/iam/security-credentials/{PROFILE}", t)
        assert_text_200(r)
        pairs = json.loads(r.body, object_pairs_hook=list)
        assert [k for k, _ in pairs] == ["Code", "LastUpdated", "Type", "AccessKeyId",
                                         "SecretAccessKey", "Token", "Expiration"]
        c = dict(pairs)
        assert r.text == json.dumps(c, indent=2, separators=(",", " : "))
        assert c["Code"] == "Success" and c["Type"] == "AWS-HMAC"
        assert re.fullmatch(r"ASIA[A-Z0-9]{16}", c["AccessKeyId"]), c["AccessKeyId"]
        assert len(c["SecretAccessKey"]) == 40 and c["Token"]
        ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        assert ts.match(c["LastUpdated"]) and ts.match(c["Expiration"]), c
        exp = datetime.datetime.strptime(c["Expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        now = datetime.datetime.now(datetime.timezone.utc)
        assert now + datetime.timedelta(minutes=5) < exp < now + datetime.timedelta(hours=12)
        info = get(s.addr, "/latest/meta-data/iam/info", t)
        assert_text_200(info)
        ip = json.loads(info.body, object_pairs_hook=list)
        assert [k for k, _ in ip] == ["Code", "LastUpdated", "InstanceProfileArn",
                                      "InstanceProfileId"]
        ip = dict(ip)
        assert ip["Code"] == "Success"
        assert ip["InstanceProfileArn"] == \
            f"arn:aws:iam::{helpers.ACCOUNT}:instance-profile/{PROFILE}"
        assert re.fullmatch(r"AIPA[A-Z0-9]{17}", ip["InstanceProfileId"]), ip
        assert_page(get(s.addr, "/latest/meta-data/iam/security-credentials/other-role", t), 404)

    def test_imds_case_36_v1_and_v2_credential_sets(self, successor):
        s = successor
        path = f"/latest/meta-data/iam/security-credentials/{PROFILE}"
        t = token(s.addr)
        v1 = json.loads(get(s.addr, path).body)
        v2 = json.loads(get(s.addr, path, t).body)
        assert v1["AccessKeyId"] != v2["AccessKeyId"], "IMDSv1 and IMDSv2 sets must differ"
        assert v1["SecretAccessKey"] != v2["SecretAccessKey"]
        # Stable within a set.
        assert json.loads(get(s.addr, path).body)["AccessKeyId"] == v1["AccessKeyId"]
        assert json.loads(get(s.addr, path, token(s.addr)).body)["AccessKeyId"] == \
            v2["AccessKeyId"]
        with options_applied(s.ec2, s.iid, HttpTokens="required"):
            assert_page(get(s.addr, path), 401)
            assert json.loads(get(s.addr, path, t).body)["AccessKeyId"] == v2["AccessKeyId"]


def test_imds_identity_credentials(imds, tok):
    """Spec §9: `identity-credentials/ec2/info` ({Code, LastUpdated, AccountId}) and the
    instance's own `ec2-instance` credentials, on every instance (no profile needed)."""
    listing = get(imds, "/latest/meta-data/identity-credentials/ec2/", tok)
    assert_text_200(listing)
    assert listing.text == "info\nsecurity-credentials/"
    info = get(imds, "/latest/meta-data/identity-credentials/ec2/info", tok)
    assert_text_200(info)
    pairs = json.loads(info.body, object_pairs_hook=list)
    assert [k for k, _ in pairs] == ["Code", "LastUpdated", "AccountId"]
    assert dict(pairs)["Code"] == "Success" and dict(pairs)["AccountId"] == helpers.ACCOUNT
    names = get(imds, "/latest/meta-data/identity-credentials/ec2/security-credentials/", tok)
    assert names.text == "ec2-instance"
    creds = get(imds, "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance", tok)
    assert_text_200(creds)
    c = json.loads(creds.body, object_pairs_hook=list)
    assert [k for k, _ in c] == ["Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey",
                                 "Token", "Expiration"]
    assert dict(c)["AccessKeyId"].startswith("ASIA") and dict(c)["Expiration"].endswith("Z")
    root = get(imds, "/latest/meta-data/", tok)
    assert "identity-credentials/" in root.text.split("\n")
