"""Every instance's metadata service without root (issue 11): a loopback endpoint per instance
(`GET /_imds/instances/{id}/endpoint`, `imds endpoint`), `imds exec --rootless`, and the
commands finding the running server by the record it leaves in its data dir.

Two instances of two accounts are served at once on their own endpoints, reached the way SDKs
reach an overridden endpoint (`AWS_EC2_METADATA_SERVICE_ENDPOINT`): botocore's
`InstanceMetadataFetcher` and the aws CLI. Everything stays on loopback."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import InstanceMetadataFetcher, InstanceMetadataRegionFetcher

import helpers
from helpers import AMI_AL2
from iam_helpers import Acct, iam_server
from imds_helpers import TOKEN_REQ, get, loopback_only, token

A = ("111122223333", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
B = ("444455556666", "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
REGION_A, REGION_B = "us-east-1", "us-west-2"
EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
NOBODY = 65534


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    yield from loopback_only(monkeypatch)


def session(who, region):
    _, key, secret = who
    return boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                 region_name=region)


def client(srv, service, who, region):
    return session(who, region).client(service, endpoint_url=srv.endpoint,
                                       config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("rootless"), [Acct(*A), Acct(*B)]))


def launch_with_role(srv, who, region, role) -> str:
    iam = client(srv, "iam", who, region)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=EC2_TRUST)
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess")
    iam.create_instance_profile(InstanceProfileName=role)
    iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    ec2 = client(srv, "ec2", who, region)
    iid = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                            IamInstanceProfile={"Name": role})["Instances"][0]["InstanceId"]
    helpers.wait_state(ec2, iid, "running")
    return iid


@pytest.fixture(scope="module")
def fleet(server):
    """One instance with a role in each account, in different Regions."""
    return {"a": launch_with_role(server, A, REGION_A, "app-a"),
            "b": launch_with_role(server, B, REGION_B, "app-b")}


def signed_get(srv, who, path: str, region: str = REGION_A) -> tuple[int, str]:
    """GET on the API port, SigV4-signed for `ec2` as `who` (None: unsigned)."""
    import http.client
    url = srv.endpoint + path
    req = AWSRequest(method="GET", url=url, headers={})
    if who is not None:
        SigV4Auth(Credentials(who[1], who[2]), "ec2", region).add_auth(req)
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""),
                     headers=dict(req.headers.items()))
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def endpoint_of(srv, who, iid, **query) -> str:
    q = ("?" + urllib.parse.urlencode(query)) if query else ""
    status, body = signed_get(srv, who, f"/_imds/instances/{iid}/endpoint{q}")
    assert status == 200, (status, body)
    return body


def addr(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "http" and parts.path == "", url
    return parts.netloc


def cli_env(**extra) -> dict:
    """The environment of a client on an instance: no credentials, no config files."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy",
                                                             "all_proxy", "no_proxy")}
    env.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------
# The endpoint route
# --------------------------------------------------------------------------------------


def test_endpoint_route_answers_a_loopback_url_per_instance(server, fleet):
    ua, ub = endpoint_of(server, A, fleet["a"]), endpoint_of(server, B, fleet["b"])
    for u in (ua, ub):
        assert u.startswith("http://127.0.0.1:"), u
    assert ua != ub
    assert endpoint_of(server, A, fleet["a"]) == ua, "an endpoint is kept while the instance exists"
    # Each endpoint is its instance, whatever the source address (both come from 127.0.0.1).
    for who, iid, u in (("a", fleet["a"], ua), ("b", fleet["b"], ub)):
        r = get(addr(u), "/latest/meta-data/instance-id")
        assert (r.status, r.text) == (200, iid), (who, r)
    doc_b = json.loads(get(addr(ub), "/latest/dynamic/instance-identity/document").text)
    assert (doc_b["accountId"], doc_b["region"], doc_b["instanceId"]) == (B[0], REGION_B, fleet["b"])


def test_endpoint_route_refusals(server, fleet):
    # Another account's instance does not exist for the caller (EC2's wording).
    status, body = signed_get(server, A, f"/_imds/instances/{fleet['b']}/endpoint")
    assert (status, body) == (404, f"InvalidInstanceID.NotFound: The instance ID '{fleet['b']}' does not exist")
    status, body = signed_get(server, A, "/_imds/instances/i-0123456789abcdef0/endpoint")
    assert status == 404 and body.startswith("InvalidInstanceID.NotFound: "), body
    status, body = signed_get(server, A, "/_imds/instances/not-an-id/endpoint")
    assert status == 400 and body.startswith("InvalidInstanceID.Malformed: "), body
    # Unsigned under --iam-config: EC2's answer to an unsigned request.
    status, body = signed_get(server, None, f"/_imds/instances/{fleet['a']}/endpoint")
    assert status == 400 and "<Code>MissingParameter</Code>" in body, body


def test_endpoint_route_needs_describe_instances_on_that_instance(server, fleet):
    iam = client(server, "iam", A, REGION_A)
    allow = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ec2:DescribeInstances",
        "Resource": f"arn:aws:ec2:{REGION_A}:{A[0]}:instance/{fleet['a']}"}]}
    users = {}
    for name, policy in (("reader", allow), ("nobody-allowed", None)):
        iam.create_user(UserName=name)
        if policy:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        k = iam.create_access_key(UserName=name)["AccessKey"]
        users[name] = (A[0], k["AccessKeyId"], k["SecretAccessKey"])
    deadline = time.monotonic() + 10
    while True:
        status, body = signed_get(server, users["reader"], f"/_imds/instances/{fleet['a']}/endpoint")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200 and body.startswith("http://127.0.0.1:"), (status, body)
    status, body = signed_get(server, users["nobody-allowed"], f"/_imds/instances/{fleet['a']}/endpoint")
    assert status == 403 and "<Code>UnauthorizedOperation</Code>" in body, (status, body)


# --------------------------------------------------------------------------------------
# Two instances of two accounts at once, through the SDKs' endpoint override
# --------------------------------------------------------------------------------------


def fetcher(url: str, cls=InstanceMetadataFetcher):
    f = cls(timeout=2, num_attempts=1, env={}, config={"ec2_metadata_service_endpoint": url})
    assert f.get_base_url() == url
    return f


def test_botocore_fetchers_get_each_instance_role_credentials_at_once(server, fleet):
    ua, ub = endpoint_of(server, A, fleet["a"]), endpoint_of(server, B, fleet["b"])
    results = {}

    def fetch(name, url):
        results[name] = (fetcher(url).retrieve_iam_role_credentials(),
                         fetcher(url, InstanceMetadataRegionFetcher).retrieve_region())

    threads = [threading.Thread(target=fetch, args=a) for a in (("a", ua), ("b", ub))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    (ca, region_a), (cb, region_b) = results["a"], results["b"]
    assert (ca["role_name"], region_a) == ("app-a", REGION_A)
    assert (cb["role_name"], region_b) == ("app-b", REGION_B)
    # The credentials of the instance in the other account act in that account.
    for creds, acct, role, iid, region in ((ca, A[0], "app-a", fleet["a"], REGION_A),
                                           (cb, B[0], "app-b", fleet["b"], REGION_B)):
        sts = boto3.session.Session(
            aws_access_key_id=creds["access_key"], aws_secret_access_key=creds["secret_key"],
            aws_session_token=creds["token"], region_name=region).client(
            "sts", endpoint_url=server.endpoint, config=Config(retries={"total_max_attempts": 1}))
        who = sts.get_caller_identity()
        assert who["Account"] == acct
        assert who["Arn"] == f"arn:aws:sts::{acct}:assumed-role/{role}/{iid}"


def test_aws_cli_takes_each_instance_credentials_from_its_endpoint(server, fleet):
    procs = {}
    for name, who, region in (("a", A, REGION_A), ("b", B, REGION_B)):
        url = endpoint_of(server, who, fleet[name])
        env = cli_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=url, AWS_DEFAULT_REGION=region)
        procs[name] = subprocess.Popen(
            [helpers.AWS_CLI, "sts", "get-caller-identity", "--endpoint-url", server.endpoint,
             "--output", "json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, acct, role in (("a", A[0], "app-a"), ("b", B[0], "app-b")):
        out, err = procs[name].communicate(timeout=120)
        assert procs[name].returncode == 0, err
        assert json.loads(out)["Arn"] == f"arn:aws:sts::{acct}:assumed-role/{role}/{fleet[name]}"


def test_a_token_of_one_instance_is_refused_by_the_other(server, fleet):
    aa, ab = addr(endpoint_of(server, A, fleet["a"])), addr(endpoint_of(server, B, fleet["b"]))
    ta = token(aa)
    assert get(aa, "/latest/meta-data/instance-id", ta).text == fleet["a"]
    r = get(ab, "/latest/meta-data/instance-id", ta)
    assert r.status == 401, r


def test_each_endpoint_enforces_its_instance_options(server, fleet):
    ec2b = client(server, "ec2", B, REGION_B)
    iid = ec2b.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1,
                             MaxCount=1)["Instances"][0]["InstanceId"]
    helpers.wait_state(ec2b, iid, "running")
    ub = addr(endpoint_of(server, B, iid))
    assert get(ub, "/latest/meta-data/instance-id").status == 200
    ec2b.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    helpers.wait_applied(ec2b, iid)
    assert get(ub, "/latest/meta-data/instance-id").status == 401
    assert get(ub, "/latest/meta-data/instance-id", token(ub)).text == iid
    # The other account's instance still allows IMDSv1.
    assert get(addr(endpoint_of(server, A, fleet["a"])), "/latest/meta-data/instance-id").status == 200
    # Counted for that instance (`imds stats`).
    p = subprocess.run([helpers.IMDS_BIN, "stats", "--endpoint", server.endpoint],
                       capture_output=True, text=True, timeout=30,
                       env=cli_env(AWS_ACCESS_KEY_ID=A[1], AWS_SECRET_ACCESS_KEY=A[2]))
    assert p.returncode == 0, p.stderr
    line = next(l for l in p.stdout.splitlines() if l.startswith(iid))
    assert "MetadataNoTokenRejected=1" in line, line


def test_endpoint_closes_when_the_instance_terminates(server):
    ec2 = client(server, "ec2", A, REGION_A)
    iid = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1,
                            MaxCount=1)["Instances"][0]["InstanceId"]
    helpers.wait_state(ec2, iid, "running")
    a = addr(endpoint_of(server, A, iid))
    assert get(a, "/latest/meta-data/instance-id").text == iid
    ec2.terminate_instances(InstanceIds=[iid])
    helpers.wait_state(ec2, iid, "terminated")
    host, port = a.rsplit(":", 1)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                pass
        except ConnectionRefusedError:
            break
        assert time.monotonic() < deadline, "the endpoint of a terminated instance still listens"
        time.sleep(0.1)
    status, body = signed_get(server, A, f"/_imds/instances/{iid}/endpoint")
    assert (status, body.split(":")[0]) == (400, "IncorrectInstanceState"), body


def test_imds_endpoint_command_chooses_the_port_and_keeps_it(server):
    ec2 = client(server, "ec2", A, REGION_A)
    iid = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1,
                            MaxCount=1)["Instances"][0]["InstanceId"]
    helpers.wait_state(ec2, iid, "running")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = cli_env(AWS_ACCESS_KEY_ID=A[1], AWS_SECRET_ACCESS_KEY=A[2])

    def endpoint(*args):
        return subprocess.run([helpers.IMDS_BIN, "endpoint", "--endpoint", server.endpoint,
                               "--instance", iid, *args],
                              capture_output=True, text=True, timeout=30, env=env)

    p = endpoint("--port", str(port))
    assert (p.returncode, p.stdout) == (0, f"http://127.0.0.1:{port}\n"), p
    assert endpoint().stdout == f"http://127.0.0.1:{port}\n", "kept"
    other = endpoint("--port", str(port + 1 if port < 65535 else port - 1))
    assert other.returncode != 0 and "already served at" in other.stderr, other
    assert get(f"127.0.0.1:{port}", "/latest/meta-data/instance-id").text == iid


def test_ipv6_endpoint_answers_only_while_the_instance_has_it_enabled(server):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    ec2 = client(server, "ec2", A, REGION_A)
    iid = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1,
                            MaxCount=1)["Instances"][0]["InstanceId"]
    helpers.wait_state(ec2, iid, "running")
    url = endpoint_of(server, A, iid, ipv6="true")
    assert url.startswith("http://[::1]:"), url
    v4 = endpoint_of(server, A, iid)
    assert urllib.parse.urlsplit(url).port == urllib.parse.urlsplit(v4).port
    # Disabled (the default): nothing answers, as the IPv6 endpoint does not exist.
    with pytest.raises(AssertionError, match="no complete HTTP header block in the reply: b''"):
        get(addr(url), "/latest/meta-data/instance-id")
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpProtocolIpv6="enabled")
    helpers.wait_applied(ec2, iid)
    r = get(addr(url), "/latest/meta-data/instance-id")
    assert (r.status, r.text) == (200, iid), r


# --------------------------------------------------------------------------------------
# imds exec --rootless, and without root
# --------------------------------------------------------------------------------------

TOKEN_SCRIPT = ('T=$(curl -sf -m 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" '
                '"$AWS_EC2_METADATA_SERVICE_ENDPOINT/latest/api/token") && '
                'curl -sf -m 5 -H "X-aws-ec2-metadata-token: $T" '
                '"$AWS_EC2_METADATA_SERVICE_ENDPOINT/latest/meta-data/instance-id" && echo " $(id -u)"')


def as_nobody() -> list[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to uid 65534 (run the suite as root)")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("needs setpriv (util-linux)")
    return [setpriv, "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]


def test_exec_rootless_as_uid_65534(server, fleet):
    env = cli_env(AWS_ACCESS_KEY_ID=B[1], AWS_SECRET_ACCESS_KEY=B[2], HOME="/nonexistent",
                  AWS_EC2_METADATA_DISABLED="true")
    p = subprocess.run([*as_nobody(), helpers.IMDS_BIN, "exec", "--rootless",
                        "--endpoint", server.endpoint, "--region", REGION_B,
                        "--", "sh", "-c", TOKEN_SCRIPT],
                       capture_output=True, text=True, timeout=60, env=env, cwd="/")
    assert p.returncode == 0, p
    assert p.stdout.split() == [fleet["b"], str(NOBODY)], p.stdout


def test_exec_without_root_points_to_rootless(server):
    p = subprocess.run([*as_nobody(), helpers.IMDS_BIN, "exec", "--endpoint", server.endpoint,
                        "--", "true"], capture_output=True, text=True, timeout=30,
                       env=cli_env(HOME="/nonexistent"), cwd="/")
    assert p.returncode == 125, p
    assert "needs root or CAP_NET_ADMIN" in p.stderr and "--rootless" in p.stderr, p.stderr


def test_exec_rootless_refuses_hops():
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--rootless", "--hops", "2", "--", "true"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "--hops" in p.stderr, p.stderr


# --------------------------------------------------------------------------------------
# Finding the server: the record in the data dir
# --------------------------------------------------------------------------------------


def test_exec_finds_a_server_on_another_port_through_its_data_dir(server_factory, tmp_path):
    data = tmp_path / "data"
    srv = server_factory(data_dir=data)
    iid = helpers.running_instance(srv.client(helpers.DEFAULT_REGION))
    env = cli_env(IMDS_DATA_DIR=str(data))
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--rootless", "--instance", iid, "--",
                        "sh", "-c", TOKEN_SCRIPT], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p
    assert p.stdout.split()[0] == iid
    # The default data dir of the user (HOME), with no flag at all.
    home = tmp_path / "home"
    srv2 = server_factory(env={"HOME": str(home), "XDG_DATA_HOME": str(home / ".local/share")})
    env = cli_env(HOME=str(home))
    env.pop("XDG_DATA_HOME", None)
    env.pop("IMDS_DATA_DIR", None)
    p = subprocess.run([helpers.IMDS_BIN, "endpoint"], capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0, p
    assert get(addr(p.stdout.strip()), "/latest/meta-data/instance-id").status == 200
    # Stopped cleanly: its record goes, and the commands say where they looked.
    code = srv2.stop(timeout=30)
    assert code == 0, f"not a clean stop ({code}): {srv2.stderr_tail()}"
    assert not list((home / ".local/share/imds").glob("serve-*.json"))
    p = subprocess.run([helpers.IMDS_BIN, "endpoint", "--data-dir", str(home / ".local/share/imds")],
                       capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode != 0 and "no running imds serve is recorded in" in p.stderr, p.stderr


@pytest.fixture
def sudo_user(server_factory):
    """A throw-away login whose home is outside root's 0700 directories; deleted after the
    servers of the test have stopped (a user with processes cannot be deleted)."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to play a user who runs sudo")
    import secrets
    name = f"imdst{secrets.token_hex(4)}"
    home = tempfile.mkdtemp(prefix="imds-sudo-home-", dir="/tmp")
    made = subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh", name],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    try:
        import pwd
        pw = pwd.getpwnam(name)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        yield name, home, pw.pw_uid, pw.pw_gid
    finally:
        server_factory.close()
        gone = subprocess.run(["userdel", name], capture_output=True, text=True)
        shutil.rmtree(home, ignore_errors=True)
        assert gone.returncode == 0, f"userdel {name}: {gone.stderr}"


def test_exec_under_sudo_finds_the_server_of_the_user_who_ran_sudo(server_factory, sudo_user, tmp_path):
    name, home, uid, gid = sudo_user

    def become():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    # The user's own server, on a port of its choosing, ephemeral: recorded in ~/.local/share/imds.
    srv = server_factory(preexec_fn=become, env={"HOME": home, "XDG_DATA_HOME": ""})
    assert list(Path(home, ".local/share/imds").glob("serve-*.json")), "recorded in the user's data dir"
    # `sudo imds exec …`: root's HOME, SUDO_USER naming the user; no endpoint given.
    root_home = tmp_path / "root-home"
    root_home.mkdir()
    env = cli_env(HOME=str(root_home), SUDO_USER=name)
    env.pop("XDG_DATA_HOME", None)
    env.pop("IMDS_DATA_DIR", None)
    env.pop("IMDS_ENDPOINT", None)
    iid = helpers.running_instance(srv.client(helpers.DEFAULT_REGION))
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--rootless", "--instance", iid, "--",
                        "sh", "-c", TOKEN_SCRIPT], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p
    assert p.stdout.split()[0] == iid


def test_full_exec_finds_a_root_server_recorded_in_the_sudo_users_home(server_factory, sudo_user,
                                                                        tmp_path):
    """`sudo imds serve` where sudo kept the user's HOME (`sudo -E`, or sudoers without
    always_set_home): the record is in the user's data dir; a later `sudo imds exec` with root's
    HOME still finds it through SUDO_USER, and serves at 169.254.169.254 inside its namespaces."""
    from iam_helpers import exec_unavailable
    why = exec_unavailable()
    if why:
        pytest.skip(why)
    name, home, _, _ = sudo_user
    srv = server_factory(env={"HOME": home, "XDG_DATA_HOME": ""})
    assert list(Path(home, ".local/share/imds").glob("serve-*.json"))
    iid = helpers.running_instance(srv.client(helpers.DEFAULT_REGION))
    root_home = tmp_path / "root-home"
    root_home.mkdir()
    env = cli_env(HOME=str(root_home), SUDO_USER=name)
    for k in ("XDG_DATA_HOME", "IMDS_DATA_DIR", "IMDS_ENDPOINT"):
        env.pop(k, None)
    script = 'curl -sf --noproxy "*" -m 5 http://169.254.169.254/latest/meta-data/instance-id'
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--instance", iid, "--", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60, env=env)
    assert (p.returncode, p.stdout) == (0, iid), p


def test_rootless_callers_are_named_too(server_factory, tmp_path):
    """Calls through an instance's loopback endpoint (`imds exec --rootless`) are attributed
    to their process as inside namespaces (the socket is found in the host's namespace)."""
    srv = server_factory()
    ec2 = srv.client(helpers.DEFAULT_REGION)
    iid = helpers.running_instance(ec2)
    script = ("import os, urllib.request; "
              "urllib.request.urlopen(os.environ['AWS_EC2_METADATA_SERVICE_ENDPOINT'] + "
              "'/latest/meta-data/instance-id').read()")
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--rootless", "--endpoint", srv.endpoint,
                        "--instance", iid, "--", "python3", "-c", script],
                       capture_output=True, text=True, timeout=60, env=cli_env())
    assert p.returncode == 0, p
    r = subprocess.run([helpers.IMDS_BIN, "report", "v1-callers", "--endpoint", srv.endpoint,
                        "--instance", iid, "--output", "json"],
                       capture_output=True, text=True, timeout=60, env=cli_env())
    assert r.returncode == 0, r
    [row] = json.loads(r.stdout)["Callers"]
    assert row["Command"] == "python3" and row["Argv"][1:3] == ["-c", script], row
    # The parent is `imds exec` (`comm`: the binary's name, at most 15 characters).
    imds = os.path.basename(helpers.IMDS_BIN)[:15]
    assert row["Pid"] != os.getpid() and row["Parents"][0]["Command"] == imds, row
