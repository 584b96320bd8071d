"""`imds migrate plan|apply` (issue 15, the planner): instances judged by their metadata
traffic over a window (CloudWatch's MetadataNoToken, read through the API), then IMDSv2
required on exactly the safe ones through the EC2 API; a second apply changes nothing."""
from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest

import helpers
from helpers import REGION
from imds_helpers import get, loopback_only, token


@pytest.fixture(autouse=True)
def guard(monkeypatch):
    yield from loopback_only(monkeypatch)


def endpoint_of(srv, iid: str) -> str:
    with urllib.request.urlopen(f"{srv.endpoint}/_imds/instances/{iid}/endpoint", timeout=30) as r:
        return r.read().decode().strip()[len("http://"):]


def migrate(srv, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=helpers.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=helpers.SECRET_KEY)
    p = subprocess.run([helpers.IMDS_BIN, "migrate", *args, "--endpoint", srv.endpoint,
                        "--region", REGION, "--since", "15m"],
                       capture_output=True, text=True, timeout=180, env=env)
    if check:
        assert p.returncode == 0, p
    return p


def verdicts(srv, *args: str) -> dict[str, str]:
    out = json.loads(migrate(srv, "plan", "--output", "json", *args).stdout)
    return {i["InstanceId"]: i["Verdict"] for i in out["Instances"]}


@pytest.fixture
def fleet(fresh_server):
    """`blocked`: tokenless calls; `safe` and `safe2`: calls with tokens only; `unknown`: no
    traffic; `done`: IMDSv2 already required. All tagged team=web but `other` (safe, untagged)."""
    ec2 = fresh_server.client(REGION)
    names = ["blocked", "safe", "safe2", "unknown", "done", "other"]
    ids = dict(zip(names, helpers.run_ids(ec2, len(names))))
    for name, iid in ids.items():
        helpers.wait_state(ec2, iid, "running")
        helpers.wait_applied(ec2, iid)
        if name != "other":
            ec2.create_tags(Resources=[iid], Tags=[{"Key": "team", "Value": "web"}])
    ec2.modify_instance_metadata_options(InstanceId=ids["done"], HttpTokens="required")
    helpers.wait_applied(ec2, ids["done"])
    assert get(endpoint_of(fresh_server, ids["blocked"]), "/latest/meta-data/").status == 200
    for name in ("safe", "safe2", "other"):
        addr = endpoint_of(fresh_server, ids[name])
        assert get(addr, "/latest/meta-data/", token(addr)).status == 200
    return ids


def test_plan_judges_each_instance_by_its_traffic(fresh_server, fleet):
    v = verdicts(fresh_server)
    assert {name: v[iid] for name, iid in fleet.items()} == {
        "blocked": "blocked", "safe": "safe", "safe2": "safe", "unknown": "unknown",
        "done": "done", "other": "safe"}
    # A blocked instance's callers are named: here this test's own process, whose tokenless
    # call went through the instance's loopback endpoint.
    plan = json.loads(migrate(fresh_server, "plan", "--output", "json").stdout)["Instances"]
    [blocked] = [i for i in plan if i["InstanceId"] == fleet["blocked"]]
    assert [c["Pid"] for c in blocked["Callers"]] == [os.getpid()], blocked
    # The table says the same, with the counts.
    table = migrate(fresh_server, "plan").stdout
    assert "3 safe, 1 blocked" in table and fleet["blocked"] in table
    # Filters select as DescribeInstances's do.
    assert fleet["other"] not in verdicts(fresh_server, "--filter", "Name=tag:team,Values=web")


def test_apply_requires_imdsv2_on_exactly_the_safe_ones(fresh_server, fleet):
    ec2 = fresh_server.client(REGION)
    before = {name: helpers.options(ec2, iid) for name, iid in fleet.items()}
    dry = migrate(fresh_server, "apply", "--dry-run", "--filter", "Name=tag:team,Values=web")
    assert "would require on 2 of 2 safe instances (0 failed)" in dry.stdout, dry.stdout
    assert {name: helpers.options(ec2, iid) for name, iid in fleet.items()} == before, \
        "a dry run changes nothing"
    out = migrate(fresh_server, "apply", "--hop-limit", "2",
                  "--filter", "Name=tag:team,Values=web")
    assert "IMDSv2 required on 2 of 2 safe instances (0 failed)" in out.stdout, out.stdout
    for name, iid in fleet.items():
        opts = helpers.options(ec2, iid)
        if name in ("safe", "safe2"):
            assert (opts["HttpTokens"], opts["HttpPutResponseHopLimit"], opts["State"]) == (
                "required", 2, "applied"), (name, opts)
        else:
            assert opts == before[name], name
    # Enforced by the metadata service: a tokenless call is refused now.
    assert get(endpoint_of(fresh_server, fleet["safe"]), "/latest/meta-data/").status == 401
    again = migrate(fresh_server, "apply", "--filter", "Name=tag:team,Values=web")
    assert "IMDSv2 required on 0 of 0 safe instances" in again.stdout, again.stdout
    assert verdicts(fresh_server)[fleet["safe"]] == "done"


def test_apply_goes_through_iam(tmp_path):
    """The changes are the caller's own API calls: a caller denied
    ModifyInstanceMetadataOptions is refused per instance (reported, exit status 1), and
    nothing changes."""
    from iam_helpers import Acct, iam_server, make_user
    import boto3
    acct = Acct(helpers.ACCOUNT, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    srv = iam_server(tmp_path, [acct])
    try:
        root = dict(endpoint_url=srv.endpoint, region_name=REGION, aws_access_key_id=acct.key,
                    aws_secret_access_key=acct.secret)
        ec2 = boto3.client("ec2", **root)
        iid = ec2.run_instances(ImageId=helpers.AMI_AL2, InstanceType="t3.micro", MinCount=1,
                                MaxCount=1)["Instances"][0]["InstanceId"]
        helpers.wait_state(ec2, iid, "running")
        addr = endpoint_of_signed(srv, acct, iid)
        assert get(addr, "/latest/meta-data/", token(addr)).status == 200
        _, creds = make_user(boto3.client("iam", **root), "migrator", [{
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ec2:Describe*", "cloudwatch:GetMetricData"],
                 "Resource": "*"},
                {"Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions", "Resource": "*"}]}])
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=creds.key, AWS_SECRET_ACCESS_KEY=creds.secret)
        p = subprocess.run([helpers.IMDS_BIN, "migrate", "apply", "--endpoint", srv.endpoint,
                            "--region", REGION, "--since", "15m"],
                           capture_output=True, text=True, timeout=180, env=env)
        assert p.returncode == 1, p
        assert f"{iid}: UnauthorizedOperation" in p.stderr, p.stderr
        assert "required on 0 of 1 safe instances (1 failed)" in p.stdout, p.stdout
        assert helpers.options(ec2, iid)["HttpTokens"] == "optional"
    finally:
        srv.stop()


def endpoint_of_signed(srv, acct, iid: str) -> str:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    url = f"{srv.endpoint}/_imds/instances/{iid}/endpoint"
    req = AWSRequest(method="GET", url=url, headers={})
    SigV4Auth(Credentials(acct.key, acct.secret), "ec2", REGION).add_auth(req)
    r = urllib.request.Request(url, headers=dict(req.headers.items()))
    with urllib.request.urlopen(r, timeout=30) as resp:
        return resp.read().decode().strip()[len("http://"):]
