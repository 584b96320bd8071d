"""imds from Python: start the `imds` binary this package installed, on free loopback ports,
and reach its EC2 API and its instances' metadata endpoints.

The pytest plugin (`imds_emulator.pytest_plugin`) builds its fixtures on `Server` and
`Instance`; a test suite that is not pytest's can use them directly::

    with Server() as srv:
        ec2 = srv.client("ec2")
        instance = srv.launch()
        status, body = instance.get("/latest/meta-data/instance-id")

Nothing here talks to anything but 127.0.0.1 and the process it started.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable

__all__ = ["Server", "Instance", "binary", "ImdsError"]

#: The credentials a server without an IAM configuration accepts (any key does: every caller
#: is the root of account 123456789012); the AWS documentation's example key.
DEFAULT_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
DEFAULT_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#: The Region imds creates its first instance in, and the fixtures' default.
DEFAULT_REGION = "us-east-1"
#: Amazon Linux 2 in imds's catalogue (the user guide's examples' image).
DEFAULT_IMAGE = "ami-0abcdef1234567890"

_READY = re.compile(r"EC2 API listening on (http://\S+)")
_METADATA = re.compile(r"Instance Metadata Service listening on (http://\S+)")


class ImdsError(RuntimeError):
    """The server could not be started, or answered what a fixture cannot go on with."""


def binary() -> str:
    """The `imds` binary: `$IMDS_BIN` if set, else the one this package installed (beside
    this interpreter's scripts), else the first on PATH."""
    if os.environ.get("IMDS_BIN"):
        return os.environ["IMDS_BIN"]
    exe = "imds.exe" if os.name == "nt" else "imds"
    for scripts in (sysconfig.get_path("scripts"), os.path.dirname(sys.executable)):
        candidate = os.path.join(scripts, exe)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("imds")
    if not found:
        raise ImdsError("no imds binary: install the imds-emulator wheel, or set IMDS_BIN")
    return found


def root_credentials(iam_config: str | os.PathLike) -> tuple[str, str]:
    """The first account's root access key pair in an `--iam-config` file."""
    text = Path(iam_config).read_text()
    try:
        import tomllib  # Python 3.11+

        accounts = tomllib.loads(text).get("accounts", [])
        if accounts:
            return accounts[0]["root_access_key_id"], accounts[0]["root_secret_access_key"]
    except ImportError:
        key = re.search(r'root_access_key_id\s*=\s*"([^"]+)"', text)
        secret = re.search(r'root_secret_access_key\s*=\s*"([^"]+)"', text)
        if key and secret:
            return key.group(1), secret.group(1)
    raise ImdsError(f"{iam_config}: no [[accounts]] with root_access_key_id")


class Server:
    """One `imds serve --ephemeral` on free loopback ports (the OS picks them), with short
    delays (options `applied` and instances `running` within tens of milliseconds)."""

    def __init__(self, *, iam_config: str | os.PathLike | None = None,
                 apply_delay: str = "50ms", transition_delay: str = "50ms",
                 spot_notice: str | None = None, region: str = DEFAULT_REGION,
                 credentials: tuple[str, str] | None = None,
                 extra_args: Iterable[str] = (), imds_bin: str | None = None):
        self.iam_config = str(iam_config) if iam_config else None
        self.apply_delay = apply_delay
        self.transition_delay = transition_delay
        self.spot_notice = spot_notice
        self.region = region
        if credentials is None:
            credentials = (root_credentials(self.iam_config) if self.iam_config
                           else (DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY))
        self.access_key, self.secret_key = credentials
        self.extra_args = list(extra_args)
        self.imds_bin = imds_bin or binary()
        self.api_url: str | None = None
        self.metadata_url: str | None = None
        self._proc: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None

    @property
    def argv(self) -> list[str]:
        argv = [self.imds_bin, "serve", "--ephemeral", "--api-listen", "127.0.0.1:0",
                "--imds-listen", "127.0.0.1:0", "--apply-delay", self.apply_delay,
                "--transition-delay", self.transition_delay]
        if self.iam_config:
            argv += ["--iam-config", self.iam_config]
        if self.spot_notice:
            argv += ["--spot-notice", self.spot_notice]
        return argv + self.extra_args

    def start(self, timeout: float = 30) -> "Server":
        """Start the server and wait for its ready line; its stdout and stderr go to files in
        a temporary directory (`log_dir`), removed at `stop`."""
        if self._proc is not None:
            raise ImdsError("already started")
        self._dir = tempfile.TemporaryDirectory(prefix="imds-")
        out_path = Path(self._dir.name) / "stdout.log"
        env = dict(os.environ)
        # An ephemeral server records where it listens in $XDG_DATA_HOME/imds: the
        # fixture's own, not the user's running server's.
        env["XDG_DATA_HOME"] = str(Path(self._dir.name) / "data")
        with open(out_path, "wb") as out, open(self.log_dir / "stderr.log", "wb") as err:
            self._proc = subprocess.Popen(self.argv, stdout=out, stderr=err,
                                          stdin=subprocess.DEVNULL, env=env,
                                          start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            text = out_path.read_text(errors="replace")
            ready, metadata = _READY.search(text), _METADATA.search(text)
            if ready and metadata:
                self.api_url = ready.group(1).rstrip("/")
                self.metadata_url = metadata.group(1).rstrip("/")
                return self
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ImdsError(f"imds did not start ({' '.join(self.argv)}):\n{text}")
            time.sleep(0.02)

    @property
    def log_dir(self) -> Path:
        if self._dir is None:
            raise ImdsError("not started")
        return Path(self._dir.name)

    def stderr(self) -> str:
        """What the server logged so far."""
        return (self.log_dir / "stderr.log").read_text(errors="replace")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (a clean stop), then SIGKILL after `timeout`; the logs go."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> "Server":
        return self.start() if self._proc is None else self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The environment boto3, botocore and the aws CLI take this server from: its endpoint
        for every service (`AWS_ENDPOINT_URL`), keys, Region, and the loopback metadata
        service (which serves the server's first instance)."""
        return {
            "AWS_ENDPOINT_URL": self.api_url or "",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": (self.metadata_url or "") + "/",
        }

    def client(self, service: str = "ec2", region: str | None = None, **kw: Any):
        """A botocore client of `service` on this server (boto3's when boto3 is installed)."""
        args = dict(endpoint_url=self.api_url, region_name=region or self.region,
                    aws_access_key_id=self.access_key,
                    aws_secret_access_key=self.secret_key, **kw)
        try:
            import boto3

            return boto3.client(service, **args)
        except ImportError:
            import botocore.session

            return botocore.session.get_session().create_client(service, **args)

    def launch(self, region: str | None = None, **run_instances: Any) -> "Instance":
        """RunInstances (one instance of `DEFAULT_IMAGE`, t3.micro, unless given), waited
        until it runs with its options applied, with its own metadata endpoint opened."""
        ec2 = self.client("ec2", region)
        params = {"ImageId": DEFAULT_IMAGE, "InstanceType": "t3.micro", "MinCount": 1,
                  "MaxCount": 1, **run_instances}
        iid = ec2.run_instances(**params)["Instances"][0]["InstanceId"]
        instance = Instance(self, iid, region or self.region)
        instance.wait_until_running()
        instance.metadata_url = self._admin_get(f"/_imds/instances/{iid}/endpoint").strip()
        return instance

    def _admin_get(self, path: str) -> str:
        """A GET on the server's own routes, signed as the API expects when IAM applies."""
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials

        request = botocore.awsrequest.AWSRequest(method="GET", url=f"{self.api_url}{path}")
        creds = botocore.credentials.Credentials(self.access_key, self.secret_key)
        botocore.auth.SigV4Auth(creds, "ec2", self.region).add_auth(request)
        req = urllib.request.Request(request.url, headers=dict(request.headers.items()))
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise ImdsError(f"GET {path}: {e.code} {e.read().decode(errors='replace')}") from e


class Instance:
    """An instance of a `Server`, with its own metadata endpoint on loopback: a connection
    there is this instance, whatever its source address (`imds endpoint`)."""

    def __init__(self, server: Server, instance_id: str, region: str):
        self.server = server
        self.id = instance_id
        self.region = region
        self.metadata_url: str | None = None

    def __repr__(self) -> str:
        return f"Instance({self.id!r}, metadata_url={self.metadata_url!r})"

    @property
    def env(self) -> dict[str, str]:
        """The server's environment, with this instance's metadata endpoint: what an SDK or
        the aws CLI running "on" this instance reads."""
        return {**self.server.env(), "AWS_EC2_METADATA_SERVICE_ENDPOINT":
                (self.metadata_url or "") + "/"}

    def describe(self) -> dict:
        ec2 = self.server.client("ec2", self.region)
        return ec2.describe_instances(InstanceIds=[self.id])["Reservations"][0]["Instances"][0]

    def wait_until_running(self, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            i = self.describe()
            if i["State"]["Name"] == "running" and i["MetadataOptions"]["State"] == "applied":
                return i
            if time.monotonic() > deadline:
                raise ImdsError(f"{self.id} is not running with its options applied: {i}")
            time.sleep(0.02)

    def modify_metadata_options(self, wait: bool = True, **options: Any) -> dict:
        """ModifyInstanceMetadataOptions, then (by default) wait until they are `applied`."""
        ec2 = self.server.client("ec2", self.region)
        ec2.modify_instance_metadata_options(InstanceId=self.id, **options)
        return self.wait_until_running() if wait else self.describe()

    def token(self, ttl: int = 21600) -> str:
        """An IMDSv2 session token."""
        status, body = self.request("PUT", "/latest/api/token",
                                    {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})
        if status != 200:
            raise ImdsError(f"PUT /latest/api/token: {status} {body!r}")
        return body.decode()

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        """GET `path` (e.g. `/latest/meta-data/instance-id`), with a token or without."""
        headers = {"X-aws-ec2-metadata-token": token} if token else {}
        return self.request("GET", path, headers)

    def request(self, method: str, path: str,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(f"{self.metadata_url}{path}", method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def terminate(self) -> None:
        ec2 = self.server.client("ec2", self.region)
        ec2.terminate_instances(InstanceIds=[self.id])


