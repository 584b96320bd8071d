"""The aws CLI through whole workflows, unmodified: the seed 002 examples through every output
form, run-instances --metadata-options with the CLI's waiters, --dry-run,
--generate-cli-skeleton / --cli-input-json round trips, the account defaults commands, and
the CLI's automatic pagination of a filtered describe-instances over thousands of instances.

(The seed examples in JSON, the modify examples of seeds 000/001 and the lifecycle waiters on
their own are in test_cli_examples.py and test_lifecycle.py.)
"""
from __future__ import annotations

import json

import pytest

from helpers import (
    AMI_AL2, DRY_RUN_MESSAGE, REGION, assert_options, describe_ids, options, run_ids,
    running_instance, settle, snapshot, wait_applied,
)
from test_cli_examples import EXAMPLE_ID, LATER_FIELDS, SEED002, example_argv

pytestmark = pytest.mark.cli


# ----------------------------------------------------------------------------- output forms


def _replay_before(server, ec2, n: int) -> str:
    """A Nitro instance on which the seed 002 examples before example n have run."""
    iid = running_instance(ec2, itype="m5.large")
    for command, _ in SEED002[:n]:
        server.aws_json(*example_argv(command, iid))
        wait_applied(ec2, iid)
    return iid


def _printed(n: int, iid: str) -> dict:
    return json.loads(SEED002[n][1].replace(EXAMPLE_ID, iid))


@pytest.mark.parametrize("n", range(len(SEED002)), ids=["example1", "example2", "example3"])
def test_seed002_example_as_text(server, ec2, n):
    """--output text: the instance id, then INSTANCEMETADATAOPTIONS and the values ordered by
    key; every printed field of the example is in its column."""
    iid = _replay_before(server, ec2, n)
    proc = server.aws(*example_argv(SEED002[n][0], iid), output="text")
    printed = _printed(n, iid)
    lines = proc.stdout.strip("\n").split("\n")
    assert lines[0] == iid, proc.stdout
    cells = lines[1].split("\t")
    assert cells[0] == "INSTANCEMETADATAOPTIONS", proc.stdout
    keys = sorted(set(printed["InstanceMetadataOptions"]) | LATER_FIELDS)
    got = dict(zip(keys, cells[1:]))
    assert len(cells) - 1 == len(keys), proc.stdout
    for key, value in printed["InstanceMetadataOptions"].items():
        assert got[key] == str(value), f"{key}: {got[key]!r} != printed {value!r}"


@pytest.mark.parametrize("n", range(len(SEED002)), ids=["example1", "example2", "example3"])
def test_seed002_example_as_table(server, ec2, n):
    """--output table: a ModifyInstanceMetadataOptions table with the InstanceId row and an
    InstanceMetadataOptions table holding every printed field."""
    iid = _replay_before(server, ec2, n)
    proc = server.aws(*example_argv(SEED002[n][0], iid), output="table")
    printed = _printed(n, iid)
    assert "ModifyInstanceMetadataOptions" in proc.stdout
    rows = {}
    for line in proc.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    assert rows["InstanceId"] == iid, proc.stdout
    for key, value in printed["InstanceMetadataOptions"].items():
        assert rows.get(key) == str(value), f"{key}: {rows.get(key)!r} != printed {value!r}"


@pytest.mark.parametrize("n", range(len(SEED002)), ids=["example1", "example2", "example3"])
def test_seed002_example_with_query(server, ec2, n):
    """--query on the example's output, as JSON and as text."""
    iid = _replay_before(server, ec2, n)
    printed = _printed(n, iid)["InstanceMetadataOptions"]
    fields = list(printed)
    proc = server.aws(*example_argv(SEED002[n][0], iid),
                      "--query", f"InstanceMetadataOptions.[{','.join(fields)}]",
                      output="text")
    assert proc.stdout.split() == [str(printed[f]) for f in fields]
    wait_applied(ec2, iid)
    # The same example again (nothing left to change) through a JSON query.
    got = server.aws_json(*example_argv(SEED002[n][0], iid),
                          "--query", "InstanceMetadataOptions")
    assert {k: got[k] for k in printed} == printed
    assert set(got) - set(printed) <= LATER_FIELDS


# ----------------------------------------------------------------------------- workflows


def test_run_instances_metadata_options_and_waiters(server, ec2):
    """run-instances --metadata-options (shorthand and JSON), then the CLI's own waiters
    through running, stopped and terminated, with a filtered describe in between."""
    out = server.aws_json(
        "run-instances", "--image-id", AMI_AL2, "--instance-type", "t3.micro", "--count", "2",
        "--metadata-options", "HttpTokens=required,HttpPutResponseHopLimit=2,"
                              "HttpEndpoint=enabled,InstanceMetadataTags=enabled",
        "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli-fleet}]")
    ids = [i["InstanceId"] for i in out["Instances"]]
    assert len(ids) == 2
    for inst in out["Instances"]:
        assert inst["MetadataOptions"] == {
            "State": "pending", "HttpTokens": "required", "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled",
            "InstanceMetadataTags": "enabled"}
    legacy = server.aws_json(
        "run-instances", "--image-id", AMI_AL2, "--instance-type", "t3.micro",
        "--metadata-options", json.dumps({"HttpTokens": "optional"}),
        "--tag-specifications", "ResourceType=instance,Tags=[{Key=Name,Value=cli-fleet}]",
        "--query", "Instances[0].InstanceId")
    server.aws("wait", "instance-running", "--instance-ids", *ids, legacy, output=None)
    found = server.aws_json(
        "describe-instances", "--filters", "Name=tag:Name,Values=cli-fleet",
        "Name=metadata-options.http-tokens,Values=required",
        "--query", "Reservations[].Instances[].InstanceId")
    assert sorted(found) == sorted(ids)
    server.aws("stop-instances", "--instance-ids", *ids)
    server.aws("wait", "instance-stopped", "--instance-ids", *ids, output=None)
    states = server.aws_json("describe-instances", "--instance-ids", *ids,
                             "--query", "Reservations[].Instances[].State.Name")
    assert states == ["stopped", "stopped"]
    server.aws("terminate-instances", "--instance-ids", *ids, legacy)
    server.aws("wait", "instance-terminated", "--instance-ids", *ids, legacy, output=None)
    states = server.aws_json("describe-instances", "--instance-ids", *ids, legacy,
                             "--query", "Reservations[].Instances[].State.Name")
    assert states == ["terminated"] * 3


def _cli_error(proc, code: str, message: str | None = None) -> None:
    assert proc.returncode in (254, 255), (proc.returncode, proc.stderr)
    assert f"({code})" in proc.stderr, proc.stderr
    if message:
        assert message in proc.stderr, proc.stderr


def test_dry_run_through_the_cli(server, ec2):
    """--dry-run: the CLI reports DryRunOperation and nothing changes."""
    iid = running_instance(ec2)
    settle(ec2)
    before = snapshot(ec2)
    for argv in (
        ["run-instances", "--image-id", AMI_AL2, "--metadata-options", "HttpTokens=required",
         "--dry-run"],
        ["modify-instance-metadata-options", "--instance-id", iid, "--http-tokens",
         "required", "--dry-run"],
        ["modify-instance-metadata-defaults", "--http-tokens", "required", "--dry-run"],
        ["get-instance-metadata-defaults", "--dry-run"],
        ["describe-instances", "--instance-ids", iid, "--dry-run"],
        ["stop-instances", "--instance-ids", iid, "--dry-run"],
    ):
        _cli_error(server.aws(*argv, check=False), "DryRunOperation", DRY_RUN_MESSAGE)
    assert snapshot(ec2) == before
    # Validation comes before the dry-run answer.
    proc = server.aws("modify-instance-metadata-options", "--instance-id", iid,
                      "--http-put-response-hop-limit", "99", "--dry-run", check=False)
    _cli_error(proc, "InvalidParameterValue")


def _skeleton(server, command: str, which: str = "input", *required: str) -> dict:
    """The CLI's skeleton (v1 wants the required arguments even for the output skeleton;
    no request is sent either way)."""
    proc = server.aws(command, "--generate-cli-skeleton", which, *required, output=None)
    return json.loads(proc.stdout)


def _fill(skeleton: dict, values: dict) -> dict:
    """The skeleton with only the given members (each must be one of the skeleton's)."""
    for key, value in values.items():
        assert key in skeleton, f"{key} not in the skeleton {sorted(skeleton)}"
        if isinstance(value, dict):
            assert set(value) <= set(skeleton[key]), (value, skeleton[key])
    return values


def _output_keys_conform(output: dict, skeleton: dict, path: str = "") -> None:
    """Every key of a real output is in the output skeleton, recursively."""
    for key, value in output.items():
        assert key in skeleton, f"{path}{key} not in the output skeleton {sorted(skeleton)}"
        sub = skeleton[key]
        if isinstance(value, dict) and isinstance(sub, dict):
            _output_keys_conform(value, sub, f"{path}{key}.")
        elif isinstance(value, list) and value and isinstance(sub, list) and sub \
                and isinstance(value[0], dict) and isinstance(sub[0], dict):
            _output_keys_conform(value[0], sub[0], f"{path}{key}[].")


def test_cli_input_json_round_trip_run_instances(server, ec2, tmp_path):
    """--generate-cli-skeleton input, filled in, back through --cli-input-json; the output
    fits --generate-cli-skeleton output."""
    skeleton = _skeleton(server, "run-instances")
    doc = _fill(skeleton, {
        "ImageId": AMI_AL2, "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 3,
                            "HttpEndpoint": "enabled", "InstanceMetadataTags": "disabled"},
        "TagSpecifications": [{"ResourceType": "instance",
                               "Tags": [{"Key": "Name", "Value": "from-skeleton"}]}],
    })
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    out = server.aws_json("run-instances", "--cli-input-json", f"file://{path}")
    iid = out["Instances"][0]["InstanceId"]
    assert_options(options(ec2, iid), HttpTokens="required", HttpPutResponseHopLimit=3,
                   HttpEndpoint="enabled", InstanceMetadataTags="disabled")
    _output_keys_conform(out, _skeleton(server, "run-instances", "output"))
    # The same document with a command-line argument on top: the argument wins.
    out = server.aws_json("run-instances", "--cli-input-json", f"file://{path}",
                          "--instance-type", "m5.large")
    assert out["Instances"][0]["InstanceType"] == "m5.large"


def test_cli_input_json_round_trip_modify_options(server, ec2, tmp_path):
    iid = running_instance(ec2)
    skeleton = _skeleton(server, "modify-instance-metadata-options")
    assert {"InstanceId", "HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint",
            "HttpProtocolIpv6", "InstanceMetadataTags", "DryRun"} <= set(skeleton)
    assert "HttpTokensEnforced" not in skeleton
    doc = _fill(skeleton, {"InstanceId": iid, "HttpTokens": "required",
                           "HttpPutResponseHopLimit": 2})
    path = tmp_path / "modify.json"
    path.write_text(json.dumps(doc))
    out = server.aws_json("modify-instance-metadata-options", "--cli-input-json",
                          f"file://{path}")
    assert out["InstanceMetadataOptions"]["State"] == "pending"
    assert_options(out["InstanceMetadataOptions"], HttpTokens="required",
                   HttpPutResponseHopLimit=2, HttpEndpoint="enabled")
    _output_keys_conform(out, _skeleton(server, "modify-instance-metadata-options", "output",
                                        "--instance-id", iid))
    assert_options(wait_applied(ec2, iid), HttpTokens="required", HttpPutResponseHopLimit=2)
    # A skeleton member the action does not have is refused by the CLI before any request.
    path.write_text(json.dumps({"InstanceId": iid, "HttpTokensEnforced": "enabled"}))
    proc = server.aws("modify-instance-metadata-options", "--cli-input-json",
                      f"file://{path}", check=False)
    assert proc.returncode != 0 and "HttpTokensEnforced" in proc.stderr, proc.stderr


def test_metadata_defaults_commands(server, tmp_path):
    """modify-instance-metadata-defaults / get-instance-metadata-defaults in every output
    form, and through --cli-input-json."""
    region = "eu-north-1"
    out = server.aws_json("modify-instance-metadata-defaults", "--http-tokens", "required",
                          "--http-put-response-hop-limit", "2", region=region)
    assert out == {"Return": True}
    got = server.aws_json("get-instance-metadata-defaults", region=region)
    assert got == {"AccountLevel": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                                    "ManagedBy": "account"}}
    text = server.aws("get-instance-metadata-defaults", "--query",
                      "AccountLevel.[HttpTokens,HttpPutResponseHopLimit]",
                      region=region, output="text").stdout
    assert text.split() == ["required", "2"]
    table = server.aws("get-instance-metadata-defaults", region=region, output="table").stdout
    assert "GetInstanceMetadataDefaults" in table and "required" in table, table
    path = tmp_path / "defaults.json"
    skeleton = _skeleton(server, "modify-instance-metadata-defaults")
    path.write_text(json.dumps(_fill(skeleton, {"HttpTokensEnforced": "enabled",
                                                "HttpPutResponseHopLimit": -1})))
    server.aws("modify-instance-metadata-defaults", "--cli-input-json", f"file://{path}",
               region=region)
    got = server.aws_json("get-instance-metadata-defaults", region=region)
    assert got == {"AccountLevel": {"HttpTokens": "required", "HttpTokensEnforced": "enabled",
                                    "ManagedBy": "account"}}
    # Enforcement holds for the CLI as for any client.
    proc = server.aws("run-instances", "--image-id", AMI_AL2, "--metadata-options",
                      "HttpTokens=optional", region=region, check=False)
    _cli_error(proc, "UnsupportedOperation", "httpTokensEnforced is enabled")
    for field in ("--http-tokens", "--http-tokens-enforced"):
        server.aws("modify-instance-metadata-defaults", field, "no-preference", region=region)
    server.aws("modify-instance-metadata-defaults", "--http-put-response-hop-limit", "-1",
               region=region)
    assert server.aws_json("get-instance-metadata-defaults", region=region) == {
        "AccountLevel": {"ManagedBy": "account"}}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cli_paginates_filtered_describe_over_thousands(fresh_server):
    """2500 instances, 1000 of them with IMDSv2 required: describe-instances with the
    metadata-options.http-tokens filter pages through all of them (--page-size) and returns
    exactly the 1000; --max-items / --starting-token stop and resume where they stopped."""
    ec2 = fresh_server.client(REGION)
    # The required ones in 40 reservations of 25: the CLI's --max-items counts reservations.
    required = set()
    for _ in range(40):
        required |= set(run_ids(ec2, 25, metadata={"HttpTokens": "required"}))
    optional = set(run_ids(ec2, 1000, metadata={"HttpTokens": "optional"}))
    optional |= set(run_ids(ec2, 500))
    assert len(required) == 1000 and len(optional) == 1500
    query = "Reservations[].Instances[].InstanceId"
    flt = "Name=metadata-options.http-tokens,Values=required"
    ids = fresh_server.aws_json("describe-instances", "--filters", flt, "--page-size", "150",
                                "--query", query)
    assert len(ids) == 1000 and set(ids) == required, "every match exactly once"
    text = fresh_server.aws("describe-instances", "--filters", flt, "--page-size", "400",
                            "--query", query, output="text").stdout.split()
    assert sorted(text) == sorted(required)
    # CLI-side pagination: the first 24 reservations (600 instances), then the rest from the
    # token the CLI printed.
    first = fresh_server.aws_json("describe-instances", "--filters", flt, "--page-size", "250",
                                  "--max-items", "24")
    first_ids = [i["InstanceId"] for r in first["Reservations"] for i in r["Instances"]]
    assert len(first_ids) == 600 and "NextToken" in first
    rest = fresh_server.aws_json("describe-instances", "--filters", flt, "--page-size", "250",
                                 "--starting-token", first["NextToken"], "--query", query)
    assert len(rest) == 400 and set(first_ids) | set(rest) == required
    assert not set(first_ids) & set(rest)
    # Both values of the filter: everything.
    both = fresh_server.aws_json("describe-instances", "--filters",
                                 "Name=metadata-options.http-tokens,Values=required,optional",
                                 "--page-size", "1000", "--query", query)
    assert len(both) == 2500
    assert describe_ids(ec2, {"metadata-options.http-tokens": "optional"}) == optional
