"""Shared helpers for the imds end-to-end suite.

Everything here talks to a real `imds serve` process over HTTP:

* `ImdsServer` starts/stops the binary and parses its ready line;
* `make_client` builds a boto3 EC2 client (retries off) whose every response is
  checked against botocore's own service model (see `model_violations`);
* `raw` sends hand-built Query requests (optionally SigV4-signed by botocore)
  and returns status, headers and body untouched;
* `aws` runs the real aws CLI;
* `wait_until` / `assert_stays` poll instead of sleeping.
"""
from __future__ import annotations

import atexit
import contextlib
import datetime
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable
from unittest import mock

import boto3
import botocore.auth
import botocore.session
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

# --------------------------------------------------------------------------------------
# One botocore model loader for the whole test process
# --------------------------------------------------------------------------------------


class _PathsOnce(list):
    """A loader's search paths, to which boto3 appends its own data path at every new
    Session: kept once, not once per Session."""

    def append(self, path):
        if path not in self:
            super().append(path)


def _share_botocore_models() -> None:
    """Every botocore Session (each boto3 Session has one) gets its data loader from
    `botocore.session.create_loader`, and each new loader reads and decodes the service's
    model JSON again: EC2's alone is megabytes, and decoding it was over a third of a pytest
    worker's time (measured in session 19: 794 decodes, 25.6 s of a 70 s run of two suites).
    botocore shares one loader among a session's clients; this shares one among all sessions
    of this process, per data path. The models, clients and wire are botocore's own."""
    loaders: dict = {}
    lock = threading.Lock()
    create = botocore.session.create_loader

    def shared(search_path_string=None):
        with lock:
            loader = loaders.get(search_path_string)
            if loader is None:
                loader = create(search_path_string)
                loader._search_paths = _PathsOnce(loader.search_paths)
                loaders[search_path_string] = loader
            return loader

    botocore.session.create_loader = shared


_share_botocore_models()

# --------------------------------------------------------------------------------------
# Constants of the contract
# --------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
IMDS_BIN = os.environ.get("IMDS_BIN", str(REPO / "target" / "debug" / "imds"))


def _default_cli() -> str:
    if os.environ.get("IMDS_AWS_CLI"):
        return os.environ["IMDS_AWS_CLI"]
    beside = Path(sys.executable).parent / "aws"
    if beside.exists():
        return str(beside)
    return shutil.which("aws") or "/tmp/imds-venv/bin/aws"


AWS_CLI = _default_cli()

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDS = Credentials(ACCESS_KEY, SECRET_KEY)
ACCOUNT = "123456789012"

REGION = "us-west-2"  # empty at start: clean counts
DEFAULT_REGION = "us-east-1"  # holds the "default instance" on first start

NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
API_VERSION = "2016-11-15"

AMI_AL2 = "ami-0abcdef1234567890"  # Amazon Linux 2, no ImdsSupport
AMI_AL2023 = "ami-0a2c1e3f5b7d9e011"  # Amazon Linux 2023, ImdsSupport v2.0
AMI_UBUNTU = "ami-0b1c2d3e4f5a6b7c8"  # Ubuntu 22.04, no ImdsSupport
CATALOGUE_AMIS = (AMI_AL2, AMI_AL2023, AMI_UBUNTU)

XEN_TYPES = ("t2.micro", "c3.large", "m4.large")
NITRO_TYPES = ("t3.micro", "t3.small", "m5.large", "c5.large")  # x86_64 Nitro (t4g is arm64)

APPLY_DELAY = "300ms"
TRANSITION_DELAY = "200ms"

INSTANCE_ID_RE = re.compile(r"^i-[0-9a-f]{17}$")
RESERVATION_ID_RE = re.compile(r"^r-[0-9a-f]{17}$")
IMAGE_ID_RE = re.compile(r"^ami-[0-9a-f]{17}$")
LT_ID_RE = re.compile(r"^lt-[0-9a-f]{17}$")
REQUEST_ID_RE = re.compile(r"^[0-9a-fA-F-]{8,}$")

READY_RE = re.compile(r"EC2 API listening on http://(\S+)")

# The option set of an instance launched with nothing set, from an AMI without ImdsSupport,
# with no account defaults (spec §2 / case 25).
BUILTIN_OPTS = {
    "HttpTokens": "optional",
    "HttpPutResponseHopLimit": 1,
    "HttpEndpoint": "enabled",
    "HttpProtocolIpv6": "disabled",
    "InstanceMetadataTags": "disabled",
}
OPTION_KEYS = ("State",) + tuple(BUILTIN_OPTS)
# Element order inside metadataOptions / instanceMetadataOptions (spec §2).
OPTION_ELEMENT_ORDER = [
    "state",
    "httpTokens",
    "httpPutResponseHopLimit",
    "httpEndpoint",
    "httpProtocolIpv6",
    "instanceMetadataTags",
]

STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}

DRY_RUN_MESSAGE = "Request would have succeeded, but DryRun flag is set."
ENFORCED_MESSAGE = (
    "You can't launch instances with IMDSv1 because httpTokensEnforced is enabled for this "
    "account. Either launch the instance with httpTokens=required or contact your account owner "
    "to disable httpTokensEnforced using the ModifyInstanceMetadataDefaults API or the account "
    "settings in the EC2 console."
)
XEN_IPV6_MESSAGE = (
    "The HttpProtocolIpv6 metadata option cannot be enabled for Xen-backed instance types."
)


# --------------------------------------------------------------------------------------
# Polling
# --------------------------------------------------------------------------------------


def wait_until(fn: Callable[[], Any], timeout: float = 10, interval: float = 0.05,
               desc: str | None = None) -> Any:
    """Call fn until it returns something truthy; return that. Exceptions propagate."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {desc or getattr(fn, '__name__', fn)}; "
                f"last value: {last!r}"
            )
        time.sleep(interval)


def assert_stays(fn: Callable[[], Any], duration: float, interval: float = 0.05,
                 desc: str | None = None) -> None:
    """Assert fn() stays truthy for the whole duration (for "does not change" checks)."""
    deadline = time.monotonic() + duration
    while True:
        value = fn()
        assert value, f"{desc or getattr(fn, '__name__', fn)} stopped holding: {value!r}"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------------------

_SERVER_SEQ = itertools.count()
_STARTED: list[subprocess.Popen] = []

# `IMDS_STORE=postgres`: every server keeps its store in a database of its own on the
# PostgreSQL server at IMDS_TEST_POSTGRES_URL (the throw-away one `scripts/test` starts),
# made with `psql` at its first start and dropped when this process exits.
STORE = os.environ.get("IMDS_STORE", "sqlite")
_DATABASES: list[str] = []


def _psql(sql: str) -> None:
    subprocess.run(["psql", os.environ["IMDS_TEST_POSTGRES_URL"], "-q", "-v", "ON_ERROR_STOP=1",
                    "-c", sql], check=True, capture_output=True, timeout=60)


def new_database(name: str) -> str:
    """A new database on the test server, its URL (dropped at exit)."""
    name = re.sub(r"[^a-z0-9_]", "_", name.lower())[:40] + f"_{os.getpid()}"
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _psql(f"CREATE DATABASE {name}")
    _DATABASES.append(name)
    base = os.environ["IMDS_TEST_POSTGRES_URL"].rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    """Drop a database `new_database` made, when its servers are done with it (any other URL,
    e.g. a server a test started of its own, is left alone)."""
    name = url.rsplit("/", 1)[1]
    if name not in _DATABASES:
        return
    with contextlib.suppress(Exception):
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _DATABASES.remove(name)


@atexit.register
def _drop_databases() -> None:
    # Those whose servers were never discarded, in one psql (an xdist worker may be ended
    # while its exit handlers run: one process per database left most of them behind).
    if not _DATABASES:
        return
    drops = [arg for name in _DATABASES
             for arg in ("-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")]
    with contextlib.suppress(Exception):
        subprocess.run(["psql", os.environ["IMDS_TEST_POSTGRES_URL"], "-q", *drops],
                       check=False, capture_output=True, timeout=120)


@atexit.register
def _kill_leftovers() -> None:
    # Last resort if a fixture's teardown never ran: kill the servers this process started.
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()


def running(srv: "ImdsServer"):
    """Start `srv` (unless it already is), hand it out, and stop it whatever happens: the body
    of a server fixture (`yield from running(...)`)."""
    try:
        if not srv.running:
            srv.start()
        yield srv
    finally:
        srv.stop()
        srv.discard()


class ImdsServer:
    """One `imds serve` process (restartable on the same data dir)."""

    def __init__(self, workdir: Path, *, data_dir: Path | None = None,
                 apply_delay: str = APPLY_DELAY, transition_delay: str = TRANSITION_DELAY,
                 extra_args: Iterable[str] = (), name: str | None = None,
                 preexec_fn: Callable[[], None] | None = None,
                 env: dict[str, str] | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else None
        self.apply_delay = apply_delay
        self.transition_delay = transition_delay
        self.extra_args = list(extra_args)
        # Run in the child before exec (e.g. a lower RLIMIT_NOFILE for a load test).
        self.preexec_fn = preexec_fn
        # Environment of the server beyond the test's own (e.g. HOME for discovery tests).
        self.env = dict(env or {})
        self.name = name or f"imds-{next(_SERVER_SEQ)}"
        self.proc: subprocess.Popen | None = None
        self.address: str | None = None
        self.logs: list[tuple[Path, Path]] = []  # (stdout, stderr) per start
        self.exit_codes: list[int | None] = []
        # On PostgreSQL (IMDS_STORE=postgres): this server's database, kept across restarts.
        self.database_url: str | None = None

    # -- process management -------------------------------------------------------------
    @property
    def argv(self) -> list[str]:
        store = ["--data-dir", str(self.data_dir)] if self.data_dir else ["--ephemeral"]
        if self.database_url:
            store += ["--database-url", self.database_url]
        return [
            IMDS_BIN, "serve", *store,
            "--api-listen", "127.0.0.1:0",
            "--imds-listen", "127.0.0.1:0",
            "--apply-delay", self.apply_delay,
            "--transition-delay", self.transition_delay,
            *self.extra_args,
        ]

    def start(self, timeout: float = 30) -> "ImdsServer":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if not os.path.exists(IMDS_BIN):
            raise RuntimeError(
                f"imds binary not found at {IMDS_BIN} (build it, or set IMDS_BIN)")
        if STORE == "postgres" and self.database_url is None:
            self.database_url = new_database(f"e2e_{self.name}_{next(_SERVER_SEQ)}")
        n = len(self.logs)
        out_path = self.workdir / f"{self.name}.{n}.stdout.log"
        err_path = self.workdir / f"{self.name}.{n}.stderr.log"
        self.logs.append((out_path, err_path))
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        # An ephemeral server records where it listens in the default data dir
        # ($XDG_DATA_HOME/imds): the test's own, not the user's.
        env["XDG_DATA_HOME"] = str(self.workdir / "xdg-data")
        env.update(self.env)
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                cwd=str(self.workdir), env=env, start_new_session=True,
                preexec_fn=self.preexec_fn,
            )
        _STARTED.append(self.proc)
        deadline = time.monotonic() + timeout
        while True:
            text = out_path.read_text(errors="replace")
            m = READY_RE.search(text)
            if m:
                self.address = m.group(1).rstrip("/")
                return self
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(
                    f"{self.name} exited with {code} before its ready line.\n"
                    f"argv: {self.argv}\nstdout:\n{text[-4000:]}\nstderr:\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"{self.name} printed no ready line within {timeout}s.\n"
                    f"stdout:\n{text[-4000:]}\nstderr:\n{self.stderr_tail()}")
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def discard(self) -> None:
        """The server is done for good: drop its database (on PostgreSQL); a later start
        would begin with a new, empty one."""
        if self.database_url:
            drop_database(self.database_url)
            self.database_url = None

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL after timeout. Returns the exit code of the SIGTERM stop
        (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            code = self.proc.returncode
        else:
            self.proc.terminate()
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = None
        self.exit_codes.append(code)
        return code

    def kill(self) -> None:
        """kill -9 (crash)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc is not None:
            self.exit_codes.append(self.proc.returncode)

    def restart(self) -> "ImdsServer":
        self.stop()
        return self.start()

    def stderr_tail(self, limit: int = 20000) -> str:
        parts = []
        for _, err in self.logs:
            try:
                text = err.read_text(errors="replace")
            except OSError:
                continue
            parts.append(f"--- {err.name} ---\n{text}")
        joined = "\n".join(parts)
        return joined[-limit:]

    # -- clients --------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        assert self.address, "server not started"
        return f"http://{self.address}"

    def client(self, region: str = REGION, **kw):
        return make_client(self.endpoint, region, **kw)

    def raw(self, params=None, **kw) -> "RawResponse":
        return raw(self.endpoint, params, **kw)

    def aws(self, *args, **kw) -> subprocess.CompletedProcess:
        return aws(self.endpoint, *args, **kw)

    def aws_json(self, *args, **kw) -> Any:
        return aws_json(self.endpoint, *args, **kw)


class WildcardServer(ImdsServer):
    """The API bound to 0.0.0.0 (not loopback: `/metrics` then needs a signed caller with
    `--iam-config`); the tests still connect to 127.0.0.1."""

    @property
    def argv(self) -> list[str]:
        argv = super().argv
        argv[argv.index("--api-listen") + 1] = "0.0.0.0:0"
        return argv

    @property
    def endpoint(self) -> str:
        port = self.address.rsplit(":", 1)[1]
        return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------------------
# botocore model check
# --------------------------------------------------------------------------------------

_SERVICE_MODEL = None


def service_model():
    global _SERVICE_MODEL
    if _SERVICE_MODEL is None:
        _SERVICE_MODEL = botocore.session.get_session().get_service_model("ec2")
    return _SERVICE_MODEL


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def ns_of(tag: str) -> str | None:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else None


_TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


def _walk(elem: ET.Element, shape, path: str, out: list[str]) -> None:
    if ns_of(elem.tag) != NS:
        out.append(f"{path}: element not in namespace {NS} (tag {elem.tag!r})")
    t = shape.type_name
    if t == "structure":
        by_xml = {m.serialization.get("name", name): (name, m) for name, m in shape.members.items()}
        seen: set[str] = set()
        if (elem.text or "").strip():
            out.append(f"{path}: structure has text {elem.text!r}")
        for child in elem:
            name = local(child.tag)
            if name not in by_xml:
                out.append(f"{path}/{name}: not a member of {shape.name} "
                           f"(members: {sorted(by_xml)})")
                continue
            if name in seen:
                out.append(f"{path}/{name}: repeated element")
            seen.add(name)
            _walk(child, by_xml[name][1], f"{path}/{name}", out)
    elif t == "list":
        if (elem.text or "").strip():
            out.append(f"{path}: list has text {elem.text!r}")
        for i, child in enumerate(elem):
            if local(child.tag) != "item":
                out.append(f"{path}/{local(child.tag)}: list members must be <item>")
                continue
            _walk(child, shape.member, f"{path}/item[{i}]", out)
    elif t == "map":
        out.append(f"{path}: unexpected map shape {shape.name}")
    else:
        scalar_violations(elem, shape, path, out)


def scalar_violations(elem: ET.Element, shape, path: str, out: list[str],
                      lax_enums: frozenset[str] = frozenset()) -> None:
    """What is wrong with a scalar element of `shape` (EC2 and the plain Query protocol
    encode scalars alike); enums named in `lax_enums` are not held to the model."""
    t = shape.type_name
    if len(elem):
        out.append(f"{path}: scalar {shape.name} has child elements")
        return
    text = elem.text or ""
    if t in ("integer", "long"):
        if not re.fullmatch(r"-?\d+", text):
            out.append(f"{path}: {text!r} is not an integer")
    elif t == "boolean":
        if text not in ("true", "false"):
            out.append(f"{path}: {text!r} is not a boolean")
    elif t == "timestamp":
        if not _TIMESTAMP_RE.match(text):
            out.append(f"{path}: {text!r} is not an ISO-8601 timestamp")
    elif t in ("double", "float"):
        try:
            float(text)
        except ValueError:
            out.append(f"{path}: {text!r} is not a number")
    elif t == "string":
        enum = getattr(shape, "enum", None) or []
        if enum and text not in enum and shape.name not in lax_enums:
            out.append(f"{path}: {text!r} is not one of {shape.name} {list(enum)}")


def model_violations(operation: str, status: int, body: bytes) -> list[str]:
    """Everything in this response that botocore would not understand.

    Success: root `<Operation>Response` in the EC2 namespace, `requestId` first, every other
    element a member of the operation's output shape (by locationName), lists as `<item>`,
    scalars well-typed, enums from the model. Error: the EC2 error envelope (spec §1.4).
    """
    out: list[str] = []
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        return [f"body is not XML ({e}): {body[:300]!r}"]
    if status >= 300:
        try:
            parse_error_envelope(root)
        except AssertionError as e:
            out.append(str(e))
        return out
    op = service_model().operation_model(operation)
    if root.tag != f"{{{NS}}}{operation}Response":
        out.append(f"root is {root.tag!r}, expected {{{NS}}}{operation}Response")
    children = list(root)
    if not children or local(children[0].tag) != "requestId":
        out.append(f"first child must be requestId, got {[local(c.tag) for c in children][:3]}")
    elif not (children[0].text or "").strip():
        out.append("requestId is empty")
    shape = op.output_shape
    for child in children[1:]:
        name = local(child.tag)
        if name == "requestId":
            out.append("requestId repeated")
            continue
        if shape is None:
            # Operations without an output shape (CreateTags, RebootInstances, ...) answer
            # <return>true</return> on EC2; nothing else is expected.
            if name == "return" and child.text == "true" and not len(child):
                continue
            out.append(f"/{name}: {operation} has no output members (only <return>true</return>)")
            continue
        by_xml = {m.serialization.get("name", n): m for n, m in shape.members.items()}
        if name not in by_xml:
            out.append(f"/{name}: not a member of {shape.name} (members: {sorted(by_xml)})")
            continue
        _walk(child, by_xml[name], f"/{name}", out)
    return out


def _model_check_hook(http_response, model, **_):
    body = http_response.content
    problems = model_violations(model.name, http_response.status_code, body)
    if problems:
        raise AssertionError(
            f"{model.name} response does not match botocore's model:\n  "
            + "\n  ".join(problems[:20]) + f"\nbody: {body[:2000]!r}")
    if http_response.status_code < 300:
        ctype = http_response.headers.get("Content-Type", "")
        if ctype.replace(" ", "").lower() != "text/xml;charset=utf-8":
            raise AssertionError(f"{model.name}: Content-Type {ctype!r}")


# --------------------------------------------------------------------------------------
# boto3
# --------------------------------------------------------------------------------------


def make_client(endpoint: str, region: str = REGION, *, validate: bool = True,
                check_model: bool = True, read_timeout: int = 300):
    """A boto3 EC2 client with retries off. With check_model (default), every response is
    held to botocore's model: an unknown element, a wrong list wrapper or a malformed
    error envelope fails the call with AssertionError."""
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=region)
    cfg = Config(
        retries={"total_max_attempts": 1},
        parameter_validation=validate,
        connect_timeout=10,
        read_timeout=read_timeout,
        tcp_keepalive=False,
    )
    client = session.client("ec2", endpoint_url=endpoint, config=cfg)
    if check_model:
        client.meta.events.register("after-call.ec2", _model_check_hook)
    return client


@contextlib.contextmanager
def ec2_error(code: str, status: int = 400, message: str | None = None,
              message_re: str | None = None):
    """`with ec2_error('InvalidParameterValue'): client.call(...)` — asserts a ClientError
    with that code, HTTP status and (optionally) message."""
    with pytest.raises(ClientError) as excinfo:
        yield excinfo
    resp = excinfo.value.response
    err = resp.get("Error", {})
    got = (err.get("Code"), resp.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    assert got == (code, status), f"expected {code}/{status}, got {got}: {err.get('Message')!r}"
    if message is not None:
        assert err.get("Message") == message
    if message_re is not None:
        assert re.search(message_re, err.get("Message") or ""), err.get("Message")


def tag_spec(tags: dict[str, str], resource_type: str = "instance") -> list[dict]:
    return [{"ResourceType": resource_type,
             "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def run(ec2, count: int = 1, *, image: str | None = AMI_AL2, itype: str | None = "t3.micro",
        metadata: dict | None = None, tags: dict | None = None, **kw) -> list[dict]:
    """RunInstances; returns the launched instance dicts (validated lightly)."""
    params: dict[str, Any] = {"MinCount": count, "MaxCount": count, **kw}
    if image is not None:
        params["ImageId"] = image
    if itype is not None:
        params["InstanceType"] = itype
    if metadata is not None:
        params["MetadataOptions"] = metadata
    if tags:
        params["TagSpecifications"] = tag_spec(tags)
    resp = ec2.run_instances(**params)
    insts = resp["Instances"]
    assert len(insts) == count, resp
    assert RESERVATION_ID_RE.match(resp["ReservationId"]), resp["ReservationId"]
    for inst in insts:
        assert INSTANCE_ID_RE.match(inst["InstanceId"]), inst["InstanceId"]
    return insts


def run_ids(ec2, count: int = 1, **kw) -> list[str]:
    return [i["InstanceId"] for i in run(ec2, count, **kw)]


def run_one(ec2, **kw) -> str:
    return run_ids(ec2, 1, **kw)[0]


def describe(ec2, ids: list[str] | None = None, filters: dict | list | None = None) -> list[dict]:
    """DescribeInstances, unpaginated, flattened to instances."""
    params: dict[str, Any] = {}
    if ids:
        params["InstanceIds"] = list(ids)
    if filters:
        params["Filters"] = to_filters(filters)
    resp = ec2.describe_instances(**params)
    assert "NextToken" not in resp, "no MaxResults sent: the answer must not be paginated"
    return [i for r in resp["Reservations"] for i in r["Instances"]]


def describe_ids(ec2, filters=None, ids=None) -> set[str]:
    return {i["InstanceId"] for i in describe(ec2, ids=ids, filters=filters)}


def to_filters(filters: dict | list) -> list[dict]:
    if isinstance(filters, list):
        return filters
    return [{"Name": k, "Values": list(v) if isinstance(v, (list, tuple)) else [v]}
            for k, v in filters.items()]


def instance(ec2, iid: str) -> dict:
    found = describe(ec2, ids=[iid])
    assert [i["InstanceId"] for i in found] == [iid]
    return found[0]


def options(ec2, iid: str) -> dict:
    return instance(ec2, iid)["MetadataOptions"]


def state(ec2, iid: str) -> str:
    return instance(ec2, iid)["State"]["Name"]


def wait_state(ec2, iid: str, name: str, timeout: float = 10) -> dict:
    return wait_until(lambda: (lambda i: i if i["State"]["Name"] == name else None)(
        instance(ec2, iid)), timeout, desc=f"{iid} {name}")


def wait_applied(ec2, iid: str, timeout: float = 10) -> dict:
    return wait_until(lambda: (lambda o: o if o.get("State") == "applied" else None)(
        options(ec2, iid)), timeout, desc=f"{iid} options applied")


def running_instance(ec2, **kw) -> str:
    """Launch one instance and wait until it is running with its options applied."""
    iid = run_one(ec2, **kw)
    wait_state(ec2, iid, "running")
    wait_applied(ec2, iid)
    return iid


def stopped_instance(ec2, **kw) -> str:
    iid = running_instance(ec2, **kw)
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    return iid


def subset(d: dict, keys: Iterable[str]) -> dict:
    return {k: d.get(k) for k in keys}


def assert_options(opts: dict, **expected) -> None:
    got = subset(opts, expected)
    assert got == expected, f"options {opts} differ from expected {expected}"


def settle(ec2, timeout: float = 15) -> None:
    """Wait until no instance in this region is in a transitional state and every
    option change that can apply (i.e. not on a stopped instance) has applied."""
    def calm():
        for i in describe(ec2):
            s = i["State"]["Name"]
            if s in ("pending", "stopping", "shutting-down"):
                return False
            if s == "running" and i.get("MetadataOptions", {}).get("State") != "applied":
                return False
        return True
    wait_until(calm, timeout, desc="region settled")


@contextlib.contextmanager
def store_unchanged(ec2):
    """Fails if what a request could change (`snapshot`) differs after the block."""
    before = snapshot(ec2)
    yield
    settle(ec2)
    assert snapshot(ec2) == before, "a refused request changed the store"


def snapshot(ec2) -> dict:
    """Everything a request could change in the caller's account, in one region."""
    insts = sorted(describe(ec2), key=lambda i: i["InstanceId"])
    defaults = ec2.get_instance_metadata_defaults().get("AccountLevel", {})
    images = sorted(ec2.describe_images(Owners=["self"])["Images"], key=lambda i: i["ImageId"])
    templates = sorted(ec2.describe_launch_templates()["LaunchTemplates"],
                       key=lambda t: t["LaunchTemplateId"])
    tags = sorted(ec2.describe_tags()["Tags"],
                  key=lambda t: (t["ResourceId"], t["Key"]))
    return {
        "instances": [
            {k: i.get(k) for k in ("InstanceId", "InstanceType", "ImageId", "MetadataOptions",
                                   "PrivateIpAddress")}
            | {"State": i["State"]["Name"],
               "Tags": sorted((t["Key"], t["Value"]) for t in i.get("Tags", []))}
            for i in insts
        ],
        "defaults": defaults,
        "images": [{k: i.get(k) for k in ("ImageId", "Name", "ImdsSupport")}
                   | {"Tags": sorted((t["Key"], t["Value"]) for t in i.get("Tags", []))}
                   for i in images],
        "templates": [{k: t.get(k) for k in ("LaunchTemplateId", "LaunchTemplateName",
                                             "DefaultVersionNumber", "LatestVersionNumber")}
                      for t in templates],
        "tags": tags,
    }


# --------------------------------------------------------------------------------------
# Raw HTTP
# --------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    @cached_property
    def xml(self) -> ET.Element:
        try:
            return ET.fromstring(self.body)
        except ET.ParseError as e:
            raise AssertionError(f"body is not XML ({e}): {self.body[:500]!r}") from None

    @property
    def error(self) -> tuple[str, str, str]:
        """(Code, Message, RequestID) after checking the error envelope."""
        return parse_error_envelope(self.xml)

    def find(self, path: str) -> ET.Element | None:
        """Namespaced find: `r.find('instanceMetadataOptions/httpTokens')`."""
        return self.xml.find(nspath(path))

    def text(self, path: str) -> str | None:
        el = self.find(path)
        return None if el is None else (el.text or "")

    def __repr__(self) -> str:
        return f"RawResponse({self.status}, {self.body[:400]!r})"


def nspath(path: str) -> str:
    return "/".join(p if p in (".", "..", "*") else f"{{{NS}}}{p}" for p in path.split("/"))


def parse_error_envelope(root: ET.Element) -> tuple[str, str, str]:
    """Spec §1.4: Response/Errors/Error/{Code,Message} + Response/RequestID, no namespace."""
    def names(e):
        return [c.tag for c in e]
    assert root.tag == "Response", f"error root is {root.tag!r}, expected 'Response' (no namespace)"
    assert names(root) == ["Errors", "RequestID"], f"Response children {names(root)}"
    errors = root.find("Errors")
    assert names(errors) == ["Error"], f"Errors children {names(errors)}"
    error = errors.find("Error")
    assert names(error) == ["Code", "Message"], f"Error children {names(error)}"
    code = error.find("Code").text or ""
    message = error.find("Message").text or ""
    rid = root.find("RequestID").text or ""
    assert code, "empty error Code"
    assert rid.strip(), "empty RequestID"
    for el in root.iter():
        assert not el.tag.startswith("{"), f"namespaced element {el.tag} in error body"
    return code, message, rid


def expect_raw_error(resp: RawResponse, code: str, status: int = 400,
                     message: str | None = None) -> str:
    got_code, got_message, _ = resp.error
    assert (got_code, resp.status) == (code, status), (
        f"expected {code}/{status}, got {got_code}/{resp.status}: {got_message!r}")
    if message is not None:
        assert got_message == message
    return got_message


def _encode(params) -> str:
    if params is None:
        return ""
    if isinstance(params, (str, bytes)):
        return params if isinstance(params, str) else params.decode("latin-1")
    items = params.items() if isinstance(params, dict) else params
    return urllib.parse.urlencode([(k, str(v)) for k, v in items], quote_via=urllib.parse.quote)


def sign(method: str, url: str, headers: dict, body: bytes | str | None, region: str,
         when: datetime.datetime | None = None, query: bool = False, expires: int = 300):
    """Sign with botocore's SigV4 (header form, or query form with query=True).
    `when` (naive UTC) fixes X-Amz-Date. Returns (url, headers)."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = (SigV4QueryAuth(CREDS, "ec2", region, expires=expires) if query
              else SigV4Auth(CREDS, "ec2", region))
    if when is None:
        signer.add_auth(req)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime",
                               lambda *a, **k: when):
            signer.add_auth(req)
    return req.url, dict(req.headers.items())


def raw(endpoint: str, params=None, *, region: str = REGION, method: str = "POST",
        sign_request: bool = True, when: datetime.datetime | None = None,
        body: bytes | str | None = None, headers: dict | None = None,
        host: str | None = None, query_auth: bool = False, expires: int = 300,
        add_version: bool = True, timeout: float = 60) -> RawResponse:
    """Send one Query request without any SDK logic.

    params: dict or list of (name, value); Version=2016-11-15 is appended unless present
    (or add_version=False). POST puts them in a form body, GET in the query string.
    body: send these bytes verbatim instead (POST).
    """
    parts = urllib.parse.urlsplit(endpoint)
    host_header = host or parts.netloc
    if params is not None and not isinstance(params, (str, bytes)):
        items = list(params.items()) if isinstance(params, dict) else list(params)
        if add_version and not any(k == "Version" for k, _ in items):
            items.append(("Version", API_VERSION))
        params = items
    encoded = _encode(params)
    hdrs: dict[str, str] = {}
    path = "/"
    payload: bytes | None = None
    if method == "GET":
        if encoded:
            path = "/?" + encoded
    else:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        if body is not None:
            payload = body.encode("utf-8") if isinstance(body, str) else body
        else:
            payload = encoded.encode("utf-8")
    if headers:
        hdrs.update(headers)
    if sign_request:
        signed_url, hdrs = sign(method, f"http://{host_header}{path}", hdrs,
                                payload if payload is not None else b"", region, when,
                                query=query_auth, expires=expires)
        sp = urllib.parse.urlsplit(signed_url)
        path = sp.path + ("?" + sp.query if sp.query else "")
    hdrs = {k: v for k, v in hdrs.items() if k.lower() != "host"}
    hdrs["Host"] = host_header
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        try:
            conn.request(method, path, body=payload, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            # The server may answer (and close) before reading a huge body; the answer is
            # still in the socket buffer.
            pass
        resp = conn.getresponse()
        data = resp.read()
        header_list = resp.getheaders()
        return RawResponse(resp.status, resp.reason,
                           {k.lower(): v for k, v in header_list}, data, header_list)
    finally:
        conn.close()


# --------------------------------------------------------------------------------------
# aws CLI
# --------------------------------------------------------------------------------------


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") or k in ("AWS_CA_BUNDLE",)}
    env.update({
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_PAGER": "",
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


def aws(endpoint: str, *args: str, region: str = REGION, output: str | None = "json",
        check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `aws ec2 <args> --endpoint-url ... --region ... --output ...`."""
    cmd = [AWS_CLI, "ec2", *args, "--endpoint-url", endpoint, "--region", region]
    if output:
        cmd += ["--output", output]
    proc = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"aws CLI failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
    return proc


def aws_json(endpoint: str, *args: str, **kw) -> Any:
    proc = aws(endpoint, *args, output="json", **kw)
    return json.loads(proc.stdout) if proc.stdout.strip() else None
