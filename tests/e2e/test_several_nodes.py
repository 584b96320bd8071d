"""Several nodes on one PostgreSQL database (issue 14): two API nodes (`--role api`) and two
metadata hosts (`--role metadata`), each an `imds serve` process of its own.

- A modify through API node A is read through API node B, applied by the host that owns the
  instance (rendezvous hashing over the live hosts, computed here as `model::placement`
  computes it) and by no other, and enforced by every node's metadata service.
- kill -9 of the owning host: its instances move to the other, and a change it left pending
  still reaches `applied`.
- Two API nodes modifying one instance: the final state is the last acknowledged write, and
  writes to different options through the two nodes do not undo each other.
- Keys and IAM are shared: a role's credentials handed out by one node are honoured by
  another; an IAM user created through one node signs requests to another.
- IAM changes to one role through two nodes at once: every acknowledged one is kept.
- PostgreSQL restarted in the middle of a stream of modifications: no acknowledged write is
  lost, and the nodes reconnect by themselves.

Only on PostgreSQL (`IMDS_STORE=postgres`; `postgres_only`): SQLite is one process's store.
Everything stays on loopback."""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.config import Config
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import helpers
from helpers import AMI_AL2, ImdsServer
from iam_helpers import Acct, write_iam_config
from imds_helpers import get, loopback_only, token

pytestmark = pytest.mark.postgres_only

# A short lease, so that a host that dies loses its instances within seconds (renewed every
# third of it).
LEASE = 3.0
HOSTS = ("host-one", "host-two")
REPO = Path(__file__).resolve().parents[2]
# The root of helpers.ACCOUNT on the nodes with --iam-config.
ROOT_KEY, ROOT_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
M64 = (1 << 64) - 1


def weight(host: str, iid: str) -> int:
    """`model::placement::weight`: FNV-1a over host, 0xff, instance id; SplitMix64's finalizer."""
    h = 0xCBF29CE484222325
    for b in host.encode() + b"\xff" + iid.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M64
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M64
    return h ^ (h >> 31)


def owner(iid: str, live) -> str:
    return max(live, key=lambda h: (weight(h, iid), h))


def test_placement_matches_the_rust_definition():
    # The values `model::placement`'s own test pins.
    assert weight("", "") == 0x4F2DB50F124040CD
    assert weight("host-a", "i-0000000000000001") == 0x44C2C17CF366F74B


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    yield from loopback_only(monkeypatch)


class Cluster:
    def __init__(self, tmp: Path, database_url: str, *, iam: bool = False):
        self.tmp = tmp
        self.url = database_url
        self.servers: list[ImdsServer] = []
        # Every node with the same accounts (the helpers' key is the root of ACCOUNT), so
        # that credentials and IAM users are checked, not waved through.
        self.iam = (["--iam-config", str(write_iam_config(
            tmp / "iamcfg", [Acct(helpers.ACCOUNT, ROOT_KEY, ROOT_SECRET)]))]
            if iam else [])

    def node(self, name: str, *args: str) -> ImdsServer:
        srv = ImdsServer(self.tmp / name, name=name, extra_args=[*self.iam, *args])
        srv.database_url = self.url
        self.servers.append(srv)
        return srv.start()

    def api(self, name: str) -> ImdsServer:
        return self.node(name, "--role", "api")

    def host(self, host_id: str) -> ImdsServer:
        return self.node(host_id, "--role", "metadata", "--host-id", host_id,
                         "--host-lease", f"{LEASE}s")

    def close(self):
        for s in self.servers:
            with_suppressed(s)
        helpers.drop_database(self.url)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sees_live(srv: ImdsServer, hosts) -> bool:
    """Whether `srv` logged a live set of exactly `hosts` (`imds::app`'s heartbeat)."""
    want = "live=" + json.dumps(sorted(hosts)).replace('","', '", "')
    return want in ANSI.sub("", srv.stderr_tail(200_000))


def with_suppressed(srv: ImdsServer) -> None:
    try:
        if srv.proc is not None and srv.proc.poll() is None:
            os.kill(srv.proc.pid, signal.SIGCONT)
        srv.stop()
    except Exception:  # noqa: BLE001 - teardown goes on
        pass


def database(tag: str) -> str:
    if helpers.STORE != "postgres" or not os.environ.get("IMDS_TEST_POSTGRES_URL"):
        pytest.skip("SKIPPED: several nodes need PostgreSQL (IMDS_STORE=postgres with "
                    "IMDS_TEST_POSTGRES_URL; scripts/test runs this pass)")
    return helpers.new_database(tag)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("nodes"), database("several_nodes"), iam=True)
    try:
        c.a = c.api("api-a")
        c.b = c.api("api-b")
        c.hosts = {h: c.host(h) for h in HOSTS}
        # Each host learns of the others at its next heartbeat: until then the first may
        # think it owns everything.
        for h in HOSTS:
            helpers.wait_until(lambda h=h: sees_live(c.hosts[h], HOSTS), LEASE * 3,
                               desc=f"{h} sees every host")
        yield c
    finally:
        c.close()


def endpoint(srv: ImdsServer, iid: str) -> str:
    """The loopback metadata endpoint of `iid` on node `srv` (`/_imds/instances/{id}/endpoint`,
    signed as the account's root)."""
    url = f"{srv.endpoint}/_imds/instances/{iid}/endpoint"
    req = AWSRequest(method="GET", url=url, headers={})
    SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), "ec2", helpers.REGION).add_auth(req)
    with urllib.request.urlopen(urllib.request.Request(url, headers=dict(req.headers.items())),
                                timeout=30) as r:
        url = r.read().decode().strip()
    assert url.startswith("http://127.0.0.1:"), url
    return url[len("http://"):]


def tokenless_status(srv: ImdsServer, iid: str) -> int:
    return get(endpoint(srv, iid), "/latest/meta-data/instance-id").status


def client_of(srv: ImdsServer, service: str, key: str = ROOT_KEY, secret: str = ROOT_SECRET,
              token: str | None = None):
    """A client of one node, retries off (each call is one attempt)."""
    return boto3.client(service, endpoint_url=srv.endpoint, region_name=helpers.REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        aws_session_token=token,
                        config=Config(retries={"total_max_attempts": 1}, read_timeout=60))


def ec2_of(srv: ImdsServer):
    return client_of(srv, "ec2")


def launch(ec2) -> str:
    iid = helpers.run_one(ec2)
    helpers.wait_state(ec2, iid, "running", timeout=20)
    helpers.wait_applied(ec2, iid, timeout=20)
    return iid


def hop_limit(ec2, iid: str) -> int:
    return helpers.options(ec2, iid)["HttpPutResponseHopLimit"]


def test_a_modify_through_one_node_is_applied_by_its_owner_and_read_through_another(cluster):
    a, b = ec2_of(cluster.a), ec2_of(cluster.b)
    iid = launch(a)
    assert helpers.state(b, iid) == "running"
    own = owner(iid, HOSTS)
    other = next(h for h in HOSTS if h != own)
    # Every node serves it, tokenless calls answered (IMDSv1 allowed).
    for srv in (cluster.hosts[own], cluster.hosts[other], cluster.b):
        assert tokenless_status(srv, iid) == 200
    # The owner frozen (within its lease): the change stays pending, as no other host applies it.
    os.kill(cluster.hosts[own].proc.pid, signal.SIGSTOP)
    try:
        out = a.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
        assert out["InstanceMetadataOptions"]["State"] == "pending"
        helpers.assert_stays(lambda: helpers.options(b, iid)["State"] == "pending", 1.2)
        assert tokenless_status(cluster.hosts[other], iid) == 200, "not yet in force"
    finally:
        os.kill(cluster.hosts[own].proc.pid, signal.SIGCONT)
    # The owner applies it; API node B reads `applied`; every node's service enforces it.
    opts = helpers.wait_applied(b, iid, timeout=20)
    assert opts["HttpTokens"] == "required"
    for srv in (cluster.hosts[own], cluster.hosts[other], cluster.a, cluster.b):
        helpers.wait_until(lambda s=srv: tokenless_status(s, iid) == 401, 10,
                           desc=f"{srv.name} enforces the token")
        tok = token(endpoint(srv, iid))
        assert get(endpoint(srv, iid), "/latest/meta-data/instance-id", tok).text == iid


def test_a_killed_hosts_instances_move_and_their_pending_changes_are_applied(cluster):
    a = ec2_of(cluster.a)
    # An instance of each host, so that whichever is killed leaves one pending.
    ids: dict[str, str] = {}
    while len(ids) < 2:
        iid = launch(a)
        ids.setdefault(owner(iid, HOSTS), iid)
    victim, survivor = HOSTS
    iid = ids[victim]
    victim_srv = cluster.hosts[victim]
    os.kill(victim_srv.proc.pid, signal.SIGSTOP)
    a.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=7)
    victim_srv.kill()  # kill -9, with the change pending
    assert helpers.options(a, iid)["State"] == "pending"
    # Within a lease (and a heartbeat) the survivor owns it and applies the change.
    opts = helpers.wait_applied(ec2_of(cluster.b), iid, timeout=LEASE * 4 + 10)
    assert opts["HttpPutResponseHopLimit"] == 7
    # The survivor's own instance was never disturbed, and the survivor now owns both.
    a.modify_instance_metadata_options(InstanceId=ids[survivor], HttpTokens="required")
    helpers.wait_applied(a, ids[survivor], timeout=20)
    helpers.wait_until(lambda: tokenless_status(cluster.hosts[survivor], ids[survivor]) == 401, 10)
    # The killed host's place is taken by a new one (a new id: a restarted host is a new host).
    del cluster.hosts[victim]
    cluster.hosts[victim + "-again"] = cluster.host(victim + "-again")
    for h in cluster.hosts:
        helpers.wait_until(lambda h=h: sees_live(cluster.hosts[h], cluster.hosts), LEASE * 3,
                           desc=f"{h} sees every host")


def test_two_api_nodes_modifying_one_instance_end_with_the_last_acknowledged_write(cluster):
    a, b = ec2_of(cluster.a), ec2_of(cluster.b)
    iid = launch(a)
    # One option through each node at once: neither write undoes the other.
    def tokens_through_a():
        for i in range(20):
            a.modify_instance_metadata_options(
                InstanceId=iid, HttpTokens="required" if i % 2 == 0 else "optional")

    def hops_through_b():
        for i in range(1, 21):
            b.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=i)

    threads = [threading.Thread(target=f) for f in (tokens_through_a, hops_through_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for ec2 in (a, b):
        opts = helpers.options(ec2, iid)
        assert (opts["HttpTokens"], opts["HttpPutResponseHopLimit"]) == ("optional", 20), opts
    # One option through both nodes in turn, each write acknowledged before the next: the
    # last one stands, wherever it is read.
    for i, ec2 in enumerate([a, b, a, b, b, a], start=30):
        ec2.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=i)
        assert hop_limit(a, iid) == i and hop_limit(b, iid) == i
    helpers.wait_applied(b, iid, timeout=20)




def test_credentials_and_iam_are_shared_by_every_node(cluster):
    a, b = cluster.a, cluster.b
    root = (ROOT_KEY, ROOT_SECRET)
    iam_a = client_of(a, "iam", *root)
    name = f"shared-{os.getpid()}-{time.monotonic_ns()}"
    iam_a.create_user(UserName=name)
    iam_a.put_user_policy(UserName=name, PolicyName="describe", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeInstances", "sts:AssumeRole"],
                       "Resource": "*"}]}))
    key = iam_a.create_access_key(UserName=name)["AccessKey"]
    # The user's key, made through node A, signs requests to node B once IAM's change has
    # propagated (here within a second; IAM's own is eventually consistent too).
    ec2_b = client_of(b, "ec2", key["AccessKeyId"], key["SecretAccessKey"])

    def describes_through_b():
        try:
            ec2_b.describe_instances(MaxResults=5)
            return True
        except ec2_b.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "AuthFailure", e
            return False

    helpers.wait_until(describes_through_b, 5, desc="the user's key accepted by node B")
    # A role session minted through node A (for the user) is honoured by node B (one
    # session key).
    iam_a.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": f"arn:aws:iam::{helpers.ACCOUNT}:root"}}]}))
    creds = client_of(a, "sts", key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{helpers.ACCOUNT}:role/{name}", RoleSessionName="s1")["Credentials"]
    sts_b = client_of(b, "sts", creds["AccessKeyId"], creds["SecretAccessKey"],
                      creds["SessionToken"])
    arn = sts_b.get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{helpers.ACCOUNT}:assumed-role/{name}/s1", arn
    # Every node signs identity documents with the one key, which `imds certificate
    # --database-url` certifies; an IMDSv2 token from one node is good at every other.
    iid = launch(ec2_of(a))
    nodes = [cluster.a, cluster.b, *cluster.hosts.values()]
    tok = token(endpoint(nodes[0], iid))
    sigs, docs = set(), set()
    for n in nodes:
        addr = endpoint(n, iid)
        sigs.add(get(addr, "/latest/dynamic/instance-identity/signature", tok).text)
        docs.add(get(addr, "/latest/dynamic/instance-identity/document", tok).text)
    assert len(sigs) == 1 and len(docs) == 1, (sigs, docs)
    assert json.loads(next(iter(docs)))["instanceId"] == iid
    cert = subprocess.run([helpers.IMDS_BIN, "certificate", "--database-url", cluster.url],
                          capture_output=True, timeout=60, check=True).stdout
    d = cluster.tmp / "identity"
    d.mkdir(exist_ok=True)
    (d / "cert.pem").write_bytes(cert)
    (d / "doc").write_text(next(iter(docs)))
    (d / "sig").write_bytes(base64.b64decode(next(iter(sigs))))
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(d / "cert.pem")],
                         capture_output=True, check=True, timeout=30).stdout
    (d / "pub.pem").write_bytes(pub)
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(d / "pub.pem"),
                        "-signature", str(d / "sig"), str(d / "doc")],
                       capture_output=True, timeout=30)
    assert v.returncode == 0 and b"Verified OK" in v.stdout, v


def test_iam_changes_to_one_role_through_two_nodes_at_once_are_all_kept(cluster):
    """A node writes a changed IAM entity whole; one that wrote from a registry another node
    had moved past (between its refresh and its write) put back the entity as it had last
    seen it, and the other node's acknowledged change was lost. Each write now names the
    revision it was made from, and one made from an old revision is made again."""
    iam_a = client_of(cluster.a, "iam")
    iam_b = client_of(cluster.b, "iam")
    role = f"both-{os.getpid()}-{time.monotonic_ns()}"
    iam_a.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "ec2.amazonaws.com"}}]}))
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]})

    def b_knows_the_role():
        try:
            return iam_b.get_role(RoleName=role)
        except iam_b.exceptions.NoSuchEntityException:
            return None

    helpers.wait_until(b_knows_the_role, 5, desc="node B knows the role")
    put = 20
    errors = []

    def puts_through(iam, prefix):
        try:
            for i in range(put):
                iam.put_role_policy(RoleName=role, PolicyName=f"{prefix}{i}", PolicyDocument=doc)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=puts_through, args=(iam, p))
               for iam, p in ((iam_a, "a"), (iam_b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    want = sorted([f"a{i}" for i in range(put)] + [f"b{i}" for i in range(put)])
    for iam in (iam_a, iam_b):
        def names(iam=iam):
            return sorted(iam.list_role_policies(RoleName=role)["PolicyNames"])
        # Each node sees the other's changes within a second (`Principals::refresh`).
        deadline = time.monotonic() + 5
        while names() != want and time.monotonic() < deadline:
            time.sleep(0.1)
        assert names() == want, f"acknowledged and lost: {sorted(set(want) - set(names()))}"


def test_imds_exec_works_against_any_node(cluster):
    """`imds exec --rootless --endpoint NODE`: an API node and a metadata host alike serve the
    instance's metadata to the command (the admin routes are on every node's API port)."""
    iid = launch(ec2_of(cluster.a))
    script = ('T=$(curl -sf -m 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" '
              '"$AWS_EC2_METADATA_SERVICE_ENDPOINT/latest/api/token") && '
              'curl -sf -m 5 -H "X-aws-ec2-metadata-token: $T" '
              '"$AWS_EC2_METADATA_SERVICE_ENDPOINT/latest/meta-data/instance-id"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=ROOT_KEY, AWS_SECRET_ACCESS_KEY=ROOT_SECRET,
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    for node in (cluster.b, *cluster.hosts.values()):
        p = subprocess.run([helpers.IMDS_BIN, "exec", "--rootless", "--endpoint", node.endpoint,
                            "--region", helpers.REGION, "--instance", iid, "--",
                            "sh", "-c", script],
                           capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode == 0 and p.stdout.strip() == iid, (node.name, p)
    # With namespaces (root): 169.254.169.254 inside the instance's own namespace, which
    # `imds exec` builds and the metadata host serves (the address from the host itself).
    if os.geteuid() != 0:
        pytest.skip("SKIPPED: imds exec with network namespaces needs root (run the suite as root)")
    inside = script.replace("$AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254")
    host = next(iter(cluster.hosts.values()))
    p = subprocess.run([helpers.IMDS_BIN, "exec", "--endpoint", host.endpoint, "--region",
                        helpers.REGION, "--instance", iid, "--", "sh", "-c", inside],
                       capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0 and p.stdout.strip() == iid, (host.name, p)


def psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-Xq", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   capture_output=True, timeout=60)


def test_an_acknowledgement_the_database_refused_is_sent_again(cluster):
    """The owner switched, then could not write `applied` (the database refused): it sends the
    acknowledgement again until the database takes it, rather than leaving the change
    `pending` for ever."""
    a = ec2_of(cluster.a)
    iid = launch(a)
    # A real failure of the database, on the acknowledgement alone: a trigger refuses any
    # update that raises applied_generation.
    psql(cluster.url, """
        CREATE FUNCTION refuse_acks() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.applied_generation > OLD.applied_generation THEN
            RAISE EXCEPTION 'acknowledgements refused by the test';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_acks BEFORE UPDATE ON instances
          FOR EACH ROW EXECUTE FUNCTION refuse_acks();""")
    try:
        a.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=9)
        own = cluster.hosts[owner(iid, list(cluster.hosts))]
        # Applied delays pass; the owner has tried (and logged the refusal).
        helpers.wait_until(lambda: "acknowledgements refused by the test" in own.stderr_tail(200_000),
                           10, desc="the owner tried to acknowledge")
        assert helpers.options(a, iid)["State"] == "pending"
    finally:
        psql(cluster.url, "DROP TRIGGER refuse_acks ON instances; DROP FUNCTION refuse_acks();")
    opts = helpers.wait_applied(a, iid, timeout=10)
    assert opts["HttpPutResponseHopLimit"] == 9


def postmaster_started(url: str) -> str:
    return subprocess.run(["psql", url, "-XAtc", "SELECT pg_postmaster_start_time()"], check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()


@pytest.fixture
def own_postgres(tmp_path):
    """A PostgreSQL server of this test's own (it is restarted): scripts/postgres."""
    d = Path(tempfile.mkdtemp(prefix="imds-pg-restart."))
    try:
        url = subprocess.run([str(REPO / "scripts" / "postgres"), "start", str(d)], check=True,
                             capture_output=True, text=True, timeout=120).stdout.strip()
        yield d, url
    finally:
        subprocess.run([str(REPO / "scripts" / "postgres"), "stop", str(d)], timeout=120)


def test_postgres_restarted_mid_stream_loses_no_acknowledged_write(tmp_path, own_postgres):
    if helpers.STORE != "postgres":
        pytest.skip("SKIPPED: PostgreSQL pass only")
    pgdir, url = own_postgres
    c = Cluster(tmp_path, url)
    try:
        a, b = c.node("all-a"), c.api("api-b")
        h = c.host("host-r")
        # One attempt per call (the helpers' clients do not retry): each is acknowledged or not.
        ea, eb = a.client(read_timeout=30), b.client(read_timeout=30)
        ids = [launch(a.client()) for _ in range(4)]
        # Per instance, one writer, in order: (value, acknowledged?) of every attempt.
        attempts: dict[str, list[tuple[int, bool]]] = {i: [] for i in ids}
        stop = threading.Event()

        def writer(ec2, iid):
            n = 0
            while not stop.is_set():
                n = n % 60 + 1
                try:
                    ec2.modify_instance_metadata_options(InstanceId=iid, HttpPutResponseHopLimit=n)
                    attempts[iid].append((n, True))
                except Exception:  # noqa: BLE001 - an unacknowledged attempt
                    attempts[iid].append((n, False))
                    time.sleep(0.1)

        threads = [threading.Thread(target=writer, args=(ea if k % 2 == 0 else eb, iid))
                   for k, iid in enumerate(ids)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        started_before = postmaster_started(url)
        acked_before = sum(ok for i in ids for _, ok in attempts[i])
        assert acked_before > 0
        subprocess.run([str(REPO / "scripts" / "postgres"), "restart", str(pgdir)], check=True,
                       capture_output=True, timeout=120)
        assert postmaster_started(url) != started_before, "the server restarted"
        # The nodes reconnect by themselves: acknowledged writes resume through both.
        before = {i: sum(ok for _, ok in attempts[i]) for i in ids}
        helpers.wait_until(lambda: all(sum(ok for _, ok in attempts[i]) > before[i] + 3 for i in ids),
                           60, desc="writes acknowledged again through both nodes")
        stop.set()
        for t in threads:
            t.join(60)
        for iid in ids:
            acked = [k for k, (_, ok) in enumerate(attempts[iid]) if ok]
            last = acked[-1]
            # The last acknowledged value, or a later attempt that committed unacknowledged.
            allowed = {attempts[iid][last][0]} | {v for v, _ in attempts[iid][last + 1:]}
            for ec2 in (a.client(), b.client()):
                assert hop_limit(ec2, iid) in allowed, (iid, attempts[iid][-5:])
            # And the host applies it: pending reaches applied after the restart.
            helpers.wait_applied(a.client(), iid, timeout=30)
        del h
    finally:
        c.close()
