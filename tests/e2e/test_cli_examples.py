"""Every `aws ec2 ...` example of the source documents (shared/seeds), run with the real aws CLI.

The examples use the instance ID `i-1234567898abcdef0`, which does not exist in a test store:
each test launches an instance and substitutes its ID into the example command and into the
expected output (the ID in the output is the echo of the one in the command).
"""
from __future__ import annotations

import json

import pytest

from helpers import (
    AMI_AL2, BUILTIN_OPTS, assert_options, options, run_one, running_instance, wait_applied,
    wait_state,
)

pytestmark = pytest.mark.cli

EXAMPLE_ID = "i-1234567898abcdef0"

# ---------------------------------------------------------------------------------------------
# modify-instance-metadata-options examples of seeds 000 and 001 (no printed output).
# Each: (test id, the command as printed, options the instance starts with, expected change).
# ---------------------------------------------------------------------------------------------
MODIFY_EXAMPLES = [
    # seed 000 "Require the use of IMDSv2"
    ("seed000-require-imdsv2",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-tokens required --http-endpoint enabled",
     {}, {"HttpTokens": "required", "HttpEndpoint": "enabled"}),
    # seed 000 "Restore the use of IMDSv1"
    ("seed000-restore-imdsv1",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-tokens optional --http-endpoint enabled",
     {"HttpTokens": "required"}, {"HttpTokens": "optional", "HttpEndpoint": "enabled"}),
    # seed 000 "Change the PUT response hop limit"
    ("seed000-hop-limit-3",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-put-response-hop-limit 3 --http-endpoint enabled",
     {}, {"HttpPutResponseHopLimit": 3, "HttpEndpoint": "enabled"}),
    # seed 000 "Enable the IPv6 endpoint for your instance" (Nitro instance)
    ("seed000-ipv6-endpoint",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-protocol-ipv6 enabled --http-endpoint enabled",
     {}, {"HttpProtocolIpv6": "enabled", "HttpEndpoint": "enabled"}),
    # seed 000 "Turn on access to instance metadata"
    ("seed000-endpoint-enabled",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-endpoint enabled",
     {"HttpEndpoint": "disabled"}, {"HttpEndpoint": "enabled"}),
    # seed 000 "Turn off access to instance metadata"
    ("seed000-endpoint-disabled",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-endpoint disabled",
     {}, {"HttpEndpoint": "disabled"}),
    # seed 001 "To require the use of IMDSv2"
    ("seed001-require-imdsv2",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-tokens required --http-endpoint enabled",
     {}, {"HttpTokens": "required", "HttpEndpoint": "enabled"}),
    # seed 001 "To change the PUT response hop limit"
    ("seed001-hop-limit-3",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-put-response-hop-limit 3 --http-endpoint enabled",
     {}, {"HttpPutResponseHopLimit": 3, "HttpEndpoint": "enabled"}),
    # seed 001 "To restore the use of IMDSv1 on an instance using IMDSv2"
    ("seed001-restore-imdsv1",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-tokens optional --http-endpoint enabled",
     {"HttpTokens": "required"}, {"HttpTokens": "optional", "HttpEndpoint": "enabled"}),
    # seed 001 "To turn off access to instance metadata"
    ("seed001-endpoint-disabled",
     "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
     "--http-endpoint disabled",
     {}, {"HttpEndpoint": "disabled"}),
]


def example_argv(command: str, instance_id: str) -> list[str]:
    # The printed examples contain the placeholder ID; the instance is real.
    assert EXAMPLE_ID in command
    return command.replace(EXAMPLE_ID, instance_id).split()


@pytest.mark.parametrize("command,start,change",
                         [pytest.param(c, s, ch, id=i) for i, c, s, ch in MODIFY_EXAMPLES])
def test_modify_example(server, ec2, command, start, change):
    iid = running_instance(ec2, itype="m5.large", metadata=start or None)
    before = options(ec2, iid)
    out = server.aws_json(*example_argv(command, iid))
    expected = {k: before[k] for k in BUILTIN_OPTS} | change
    assert out["InstanceId"] == iid
    assert out["InstanceMetadataOptions"] == {"State": "pending", **expected}
    wait_applied(ec2, iid)
    # And what the CLI reads back:
    described = server.aws_json(
        "describe-instances", "--instance-ids", iid,
        "--query", "Reservations[0].Instances[0].MetadataOptions")
    assert described == {"State": "applied", **expected}


# ---------------------------------------------------------------------------------------------
# run-instances examples of seed 001. The printed commands have a "..." line for the
# arguments that do not matter; it is left out.
# ---------------------------------------------------------------------------------------------
RUN_EXAMPLES = [
    ("seed001-run-require-imdsv2",
     ["run-instances", "--image-id", "ami-0abcdef1234567890", "--instance-type", "c3.large",
      "--metadata-options", "HttpEndpoint=enabled,HttpTokens=required"],
     {"HttpTokens": "required", "HttpEndpoint": "enabled"}),
    ("seed001-run-endpoint-disabled",
     ["run-instances", "--image-id", "ami-0abcdef1234567890", "--instance-type", "c3.large",
      "--metadata-options", "HttpEndpoint=disabled"],
     {"HttpEndpoint": "disabled"}),
]


@pytest.mark.parametrize("argv,change", [pytest.param(a, c, id=i) for i, a, c in RUN_EXAMPLES])
def test_run_instances_example(server, ec2, argv, change):
    out = server.aws_json(*argv)
    assert len(out["Instances"]) == 1
    inst = out["Instances"][0]
    assert inst["ImageId"] == AMI_AL2
    assert inst["InstanceType"] == "c3.large"
    assert inst["State"]["Name"] == "pending"
    expected = BUILTIN_OPTS | change  # AL2 has no ImdsSupport, us-west-2 has no defaults
    assert inst["MetadataOptions"] == {"State": "pending", **expected}
    iid = inst["InstanceId"]
    wait_state(ec2, iid, "running")
    assert_options(wait_applied(ec2, iid), State="applied", **expected)


# ---------------------------------------------------------------------------------------------
# seed 002: the three examples with printed JSON output. Example 2 shows HttpTokens "required"
# because it runs after example 1 on the same instance, and example 3 after both; each test
# below starts from a new instance and replays the earlier examples first.
# The printed outputs predate HttpProtocolIpv6/InstanceMetadataTags: every printed field must
# be equal, and the only extra fields allowed are those two.
# ---------------------------------------------------------------------------------------------
SEED002 = [
    (
        "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
        "--http-tokens required --http-endpoint enabled",
        """{
"InstanceId": "i-1234567898abcdef0",
"InstanceMetadataOptions": {
"State": "pending",
"HttpTokens": "required",
"HttpPutResponseHopLimit": 1,
"HttpEndpoint": "enabled"
}
}""",
    ),
    (
        "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
        "--http-endpoint disabled",
        """{
"InstanceId": "i-1234567898abcdef0",
"InstanceMetadataOptions": {
"State": "pending",
"HttpTokens": "required",
"HttpPutResponseHopLimit": 1,
"HttpEndpoint": "disabled"
}
}""",
    ),
    (
        "modify-instance-metadata-options --instance-id i-1234567898abcdef0 "
        "--http-protocol-ipv6 enabled --http-endpoint enabled",
        # The seed prints `HttpProtocolIpv6": "enabled"` (opening quote missing); fixed here.
        """{
"InstanceId": "i-1234567898abcdef0",
"InstanceMetadataOptions": {
"State": "pending",
"HttpTokens": "required",
"HttpPutResponseHopLimit": 1,
"HttpEndpoint": "enabled",
"HttpProtocolIpv6": "enabled"
}
}""",
    ),
]
LATER_FIELDS = {"HttpProtocolIpv6", "InstanceMetadataTags"}


def compare_with_printed(actual: dict, printed: dict) -> None:
    assert set(actual) == set(printed), (actual, printed)
    assert actual["InstanceId"] == printed["InstanceId"]
    got, want = actual["InstanceMetadataOptions"], printed["InstanceMetadataOptions"]
    for key, value in want.items():
        assert got.get(key) == value, f"{key}: {got.get(key)!r} != printed {value!r}"
    extra = set(got) - set(want)
    assert extra <= LATER_FIELDS, f"unexpected fields {extra}"


def _seed002_upto(server, ec2, n: int) -> None:
    # Nitro type: example 3 enables the IPv6 endpoint.
    iid = running_instance(ec2, itype="m5.large")
    for command, printed in SEED002[: n + 1]:
        out = server.aws_json(*example_argv(command, iid))
        expected = json.loads(printed.replace(EXAMPLE_ID, iid))
        compare_with_printed(out, expected)
        wait_applied(ec2, iid)


def test_seed002_example_1_enable_imdsv2(server, ec2):
    _seed002_upto(server, ec2, 0)


def test_seed002_example_2_disable_metadata(server, ec2):
    _seed002_upto(server, ec2, 1)


def test_seed002_example_3_ipv6_endpoint(server, ec2):
    _seed002_upto(server, ec2, 2)


# ---------------------------------------------------------------------------------------------
# Other output forms of the same examples
# ---------------------------------------------------------------------------------------------


def test_example_output_text(server, ec2):
    iid = running_instance(ec2, itype="m5.large")
    proc = server.aws(*example_argv(SEED002[0][0], iid), output="text")
    lines = proc.stdout.strip("\n").split("\n")
    # text output: top-level scalars on one line, then one line per nested structure whose
    # values are ordered by key (HttpEndpoint, HttpProtocolIpv6, HttpPutResponseHopLimit,
    # HttpTokens, InstanceMetadataTags, State).
    assert lines == [
        iid,
        "\t".join(["INSTANCEMETADATAOPTIONS", "enabled", "disabled", "1", "required",
                   "disabled", "pending"]),
    ], proc.stdout


def test_example_output_table(server, ec2):
    iid = running_instance(ec2, itype="m5.large")
    proc = server.aws(*example_argv(SEED002[1][0], iid), output="table")
    text = proc.stdout
    assert "ModifyInstanceMetadataOptions" in text
    assert "InstanceMetadataOptions" in text
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    assert rows.get("InstanceId") == iid, text
    assert rows.get("HttpEndpoint") == "disabled", text
    assert rows.get("HttpTokens") == "optional", text
    assert rows.get("State") == "pending", text
    assert rows.get("HttpPutResponseHopLimit") == "1", text


def test_example_with_query(server, ec2):
    iid = running_instance(ec2, itype="m5.large")
    proc = server.aws(*example_argv(SEED002[0][0], iid),
                      "--query", "InstanceMetadataOptions.[State,HttpTokens]", output="text")
    assert proc.stdout.split() == ["pending", "required"]
    wait_applied(ec2, iid)
    proc = server.aws("describe-instances", "--filters",
                      "Name=metadata-options.http-tokens,Values=required",
                      f"Name=instance-id,Values={iid}",
                      "--query", "Reservations[].Instances[].InstanceId", output="text")
    assert proc.stdout.split() == [iid]


def test_run_instances_example_with_query(server, ec2):
    argv = RUN_EXAMPLES[0][1]
    proc = server.aws(*argv, "--query", "Instances[0].MetadataOptions.HttpTokens", output="text")
    assert proc.stdout.strip() == "required"


def test_example_error_is_reported_by_cli(server):
    proc = server.aws(*example_argv(SEED002[0][0], "i-0123456789abcdef9"), check=False)
    assert proc.returncode in (254, 255), (proc.returncode, proc.stderr)  # v2 254, v1 255
    assert "InvalidInstanceID.NotFound" in proc.stderr
    assert "The instance ID 'i-0123456789abcdef9' does not exist" in proc.stderr


# ---------------------------------------------------------------------------------------------
# seed 003 (boto3 reference): the documented request and response syntax
# ---------------------------------------------------------------------------------------------


def test_seed003_boto3_request_and_response_syntax(ec2):
    iid = running_instance(ec2, itype="m5.large")
    resp = ec2.modify_instance_metadata_options(
        InstanceId=iid,
        HttpTokens="required",
        HttpPutResponseHopLimit=2,
        HttpEndpoint="enabled",
        DryRun=False,
        HttpProtocolIpv6="enabled",
        InstanceMetadataTags="enabled",
    )
    resp.pop("ResponseMetadata")
    assert resp == {
        "InstanceId": iid,
        "InstanceMetadataOptions": {
            "State": "pending",
            "HttpTokens": "required",
            "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled",
            "HttpProtocolIpv6": "enabled",
            "InstanceMetadataTags": "enabled",
        },
    }


def test_seed003_default_from_ami_and_account(server):
    # seed 003: "If ImdsSupport of the AMI is v2.0 and the account level default is
    # no-preference, the default is required"; with the account default "V1 or V2"
    # (optional), the default is optional.
    ec2 = server.client("ca-central-1")
    ec2.modify_instance_metadata_defaults(HttpTokens="no-preference")
    iid = run_one(ec2, image="ami-0a2c1e3f5b7d9e011")
    assert options(ec2, iid)["HttpTokens"] == "required"
    ec2.modify_instance_metadata_defaults(HttpTokens="optional")
    iid = run_one(ec2, image="ami-0a2c1e3f5b7d9e011")
    assert options(ec2, iid)["HttpTokens"] == "optional"
    ec2.modify_instance_metadata_defaults(HttpTokens="no-preference")
