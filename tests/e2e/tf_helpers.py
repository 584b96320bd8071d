"""Running the real Terraform, with hashicorp/aws 5.100.0 from a filesystem provider mirror,
against an imds server: nothing patched, nothing fetched from the network.

* `find_terraform()` says where terraform and the mirror are, or why the suite cannot run;
* `Workspace` is one Terraform working directory: write `main.tf`, `init`, `apply`,
  `plan -detailed-exitcode`, `destroy`, `output`, each checked by exit code.

The mirror's location comes from IMDS_TF_PLUGIN_MIRROR (default /opt/tf-plugins), terraform's
from IMDS_TERRAFORM (default: on PATH).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import ACCESS_KEY, SECRET_KEY

PROVIDER_VERSION = "5.100.0"
PROVIDER_PATH = Path("registry.terraform.io/hashicorp/aws") / PROVIDER_VERSION
DEFAULT_MIRROR = "/opt/tf-plugins"


@dataclass
class Tooling:
    terraform: str
    mirror: Path


def find_terraform() -> tuple[Tooling | None, str]:
    """(tooling, "") when terraform and the provider mirror are here, else (None, why)."""
    terraform = os.environ.get("IMDS_TERRAFORM") or shutil.which("terraform")
    mirror = Path(os.environ.get("IMDS_TF_PLUGIN_MIRROR", DEFAULT_MIRROR))
    if not terraform or not os.access(terraform, os.X_OK):
        return None, ("terraform not found (install Terraform >= 1.5 on PATH, or set "
                      "IMDS_TERRAFORM)")
    if not (mirror / PROVIDER_PATH).is_dir():
        return None, (f"no hashicorp/aws {PROVIDER_VERSION} in the provider mirror {mirror} "
                      f"(expected {mirror / PROVIDER_PATH}; set IMDS_TF_PLUGIN_MIRROR to a "
                      "filesystem mirror, e.g. one made by `terraform providers mirror`)")
    return Tooling(terraform, mirror), ""


def provider_block(endpoint: str, region: str, services: tuple[str, ...] = ("ec2", "sts")) -> str:
    """The provider block of the README: ec2 and sts (and `services`) at imds, no account
    lookups."""
    endpoints = "\n".join(f'            {s} = "{endpoint}"' for s in services)
    return textwrap.dedent(f"""\
        terraform {{
          required_providers {{
            aws = {{ source = "hashicorp/aws", version = "{PROVIDER_VERSION}" }}
          }}
        }}

        provider "aws" {{
          region                      = "{region}"
          access_key                  = "{ACCESS_KEY}"
          secret_key                  = "{SECRET_KEY}"
          skip_credentials_validation = true
          skip_requesting_account_id  = true
          skip_metadata_api_check     = true
          skip_region_validation      = true
          endpoints {{
{endpoints}
          }}
        }}
        """)


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv)}  -> exit {self.returncode} after {self.seconds:.1f}s\n"
                f"--- stdout (tail)\n{self.stdout[-6000:]}\n--- stderr (tail)\n"
                f"{self.stderr[-4000:]}")


class Workspace:
    """One Terraform working directory against one imds endpoint and Region."""

    def __init__(self, tooling: Tooling, root: Path, endpoint: str, region: str):
        self.tooling = tooling
        self.dir = Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.endpoint = endpoint
        self.region = region
        rc = self.dir / "terraform.rc"
        # Providers only from the mirror; every other installation method is off.
        rc.write_text(textwrap.dedent(f"""\
            provider_installation {{
              filesystem_mirror {{
                path    = "{tooling.mirror}"
                include = ["registry.terraform.io/hashicorp/aws"]
              }}
              direct {{
                exclude = ["registry.terraform.io/*/*"]
              }}
            }}
            """))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "TF_")) and k not in (
                   "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                   "no_proxy")}
        env.update({
            "TF_CLI_CONFIG_FILE": str(rc),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            # Anything not addressed to loopback goes to a closed port on loopback: the
            # provider can reach imds and nothing else.
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
            # Go's collector, for terraform and the provider it starts (plugins inherit the
            # environment). Most of each command's CPU is the provider decoding its schema at
            # start, which the default GOGC=100 collects many times over: at 400 a `plan` took
            # 6 s of CPU in place of 11, for ~450 MB in place of ~310 MB (measured here,
            # session 19). Changes nothing the provider sends.
            "GOGC": "400",
        })
        self.env = env
        self.history: list[Result] = []

    # -- files --------------------------------------------------------------------------
    def write(self, body: str, services: tuple[str, ...] = ("ec2", "sts")) -> None:
        (self.dir / "main.tf").write_text(
            provider_block(self.endpoint, self.region, services) + "\n"
            + textwrap.dedent(body))

    def write_config(self, text: str) -> None:
        """A whole configuration, provider block included."""
        (self.dir / "main.tf").write_text(text)

    # -- commands ------------------------------------------------------------------------
    def run(self, *args: str, timeout: float = 300) -> Result:
        argv = [self.tooling.terraform, *args]
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # terraform and the provider plugin it started share the session we created.
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            err += f"\n[killed after {timeout}s]"
        result = Result(argv, proc.returncode, out, err, time.monotonic() - start)
        self.history.append(result)
        return result

    def ok(self, *args: str, timeout: float = 300) -> Result:
        r = self.run(*args, timeout=timeout)
        assert r.returncode == 0, r.describe()
        return r

    def init(self) -> Result:
        return self.ok("init", "-input=false", "-no-color")

    def apply(self) -> Result:
        return self.ok("apply", "-auto-approve", "-input=false", "-no-color")

    def destroy(self) -> Result:
        return self.ok("destroy", "-auto-approve", "-input=false", "-no-color")

    def plan_is_clean(self) -> Result:
        """`plan -detailed-exitcode`: 0 = no changes (2 = changes, 1 = error)."""
        r = self.run("plan", "-detailed-exitcode", "-input=false", "-no-color")
        assert r.returncode == 0, "plan is not clean:\n" + r.describe()
        return r

    def outputs(self) -> dict:
        r = self.ok("output", "-json")
        return {k: v["value"] for k, v in json.loads(r.stdout).items()}

    def state(self, address: str) -> dict:
        """The attributes of one resource instance, from the local state file."""
        doc = json.loads((self.dir / "terraform.tfstate").read_text())
        for res in doc.get("resources", []):
            if f"{res['type']}.{res['name']}" == address and res.get("mode") == "managed":
                return res["instances"][0]["attributes"]
        raise AssertionError(f"{address} not in the state: {json.dumps(doc)[:2000]}")
