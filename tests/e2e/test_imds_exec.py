"""The metadata service at its real addresses, from inside an instance (spec/imds.md).

`imds exec --endpoint http://API --instance ID [--hops N] [--ipv6] -- COMMAND...` runs
COMMAND in a network namespace that holds the instance's private address, with
169.254.169.254 (and, with --ipv6, fd00:ec2::254) routed to the metadata service N-1 routers
away. That is the only place this suite lets anything address 169.254.169.254 /
fd00:ec2::254 or use botocore's default endpoint — and every command is wrapped so that it
refuses to run (exit 97) if it finds itself in the test process's own network namespace.

Contract assumed for `imds exec` (it is being written):
* exit status = COMMAND's exit status; COMMAND's stdout/stderr passed through unchanged;
* `--hops` defaults to 1; the namespace always has IPv6 and a route to fd00:ec2::254
  (whether anything answers there is the instance's HttpProtocolIpv6); `--ipv6` sets
  AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 for SDKs;
* `--region` (default us-east-1) is the instance's Region; IMDS_INSTANCE_ID is set for
  COMMAND; the connection arrives at the service from the instance's private address, so the
  service serves that instance;
* needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.request
from dataclasses import dataclass

import pytest

import helpers
from helpers import IMDS_BIN, ImdsServer
from imds_helpers import (
    loopback_only,
    PAGE_401,
    PAGE_404,
    TOKEN_RE,
    TTL_RESP,
    default_instance,
    imds_address,
    apply_options,
    options_applied,
    token,
)


def _why_not_available() -> str | None:
    how = ("run the suite as root (imds exec creates network namespaces: CAP_SYS_ADMIN and "
           "CAP_NET_ADMIN), e.g. `sudo -E .venv/bin/python -m pytest tests/e2e/test_imds_exec.py`"
           ", with a binary that has the `exec` subcommand (cargo build) and curl installed")
    if os.geteuid() != 0:
        return f"imds exec needs root: {how}"
    if not os.path.exists(IMDS_BIN):
        return f"no imds binary at {IMDS_BIN}: {how}"
    p = subprocess.run([IMDS_BIN, "exec", "--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        first = (p.stderr or p.stdout).strip().splitlines()[:1]
        return f"`imds exec --help` failed ({first}): not built yet? {how}"
    if not shutil.which("curl"):
        return f"curl is not installed: {how}"
    return None


_WHY = _why_not_available()


@pytest.fixture(scope="module", autouse=True)
def _exec_available():
    # A skip at setup (not at collection) so that IMDS_REQUIRE_ALL=1 turns it into a failure.
    if _WHY:
        pytest.skip(_WHY)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    # This process talks to 127.0.0.1 only; the real addresses are used inside `imds exec`.
    yield from loopback_only(monkeypatch)


HOST_NETNS = os.readlink("/proc/self/ns/net")
NS_GUARD = (
    f'[ "$(readlink /proc/self/ns/net)" != "{HOST_NETNS}" ] || '
    '{ echo "imds exec: COMMAND runs in the host network namespace" >&2; exit 97; }; '
    'exec "$@"'
)
IMDS4 = "http://169.254.169.254"
IMDS6 = "http://[fd00:ec2::254]"
TTL_REQ = "X-aws-ec2-metadata-token-ttl-seconds: 21600"

USER_DATA = b"#cloud-config\nruncmd:\n - echo hi\n\x00\x01\xfe\xff\r\nend"
KEY_NAME = "imds-exec-key"
PROFILE = "imds-exec-role"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy",
                                                             "all_proxy", "no_proxy")}
    env.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "PYTHONPATH": ""})
    return env


def in_instance(srv, iid: str, *cmd: str, hops: int | None = None, ipv6: bool = False,
                region: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    argv = [IMDS_BIN, "exec", "--endpoint", srv.endpoint, "--instance", iid]
    if region is not None:
        argv += ["--region", region]
    if hops is not None:
        argv += ["--hops", str(hops)]
    if ipv6:
        argv.append("--ipv6")
    argv += ["--", "sh", "-c", NS_GUARD, "sh", *cmd]
    p = subprocess.run(argv, capture_output=True, timeout=timeout, env=_env())
    assert p.returncode != 97, f"imds exec did not enter a network namespace: {p.stderr!r}"
    return p


@dataclass
class Curl:
    rc: int
    status: int | None
    header_list: list[tuple[str, str]]
    body: bytes
    stderr: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.header_list:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def text(self) -> str:
        return self.body.decode()


def curl(srv, iid: str, method: str, url: str, *headers: str, hops: int | None = None,
         ipv6: bool = False, region: str | None = None, max_time: int = 3) -> Curl:
    cmd = ["curl", "-sS", "-i", "-g", "--noproxy", "*", "-m", str(max_time), "-X", method]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    p = in_instance(srv, iid, *cmd, hops=hops, ipv6=ipv6, region=region)
    if p.returncode != 0 or not p.stdout:
        assert not p.stdout.startswith(b"HTTP/"), p
        return Curl(p.returncode, None, [], b"", p.stderr)
    head, sep, body = p.stdout.partition(b"\r\n\r\n")
    assert sep, p.stdout[:500]
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hl = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    return Curl(p.returncode, status, hl, body, p.stderr)


def curl_token(srv, iid, base=IMDS4, **kw) -> str:
    r = curl(srv, iid, "PUT", f"{base}/latest/api/token", TTL_REQ, **kw)
    assert r.status == 200, r
    assert TOKEN_RE.match(r.text), r.text
    return r.text


def md(srv, iid, path, tok=None, base=IMDS4, **kw) -> Curl:
    headers = [f"X-aws-ec2-metadata-token: {tok}"] if tok else []
    return curl(srv, iid, "GET", f"{base}{path}", *headers, **kw)


BOTO_SCRIPT = textwrap.dedent("""
    # botocore as an SDK on the instance uses it: configuration from the environment, the
    # session's region provider and credential chain, no endpoint override.
    import json, os, sys
    import botocore.credentials, botocore.session, botocore.utils
    assert not os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
    session = botocore.session.Session()
    rp = botocore.utils.IMDSRegionProvider(session)
    resolver = botocore.credentials.create_credential_resolver(session)
    [imds] = [p for p in resolver.providers
              if isinstance(p, botocore.credentials.InstanceMetadataProvider)]
    fetcher = imds._role_fetcher
    out = {"base": fetcher.get_base_url(), "region_base": rp._get_fetcher().get_base_url(),
           "creds": fetcher.retrieve_iam_role_credentials(), "region": rp.provide()}
    if "session" in sys.argv:
        c = session.get_credentials()
        out["session"] = None if c is None else {"method": c.method, "access_key": c.access_key}
    print(json.dumps(out))
""")


def botocore_inside(srv, iid, *args, base="http://169.254.169.254/", **kw) -> dict:
    p = in_instance(srv, iid, sys.executable, "-c", BOTO_SCRIPT, *args, **kw)
    assert p.returncode == 0, p
    out = json.loads(p.stdout)
    assert out["base"] == out["region_base"] == base, out
    return out


# --------------------------------------------------------------------------------------
# Instances
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ec2e(server):
    return server.client(helpers.DEFAULT_REGION)


@pytest.fixture(scope="module")
def default_iid(ec2e):
    return default_instance(ec2e)


@pytest.fixture(scope="module")
def plain(ec2e):
    """An instance with nothing extra (no key, no user data, no profile)."""
    return helpers.running_instance(ec2e, tags={"Name": "exec-plain"})


@pytest.fixture(scope="module")
def rich(ec2e):
    """An instance launched with user data, a key pair name and an instance profile."""
    return helpers.running_instance(ec2e, KeyName=KEY_NAME, UserData=USER_DATA,
                                    IamInstanceProfile={"Name": PROFILE},
                                    tags={"Name": "exec-rich"})


# --------------------------------------------------------------------------------------
# The namespace and the real address
# --------------------------------------------------------------------------------------


def test_exec_namespace_has_private_address(server, ec2e, plain):
    ip = helpers.instance(ec2e, plain)["PrivateIpAddress"]
    script = f"import socket; s = socket.socket(); s.bind(('{ip}', 0)); print('bound')"
    p = in_instance(server, plain, sys.executable, "-c", script)
    assert p.returncode == 0 and p.stdout.strip() == b"bound", p
    # Exit status and output of COMMAND pass through.
    p = in_instance(server, plain, "sh", "-c", "printf 'a\\0b'; exit 7")
    assert (p.returncode, p.stdout) == (7, b"a\0b"), p
    p = in_instance(server, plain, "sh", "-c", 'printf %s "$IMDS_INSTANCE_ID"')
    assert p.stdout == plain.encode(), p


def test_exec_curl_ipv4_v1_serves_that_instance(server, ec2e, plain, default_iid):
    r = md(server, plain, "/latest/meta-data/instance-id")
    assert r.status == 200, r
    assert r.text == plain != default_iid
    assert ("Server", "EC2ws") in r.header_list
    inst = helpers.instance(ec2e, plain)
    assert md(server, plain, "/latest/meta-data/local-ipv4").text == inst["PrivateIpAddress"]
    doc = json.loads(md(server, plain, "/latest/dynamic/instance-identity/document").body)
    assert doc["instanceId"] == plain and doc["privateIp"] == inst["PrivateIpAddress"]


def test_exec_curl_ipv4_v2(server, plain):
    t = curl_token(server, plain)
    r = md(server, plain, "/latest/meta-data/instance-id", t)
    assert r.status == 200 and r.text == plain, r
    assert r.header(TTL_RESP) is not None, r.header_list
    # One shell, the usual two-step recipe.
    p = in_instance(server, plain, "sh", "-c",
                    f'T=$(curl -s -X PUT -H "{TTL_REQ}" {IMDS4}/latest/api/token) && '
                    f'curl -s -H "X-aws-ec2-metadata-token: $T" '
                    f'{IMDS4}/latest/meta-data/instance-id')
    assert p.returncode == 0 and p.stdout == plain.encode(), p


def test_exec_case_17_foreign_token_401(server, plain, rich):
    t_plain = curl_token(server, plain)
    r = md(server, rich, "/latest/meta-data/instance-id", t_plain)
    assert r.status == 401 and r.body == PAGE_401, r
    # A token of the default instance (loopback) is foreign inside `plain` too.
    t_default = token(imds_address(server))
    r = md(server, plain, "/latest/meta-data/instance-id", t_default)
    assert r.status == 401, r
    assert md(server, plain, "/latest/meta-data/instance-id", t_plain).text == plain


def test_exec_region_of_another_region(server):
    """An instance in us-west-2: its own Region in placement, document and botocore."""
    ec2w = server.client("us-west-2")
    iid = helpers.running_instance(ec2w)
    w = "us-west-2"
    try:
        assert md(server, iid, "/latest/meta-data/instance-id", region=w).text == iid
        assert md(server, iid, "/latest/meta-data/placement/region", region=w).text == w
        doc = json.loads(md(server, iid, "/latest/dynamic/instance-identity/document",
                            region=w).body)
        assert doc["region"] == w and doc["instanceId"] == iid
        assert botocore_inside(server, iid, region=w)["region"] == w
    finally:
        ec2w.terminate_instances(InstanceIds=[iid])


# --------------------------------------------------------------------------------------
# Key, user data, role (cases 27, 29, 35, 36)
# --------------------------------------------------------------------------------------


def test_exec_case_27_public_keys(server, rich, plain):
    t = curl_token(server, rich)
    assert md(server, rich, "/latest/meta-data/public-keys/", t).body == f"0={KEY_NAME}".encode()
    assert md(server, rich, "/latest/meta-data/public-keys/0/", t).body == b"openssh-key"
    key = md(server, rich, "/latest/meta-data/public-keys/0/openssh-key", t)
    assert key.status == 200 and key.body.startswith(b"ssh-") and key.body.endswith(
        f" {KEY_NAME}\n".encode()), key
    r = md(server, plain, "/latest/meta-data/public-keys/")
    assert r.status == 404 and r.body == PAGE_404, r


def test_exec_case_29_user_data(server, rich, plain):
    r = md(server, rich, "/latest/user-data", curl_token(server, rich))
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/octet-stream", r.header_list
    assert r.body == USER_DATA
    assert md(server, rich, "/latest/user-data").body == USER_DATA  # v1, optional
    r = md(server, plain, "/latest/user-data")
    assert r.status == 404 and r.body == PAGE_404, r


def test_exec_case_35_role_credentials(server, rich, plain):
    t = curl_token(server, rich)
    assert md(server, rich, "/latest/meta-data/iam/security-credentials/", t).text == PROFILE
    r = md(server, rich, f"/latest/meta-data/iam/security-credentials/{PROFILE}", t)
    assert r.status == 200, r
    keys = [k for k, _ in json.loads(r.body, object_pairs_hook=list)]
    assert keys == ["Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token",
                    "Expiration"]
    c = json.loads(r.body)
    assert c["Code"] == "Success" and c["AccessKeyId"].startswith("ASIA")
    assert c["Expiration"].endswith("Z") and c["LastUpdated"].endswith("Z")
    r = md(server, plain, "/latest/meta-data/iam/security-credentials/")
    assert r.status == 404, r


def test_exec_case_36_v1_v2_sets_and_required(server, ec2e, rich):
    path = f"/latest/meta-data/iam/security-credentials/{PROFILE}"
    t = curl_token(server, rich)
    v1 = json.loads(md(server, rich, path).body)
    v2 = json.loads(md(server, rich, path, t).body)
    assert v1["AccessKeyId"] != v2["AccessKeyId"]
    with options_applied(ec2e, rich, HttpTokens="required"):
        r = md(server, rich, path)
        assert r.status == 401 and r.body == PAGE_401, r
        assert json.loads(md(server, rich, path, t).body)["AccessKeyId"] == v2["AccessKeyId"]


def test_exec_botocore_role_credentials(server, ec2e, rich):
    """botocore with its defaults (169.254.169.254, IMDSv2 first) inside the instance."""
    v2 = json.loads(md(server, rich, f"/latest/meta-data/iam/security-credentials/{PROFILE}",
                       curl_token(server, rich)).body)
    out = botocore_inside(server, rich, "session")
    c = out["creds"]
    assert c["role_name"] == PROFILE
    assert c["access_key"] == v2["AccessKeyId"], "botocore uses a token: the IMDSv2 set"
    assert c["secret_key"] == v2["SecretAccessKey"] and c["token"] == v2["Token"]
    assert out["region"] == helpers.DEFAULT_REGION
    assert out["session"] == {"method": "iam-role", "access_key": v2["AccessKeyId"]}
    with options_applied(ec2e, rich, HttpTokens="required"):
        assert botocore_inside(server, rich)["creds"]["access_key"] == v2["AccessKeyId"]


# --------------------------------------------------------------------------------------
# Hop limit (case 31) and IPv6 (case 32)
# --------------------------------------------------------------------------------------


def test_exec_case_31_hop_limit(server, ec2e):
    iid = helpers.running_instance(ec2e, tags={"Name": "exec-hops"})
    try:
        put = (f"{IMDS4}/latest/api/token", TTL_REQ)
        t = curl(server, iid, "PUT", *put, hops=1)
        assert t.status == 200, t
        # Hop limit 1, one router in between: the reply expires in transit → read timeout.
        far = curl(server, iid, "PUT", *put, hops=2)
        assert far.rc == 28 and far.status is None, far
        # GETs are not limited: IMDSv1 and IMDSv2 reads work from two hops away.
        assert md(server, iid, "/latest/meta-data/instance-id", hops=2).text == iid
        assert md(server, iid, "/latest/meta-data/instance-id", t.text, hops=2).text == iid
        with options_applied(ec2e, iid, HttpPutResponseHopLimit=2):
            r = curl(server, iid, "PUT", *put, hops=2)
            assert r.status == 200 and TOKEN_RE.match(r.text), r
            assert curl(server, iid, "PUT", *put, hops=3).rc == 28
        assert curl(server, iid, "PUT", *put, hops=2).rc == 28
    finally:
        ec2e.terminate_instances(InstanceIds=[iid])


def test_exec_botocore_hop_limit_fallback(server, ec2e, rich):
    """Spec §5/§14: from two hops away with hop limit 1, botocore's token PUT times out and it
    falls back to IMDSv1 (the v1 credential set); under required that fallback gets 401."""
    v1 = json.loads(md(server, rich, f"/latest/meta-data/iam/security-credentials/{PROFILE}")
                    .body)
    out = botocore_inside(server, rich, hops=2)
    assert out["creds"]["access_key"] == v1["AccessKeyId"]
    assert out["region"] == helpers.DEFAULT_REGION
    with options_applied(ec2e, rich, HttpTokens="required"):
        out = botocore_inside(server, rich, hops=2)
        assert out["creds"] == {} and out["region"] is None
    with options_applied(ec2e, rich, HttpTokens="required", HttpPutResponseHopLimit=2):
        out = botocore_inside(server, rich, hops=2)
        assert out["creds"]["role_name"] == PROFILE
        assert out["region"] == helpers.DEFAULT_REGION


def test_exec_case_32_ipv6(server, ec2e):
    iid = helpers.running_instance(ec2e, tags={"Name": "exec-ipv6"})
    try:
        r = curl(server, iid, "PUT", f"{IMDS6}/latest/api/token", TTL_REQ, ipv6=True)
        assert r.status is None and r.rc == 7, f"IPv6 disabled: no HTTP answer expected: {r}"
        with options_applied(ec2e, iid, HttpProtocolIpv6="enabled"):
            t = curl_token(server, iid, base=IMDS6, ipv6=True)
            r = md(server, iid, "/latest/meta-data/instance-id", t, base=IMDS6, ipv6=True)
            assert r.status == 200 and r.text == iid, r
            assert ("Server", "EC2ws") in r.header_list
            assert md(server, iid, "/latest/meta-data/instance-id", base=IMDS6,
                      ipv6=True).text == iid
            # IPv4 stays on.
            assert md(server, iid, "/latest/meta-data/instance-id", ipv6=True).text == iid
            # IPv6 follows the same token rules.
            bad = md(server, iid, "/latest/meta-data/instance-id", "bogus", base=IMDS6, ipv6=True)
            assert bad.status == 401, bad
            # The IPv6 hop limit of token replies is the hop limit too.
            far = curl(server, iid, "PUT", f"{IMDS6}/latest/api/token", TTL_REQ, ipv6=True,
                       hops=2)
            assert far.rc == 28 and far.status is None, far
            assert md(server, iid, "/latest/meta-data/instance-id", base=IMDS6, ipv6=True,
                      hops=2).text == iid
            # botocore in IPv6 mode (AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE, set by --ipv6).
            out = botocore_inside(server, iid, ipv6=True, base="http://[fd00:ec2::254]/")
            assert out["region"] == helpers.DEFAULT_REGION and out["creds"] == {}
        # Disabled again: no answer over IPv6 (a new namespace each time).
        r = curl(server, iid, "PUT", f"{IMDS6}/latest/api/token", TTL_REQ, ipv6=True)
        assert r.status is None and r.rc == 7, r
    finally:
        ec2e.terminate_instances(InstanceIds=[iid])


def test_exec_ipv6_route_follows_the_option_while_the_command_runs(server, ec2e, tmp_path):
    """One `imds exec`: the IPv6 route to the service changes when HttpProtocolIpv6 does,
    while the command runs (the host's per-instance watch wakes the route's follower)."""
    iid = helpers.running_instance(ec2e, tags={"Name": "exec-ipv6-follow"})
    put = f'curl -sS -g --noproxy "*" -m 2 -X PUT -H "{TTL_REQ}" {IMDS6}/latest/api/token'
    # Each step: signal the test, wait for its go, then retry the PUT for up to 10 s until it
    # ends as expected (the route is replaced a moment after `applied`).
    script = textwrap.dedent(f"""\
        step() {{
          touch "{tmp_path}/ready-$1"
          n=0; while [ ! -e "{tmp_path}/go-$1" ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done
          n=0; while [ $n -lt 100 ]; do
            out=$({put} 2>/dev/null); rc=$?
            if [ "$2" = up ] && [ $rc -eq 0 ]; then echo "$1 up ${{#out}}"; return; fi
            if [ "$2" = down ] && [ $rc -eq 7 ]; then echo "$1 down"; return; fi
            sleep 0.1; n=$((n+1))
          done
          echo "$1 stuck rc=$rc"
        }}
        step 1 down; step 2 up; step 3 down
        """)
    argv = [IMDS_BIN, "exec", "--endpoint", server.endpoint, "--instance", iid,
            "--", "sh", "-c", NS_GUARD, "sh", "sh", "-c", script]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        def go(step: int, **opts):
            ready = tmp_path / f"ready-{step}"
            for _ in range(600):
                if ready.exists() or p.poll() is not None:
                    break
                time.sleep(0.05)
            assert ready.exists(), p.communicate(timeout=5)
            if opts:
                apply_options(ec2e, iid, **opts)
            (tmp_path / f"go-{step}").touch()

        go(1)
        go(2, HttpProtocolIpv6="enabled")
        go(3, HttpProtocolIpv6="disabled")
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, (out, err)
        lines = out.decode().split("\n")
        assert lines[0] == "1 down", out
        assert lines[1] == "2 up 56", out  # a token is 56 characters
        assert lines[2] == "3 down", out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        ec2e.terminate_instances(InstanceIds=[iid])


def test_exec_without_privilege_says_so(server):
    """Without root or CAP_NET_ADMIN, `imds exec` refuses clearly and builds nothing."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop privileges: apt-get install util-linux")
    # setpriv execs imds: the child's pid is imds exec's, which names its namespaces
    # (`imds-<pid mod 100000>-…`, exec::topology). Only those are this test's: other
    # workers' `imds exec` runs come and go meanwhile, so the host's whole list is no
    # measure (CI once saw another worker's namespaces go between the two readings).
    proc = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             "--inh-caps=-all", IMDS_BIN, "exec", "--endpoint",
                             server.endpoint, "--", "true"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 125, (out, err)
    assert "needs root or CAP_NET_ADMIN" in err
    after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"imds-{proc.pid % 100_000}-" not in after, after


# --------------------------------------------------------------------------------------
# Which process called (issue 15)
# --------------------------------------------------------------------------------------

PY_CALLER = ("import urllib.request; "
             "urllib.request.urlopen('http://169.254.169.254/latest/meta-data/instance-id').read()")


def test_exec_tokenless_callers_are_named_with_their_argv(server, ec2e):
    """A Python and a shell program making tokenless calls inside `imds exec` are named in
    `imds report v1-callers` with their argv and parents; a caller with a token is not a v1
    caller; `/metrics` counts the calls per command."""
    iid = helpers.running_instance(ec2e, tags={"Name": "exec-callers"})
    p = in_instance(server, iid, "python3", "-c", PY_CALLER)
    assert p.returncode == 0, p
    # A shell script calling curl (the `; true` keeps sh from exec'ing into curl).
    p = in_instance(server, iid, "sh", "-c", f"curl -sf -m 5 {IMDS4}/latest/meta-data/; true")
    assert p.returncode == 0, p
    p = in_instance(server, iid, "sh", "-c",
                    f'T=$(curl -sf -m 5 -X PUT -H "{TTL_REQ}" {IMDS4}/latest/api/token) && '
                    f'curl -sf -m 5 -H "X-aws-ec2-metadata-token: $T" {IMDS4}/latest/meta-data/ami-id')
    assert p.returncode == 0, p
    r = subprocess.run([IMDS_BIN, "report", "v1-callers", "--endpoint", server.endpoint,
                        "--instance", iid, "--since", "10m", "--output", "json"],
                       capture_output=True, text=True, timeout=60, env=_env())
    assert r.returncode == 0, r
    rows = json.loads(r.stdout)["Callers"]
    by_command = {row["Command"]: row for row in rows}
    assert set(by_command) == {"python3", "curl"}, rows
    py = by_command["python3"]
    assert py["Argv"][0].endswith("python3") and py["Argv"][1] == "-c", py
    assert "urlopen" in py["Argv"][2], py
    assert (py["Calls"], py["Answered"], py["LastPath"]) == (1, 1, "/latest/meta-data/instance-id")
    # Its parents: the `imds exec` that ran it (the namespace guard exec'd into it), and on.
    imds = os.path.basename(IMDS_BIN)[:15]  # `comm`: the binary's name, 15 characters at most
    assert imds in [p["Command"] for p in py["Parents"]], py["Parents"]
    cu = by_command["curl"]
    assert cu["Argv"][0].endswith("curl") and cu["Argv"][1] == "-sf", cu
    assert cu["Argv"][-1].endswith("/latest/meta-data/"), cu
    assert cu["Parents"][0]["Command"] == "sh" and "curl -sf" in cu["Parents"][0]["Argv"][-1], cu
    # The table names them too, for people.
    table = subprocess.run([IMDS_BIN, "report", "v1-callers", "--endpoint", server.endpoint,
                            "--instance", iid, "--since", "10m"],
                           capture_output=True, text=True, timeout=60, env=_env()).stdout
    assert "python3 -c" in table and "curl -sf" in table, table
    with urllib.request.urlopen(f"{server.endpoint}/metrics", timeout=30) as m:
        metrics = m.read().decode()
    line = next(l for l in metrics.splitlines()
                if l.startswith("imds_metadata_calls_total") and iid in l and 'command="python3"' in l)
    assert 'kind="v1"' in line and line.endswith(" 1"), line
    assert any(l.startswith("imds_metadata_calls_total") and iid in l and 'kind="token"' in l
               for l in metrics.splitlines())


def test_exec_curl_sees_a_spot_interruption_notice(server, ec2e):
    """Issue 16: a Spot instance interrupted (imds's control route, as the console's
    "Initiate interruption"; PT2M gives the notice at once) — a termination handler's loop
    inside the instance (a token, then polling `spot/instance-action`) reads the notice at
    169.254.169.254, and the rebalance recommendation with it."""
    iid = helpers.run_one(ec2e, InstanceMarketOptions={"MarketType": "spot"})
    helpers.wait_state(ec2e, iid, "running")
    req = urllib.request.Request(f"{server.endpoint}/_imds/instances/{iid}/interruption",
                                 data=b'{"in": "2m"}', method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    loop = (
        'T=$(curl -sS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" '
        f'{IMDS4}/latest/api/token) || exit 2; '
        'for i in 1 2 3 4 5 6 7 8 9 10; do '
        f'  curl -sf -H "X-aws-ec2-metadata-token: $T" {IMDS4}/latest/meta-data/spot/instance-action'
        '  && exit 0; sleep 1; done; exit 1'
    )
    p = in_instance(server, iid, "sh", "-c", loop)
    assert p.returncode == 0, p
    notice = json.loads(p.stdout)
    assert notice["action"] == "terminate" and notice["time"].endswith("Z"), notice
    r = md(server, iid, "/latest/meta-data/events/recommendations/rebalance")
    assert r.status == 200 and "noticeTime" in json.loads(r.body), r
    ec2e.terminate_instances(InstanceIds=[iid])


def test_exec_a_fis_interruption_reaches_a_termination_handler(tmp_path):
    """Issue 16, as AWS users test a node termination handler: the aws CLI creates and
    starts a FIS experiment (`aws:ec2:send-spot-instance-interruptions`, PT4M) on a server
    whose two minutes of notice last 10 s (`--spot-notice 10s`: the notice 10 s after the
    start, the action 10 s later). Inside the instance (`imds exec`), a loop like a
    termination handler's takes a token and polls `spot/instance-action` every 5 s: it sees
    the notice within one poll of its time; after the action time the instance is
    shutting down or terminated."""
    notice_s, poll_s = 10, 5
    gen = helpers.running(ImdsServer(tmp_path / "fis-exec",
                                     extra_args=["--spot-notice", f"{notice_s}s"]))
    srv = next(gen)
    try:
        ec2 = srv.client(helpers.DEFAULT_REGION)
        iid = helpers.run_one(ec2, InstanceMarketOptions={"MarketType": "spot"},
                              tags={"fleet": "nth"})
        helpers.wait_state(ec2, iid, "running")
        template = {
            "description": "interrupt the nth fleet", "stopConditions": [{"source": "none"}],
            "roleArn": "arn:aws:iam::123456789012:role/fis-spot",
            "targets": {"spot": {"resourceType": "aws:ec2:spot-instance",
                                 "selectionMode": "ALL", "resourceTags": {"fleet": "nth"}}},
            "actions": {"interrupt": {
                "actionId": "aws:ec2:send-spot-instance-interruptions",
                "parameters": {"durationBeforeInterruption": "PT4M"},
                "targets": {"SpotInstances": "spot"}}},
        }

        def aws_fis(*args: str) -> dict:
            cmd = [helpers.AWS_CLI, "fis", *args, "--endpoint-url", srv.endpoint,
                   "--region", helpers.DEFAULT_REGION, "--output", "json"]
            p = subprocess.run(cmd, env=helpers.cli_env(), capture_output=True, text=True,
                               timeout=120)
            assert p.returncode == 0, (cmd, p.stdout, p.stderr)
            return json.loads(p.stdout)

        tid = aws_fis("create-experiment-template", "--cli-input-json",
                      json.dumps(template))["experimentTemplate"]["id"]
        handler = (
            'T=$(curl -sS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 3600" '
            f'{IMDS4}/latest/api/token) || exit 2; '
            'start=$(date +%s.%N); '
            'while :; do '
            f'  if N=$(curl -sf -H "X-aws-ec2-metadata-token: $T" {IMDS4}/latest/meta-data/spot/instance-action); '
            '  then echo "$N"; echo "$start $(date +%s.%N)"; exit 0; fi; '
            f'  sleep {poll_s}; '
            'done'
        )
        started = time.time()
        experiment = aws_fis("start-experiment", "--experiment-template-id", tid)
        assert experiment["experiment"]["state"]["status"] == "initiating", experiment
        p = in_instance(srv, iid, "sh", "-c", handler, timeout=notice_s + 4 * poll_s)
        seen = time.time()
        assert p.returncode == 0, p
        notice_line, _ = p.stdout.decode().splitlines()[:2]
        notice = json.loads(notice_line)
        assert notice["action"] == "terminate", notice
        # Seen within one poll of the notice's time (10 s after the start).
        assert notice_s - 1 <= seen - started <= notice_s + poll_s + 2, seen - started
        action_at = datetime.datetime.strptime(notice["time"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        assert abs(action_at - (started + 2 * notice_s)) <= 2, (notice, started)
        time.sleep(max(0.0, action_at + 1 - time.time()))
        i = helpers.instance(ec2, iid)
        assert i["State"]["Name"] in ("shutting-down", "terminated"), i["State"]
        assert i["StateReason"]["Code"] == "Server.SpotInstanceTermination", i
        got = aws_fis("get-experiment", "--id", experiment["experiment"]["id"])
        assert got["experiment"]["state"]["status"] == "completed", got
    finally:
        gen.close()
