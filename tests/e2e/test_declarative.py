"""EC2 declarative policies for instance metadata defaults (issue 15; spec wave2.md §2, cases
24-38): an organization's `ec2_attributes.instance_metadata_defaults` documents attached per
account in `--iam-config` (one level, or root → OUs → account), seen through
GetInstanceMetadataDefaults (`ManagedBy=declarative-policy`, the policy's message), refusing
ModifyInstanceMetadataDefaults, deciding launches in the account-default slot, and
enforcing IMDSv2 with `http_tokens_enforced`. Through boto3 and the aws CLI."""
from __future__ import annotations

import json
import subprocess

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

import helpers
from helpers import AMI_AL2, AMI_AL2023, REGION
from iam_helpers import Acct, write_iam_config

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENFORCED = ("You can't launch instances with IMDSv1 because httpTokensEnforced is enabled for this "
            "account. Either launch the instance with httpTokens=required or contact your account "
            "owner to disable httpTokensEnforced using the ModifyInstanceMetadataDefaults API or "
            "the account settings in the EC2 console.")


def assign(v):
    return {"@@assign": v}


def policy(message=None, **defaults) -> dict:
    doc = {"ec2_attributes": {"instance_metadata_defaults": {k: assign(v) for k, v in defaults.items()}}}
    if message is not None:
        doc["ec2_attributes"]["exception_message"] = assign(message)
    return doc


def acct(n: int, **kw) -> Acct:
    return Acct(f"{n:012d}", f"AKIAIOSFODNN7EXAMP{n:02d}", SECRET, **kw)


ACCOUNTS = {
    "managed": acct(1, declarative=[policy("Ask platform team", http_tokens="required",
                                           http_put_response_hop_limit="2")]),
    "no_hop": acct(2, declarative=[policy(http_tokens="required", http_put_response_hop_limit=-1)]),
    "no_pref": acct(3, declarative=[policy(http_tokens="no_preference", http_put_response_hop_limit=2)]),
    "optional": acct(4, declarative=[policy(http_tokens="optional")]),
    "enforced": acct(5, declarative=[policy(http_tokens="required", http_tokens_enforced="enabled")]),
    "own": acct(6),
    "locked": acct(7, declarative_levels=[
        [{"ec2_attributes": {"instance_metadata_defaults": {"http_tokens": {
            "@@assign": "required", "@@operators_allowed_for_child_policies": ["@@none"]}}}}],
        [policy(http_tokens="optional")]]),
    "ou": acct(8, declarative_levels=[[policy(http_tokens="required")], [policy(http_tokens="optional")]]),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("declarative")
    cfg = write_iam_config(d / "iamcfg", ACCOUNTS.values())
    srv = helpers.ImdsServer(d / "srv", extra_args=["--iam-config", str(cfg)])
    yield from helpers.running(srv)


def client(srv, who: str, service: str = "ec2"):
    a = ACCOUNTS[who]
    return boto3.client(service, endpoint_url=srv.endpoint, region_name=REGION,
                        aws_access_key_id=a.key, aws_secret_access_key=a.secret,
                        config=Config(retries={"total_max_attempts": 1}))


def level(ec2) -> dict:
    return ec2.get_instance_metadata_defaults()["AccountLevel"]


def launch(ec2, image=AMI_AL2, **kw) -> dict:
    return ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             **kw)["Instances"][0]


def error_of(fn):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_the_policy_is_what_get_reports(server):
    """Cases 24, 25, 27."""
    got = level(client(server, "managed"))
    assert got == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                   "ManagedBy": "declarative-policy", "ManagedExceptionMessage": "Ask platform team"}
    got = level(client(server, "no_hop"))
    assert "HttpPutResponseHopLimit" not in got and got["ManagedBy"] == "declarative-policy"
    assert "ManagedExceptionMessage" not in got
    assert level(client(server, "own"))["ManagedBy"] == "account"


def test_a_managed_account_cannot_modify_its_defaults(server):
    """Case 26: refused with the policy's message; nothing changes; DryRun still answers
    DryRunOperation (UNCONFIRMED, spec §2.3)."""
    ec2 = client(server, "managed")
    before = level(ec2)
    assert error_of(lambda: ec2.modify_instance_metadata_defaults(HttpTokens="optional")) == (
        "UnsupportedOperation", "Ask platform team", 400)
    assert error_of(lambda: ec2.modify_instance_metadata_defaults(InstanceMetadataTags="enabled"))[0] == \
        "UnsupportedOperation"
    assert error_of(lambda: ec2.modify_instance_metadata_defaults(HttpTokens="optional", DryRun=True))[0] == \
        "DryRunOperation"
    assert level(ec2) == before
    # Without a message: Organizations' own text.
    assert error_of(lambda: client(server, "no_hop").modify_instance_metadata_defaults(
        HttpTokens="optional"))[1] == "This action is denied due to an organizational policy in effect"


def test_launches_take_the_policy_in_the_account_default_slot(server):
    """Cases 28, 29, 30."""
    i = launch(client(server, "no_pref"), image=AMI_AL2023)
    assert (i["MetadataOptions"]["HttpTokens"], i["MetadataOptions"]["HttpPutResponseHopLimit"]) == (
        "required", 2)
    i = launch(client(server, "managed"), MetadataOptions={"HttpTokens": "optional"})
    assert i["MetadataOptions"]["HttpTokens"] == "optional"
    i = launch(client(server, "managed"))
    assert (i["MetadataOptions"]["HttpTokens"], i["MetadataOptions"]["HttpPutResponseHopLimit"]) == (
        "required", 2)
    ec2 = client(server, "optional")
    ec2.create_launch_template(LaunchTemplateName="lt-required", LaunchTemplateData={
        "ImageId": AMI_AL2, "InstanceType": "t3.micro", "MetadataOptions": {"HttpTokens": "required"}})
    i = ec2.run_instances(LaunchTemplate={"LaunchTemplateName": "lt-required"},
                          MinCount=1, MaxCount=1)["Instances"][0]
    assert i["MetadataOptions"]["HttpTokens"] == "required"
    assert launch(ec2)["MetadataOptions"]["HttpTokens"] == "optional"


def test_a_policy_that_enforces_imdsv2(server):
    """Cases 31, 32, 34."""
    ec2 = client(server, "enforced")
    before = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    for dry in (False, True):
        code, message, status = error_of(lambda: launch(
            ec2, MetadataOptions={"HttpTokens": "optional"}, DryRun=dry))
        assert (code, message, status) == ("UnsupportedOperation", ENFORCED, 400)
    after = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    assert after == before, "nothing launched"
    assert level(ec2)["HttpTokensEnforced"] == "enabled"
    iid = launch(ec2)["InstanceId"]
    code, message, _ = error_of(lambda: ec2.modify_instance_metadata_options(
        InstanceId=iid, HttpTokens="optional"))
    assert code == "UnsupportedOperation" and message.startswith("You can't"), message
    assert helpers.options(ec2, iid)["HttpTokens"] == "required"


def test_account_enforcement_without_a_policy(server):
    """Cases 33 and 35: the account's own HttpTokensEnforced."""
    ec2 = client(server, "own")
    old = launch(ec2, MetadataOptions={"HttpTokens": "optional"})["InstanceId"]
    ec2.modify_instance_metadata_defaults(HttpTokensEnforced="enabled")
    try:
        assert error_of(lambda: launch(ec2))[:1] == ("UnsupportedOperation",)
        ec2.modify_instance_metadata_options(InstanceId=old, HttpPutResponseHopLimit=2)
        assert helpers.options(ec2, old)["HttpPutResponseHopLimit"] == 2
    finally:
        ec2.modify_instance_metadata_defaults(HttpTokensEnforced="no-preference")


def test_levels_merge_from_the_root(server):
    """Cases 36 and 37."""
    assert level(client(server, "locked"))["HttpTokens"] == "required"
    assert level(client(server, "ou"))["HttpTokens"] == "optional"


@pytest.mark.cli
def test_a_managed_account_through_the_aws_cli(server):
    a = ACCOUNTS["managed"]
    env = helpers.cli_env()
    env.update(AWS_ACCESS_KEY_ID=a.key, AWS_SECRET_ACCESS_KEY=a.secret)
    base = ["--endpoint-url", server.endpoint, "--region", REGION, "--output", "json"]
    out = subprocess.run([helpers.AWS_CLI, "ec2", "get-instance-metadata-defaults", *base],
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out
    got = json.loads(out.stdout)["AccountLevel"]
    assert (got["ManagedBy"], got["ManagedExceptionMessage"]) == ("declarative-policy", "Ask platform team")
    out = subprocess.run([helpers.AWS_CLI, "ec2", "modify-instance-metadata-defaults",
                          "--http-tokens", "optional", *base],
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode != 0 and "UnsupportedOperation" in out.stderr
    assert "Ask platform team" in out.stderr


def test_detaching_the_policy_brings_the_accounts_own_defaults_back(tmp_path):
    """Case 38: the account's defaults from before the attachment come back when the policy
    goes (a restart with a configuration without it)."""
    own = acct(9)
    managed = acct(9, declarative=[policy(http_tokens="required")])
    data = tmp_path / "data"

    # One server, restarted with each configuration (on PostgreSQL: one database throughout).
    server = helpers.ImdsServer(tmp_path / "srv", data_dir=data)

    def serve(a):
        cfg = write_iam_config(tmp_path / f"cfg-{len(a.declarative)}", [a])
        server.extra_args = ["--iam-config", str(cfg)]
        return server

    def ec2(srv):
        return boto3.client("ec2", endpoint_url=srv.endpoint, region_name=REGION,
                            aws_access_key_id=own.key, aws_secret_access_key=own.secret,
                            config=Config(retries={"total_max_attempts": 1}))

    for a, check in ((own, None), (managed, "managed"), (own, "own")):
        srv = serve(a).start()
        try:
            if check is None:
                ec2(srv).modify_instance_metadata_defaults(HttpTokens="optional",
                                                           HttpPutResponseHopLimit=3)
            got = level(ec2(srv))
            if check == "managed":
                assert (got["ManagedBy"], got["HttpTokens"]) == ("declarative-policy", "required")
                assert "HttpPutResponseHopLimit" not in got
            else:
                assert (got["ManagedBy"], got["HttpTokens"], got["HttpPutResponseHopLimit"]) == (
                    "account", "optional", 3)
        finally:
            srv.stop()


def test_a_malformed_policy_stops_the_start(tmp_path):
    """As a malformed SCP does: the server refuses to start and says which account and why."""
    bad = acct(10, declarative=[policy(http_tokens="sometimes")])
    cfg = write_iam_config(tmp_path / "cfg", [bad])
    srv = helpers.ImdsServer(tmp_path / "srv", extra_args=["--iam-config", str(cfg)])
    with pytest.raises(RuntimeError) as e:
        srv.start(timeout=20)
    assert "declarative policy of account 000000000010" in str(e.value)
    assert "'sometimes' is not a valid value" in str(e.value)
