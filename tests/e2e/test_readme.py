"""What README.md tells a user to paste works as it is: the aws CLI session, and the
Terraform configuration (provider block pointing ec2 and sts at imds)."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

import helpers
from helpers import AWS_CLI, REPO
from tf_helpers import Workspace, find_terraform

pytestmark = pytest.mark.store_neutral

README = (REPO / "README.md").read_text()
README_ENDPOINT = "http://127.0.0.1:8773"


def block(marker: str) -> str:
    """The fenced code block that follows `<!-- marker -->` in the README."""
    m = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)\n```", README, flags=re.S)
    assert m, f"README has no block marked <!-- {marker} -->"
    return m.group(1)


@pytest.mark.cli
def test_readme_cli_session(fresh_server):
    script = block("cli-session")
    assert README_ENDPOINT in script
    script = script.replace(README_ENDPOINT, fresh_server.endpoint)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"PATH": f"{Path(AWS_CLI).parent}{os.pathsep}{env.get('PATH', '')}",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1"})
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "DryRunOperation" in proc.stderr and "UnsupportedOperation" in proc.stderr
    assert '"State": "applied"' in proc.stdout and '"HttpTokens": "optional"' in proc.stdout
    ec2 = fresh_server.client("us-east-1")
    launched = [i for i in helpers.describe(ec2) if i["InstanceType"] == "c3.large"]
    assert [i["State"]["Name"] for i in launched] == ["terminated"]
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {"ManagedBy": "account"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_terraform_configuration(fresh_server, tmp_path):
    tooling, why = find_terraform()
    if tooling is None:
        pytest.skip(f"Terraform suite SKIPPED: {why}")
    config = block("terraform")
    assert config.count(README_ENDPOINT) == 2
    ws = Workspace(tooling, tmp_path / "readme", fresh_server.endpoint, "us-east-1")
    ws.write_config(config.replace(README_ENDPOINT, fresh_server.endpoint))
    ws.init()
    ws.apply()
    ec2 = fresh_server.client("us-east-1")
    web = [i for i in helpers.describe(ec2, filters={"tag:Name": "web"})]
    assert len(web) == 1 and web[0]["State"]["Name"] == "running"
    helpers.assert_options(web[0]["MetadataOptions"], HttpTokens="required",
                           HttpPutResponseHopLimit=2, InstanceMetadataTags="enabled")
    # The first instance of a new store allows IMDSv1; the data source finds it.
    first = helpers.describe(ec2, filters={"tag:Name": "imds-default"})[0]["InstanceId"]
    assert ws.outputs()["still_on_imdsv1"] == [first]
    ws.plan_is_clean()
    ws.destroy()
    assert helpers.state(ec2, web[0]["InstanceId"]) == "terminated"
    assert ec2.get_instance_metadata_defaults()["AccountLevel"] == {"ManagedBy": "account"}
