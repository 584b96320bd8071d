"""DescribeInstances: ids, filters (every metadata-options.* filter, wildcards, OR/AND),
reservations, pagination (MaxResults rules, NextToken walk, thousands of instances)."""
from __future__ import annotations

import json
import uuid

import pytest

from helpers import (
    ACCOUNT, AMI_AL2, AMI_AL2023, AMI_UBUNTU, REGION, RESERVATION_ID_RE, describe,
    describe_ids, ec2_error, expect_raw_error, raw, run_ids, run_one,
    running_instance, stopped_instance, wait_applied, wait_state,
)


def got_and_check(ec2, filters, mine: set[str], predicate) -> set[str]:
    """Ids of *mine* returned by the filter; also checks every returned instance (mine or
    another test's) satisfies the predicate."""
    insts = describe(ec2, filters=filters)
    bad = [i["InstanceId"] for i in insts if not predicate(i)]
    assert not bad, f"{filters} returned non-matching instances {bad}"
    return {i["InstanceId"] for i in insts} & mine


def tags_of(inst) -> dict:
    return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}


# ----------------------------------------------------------------------------- by id


def test_describe_by_ids(ec2):
    ids = run_ids(ec2, 3)
    assert describe_ids(ec2, ids=ids[:2]) == set(ids[:2])
    assert describe_ids(ec2, ids=[ids[2]]) == {ids[2]}


def test_describe_unknown_id_fails_whole_call(ec2):
    iid = run_one(ec2)
    with ec2_error("InvalidInstanceID.NotFound", 400,
                   "The instance ID 'i-0123456789abcdef9' does not exist"):
        ec2.describe_instances(InstanceIds=[iid, "i-0123456789abcdef9"])


def test_describe_two_unknown_ids_names_both(ec2):
    with ec2_error("InvalidInstanceID.NotFound", 400) as e:
        ec2.describe_instances(InstanceIds=["i-0123456789abcdef8", "i-0123456789abcdef9"])
    msg = e.value.response["Error"]["Message"]
    assert "i-0123456789abcdef8" in msg and "i-0123456789abcdef9" in msg


def test_describe_malformed_id(ec2):
    with ec2_error("InvalidInstanceID.Malformed", 400, 'Invalid id: "i-nothex"'):
        ec2.describe_instances(InstanceIds=["i-nothex"])


def test_describe_empty_instance_id(server):
    resp = raw(server.endpoint, {"Action": "DescribeInstances", "InstanceId.1": ""})
    expect_raw_error(resp, "MissingParameter", 400,
                     "The request must contain the parameter InstanceId")


def test_other_regions_are_separate(server):
    west = server.client("us-east-2")
    iid = run_one(west)
    assert iid in describe_ids(west)
    other = server.client("eu-west-3")
    assert iid not in describe_ids(other)
    with ec2_error("InvalidInstanceID.NotFound", 400):
        other.describe_instances(InstanceIds=[iid])


def test_reservation_groups_one_launch(ec2):
    resp = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=3, MaxCount=3)
    ids = {i["InstanceId"] for i in resp["Instances"]}
    found = ec2.describe_instances(InstanceIds=sorted(ids))["Reservations"]
    assert len(found) == 1
    assert found[0]["ReservationId"] == resp["ReservationId"]
    assert RESERVATION_ID_RE.match(found[0]["ReservationId"])
    assert found[0]["OwnerId"] == ACCOUNT
    assert {i["InstanceId"] for i in found[0]["Instances"]} == ids


# ----------------------------------------------------------------------------- filters


def test_filter_instance_id(ec2):
    a, b, c = run_ids(ec2, 3)
    assert describe_ids(ec2, filters={"instance-id": [a, c]}) == {a, c}
    assert describe_ids(ec2, filters={"instance-id": "i-0123456789abcdef9"}) == set()


def test_filter_instance_state_name(ec2):
    run_ = running_instance(ec2)
    stop = stopped_instance(ec2)
    mine = {run_, stop}
    assert got_and_check(ec2, {"instance-state-name": "running"}, mine,
                         lambda i: i["State"]["Name"] == "running") == {run_}
    assert got_and_check(ec2, {"instance-state-name": "stopped"}, mine,
                         lambda i: i["State"]["Name"] == "stopped") == {stop}
    assert got_and_check(ec2, {"instance-state-name": ["running", "stopped"]}, mine,
                         lambda i: i["State"]["Name"] in ("running", "stopped")) == mine


def test_filter_instance_type_with_wildcards(ec2):
    ids = {t: run_one(ec2, itype=t) for t in ("t3.micro", "t3.small", "m5.large", "t2.micro")}
    mine = set(ids.values())
    assert got_and_check(ec2, {"instance-type": "m5.large"}, mine,
                         lambda i: i["InstanceType"] == "m5.large") == {ids["m5.large"]}
    assert got_and_check(ec2, {"instance-type": "t3.*"}, mine,
                         lambda i: i["InstanceType"].startswith("t3.")) == {
        ids["t3.micro"], ids["t3.small"]}
    assert got_and_check(ec2, {"instance-type": "t?.micro"}, mine,
                         lambda i: i["InstanceType"] in ("t2.micro", "t3.micro",
                                                         "t4g.micro")) == {
        ids["t3.micro"], ids["t2.micro"]}
    # `?` is exactly one character
    assert got_and_check(ec2, {"instance-type": "m?.large"}, mine,
                         lambda i: len(i["InstanceType"]) == 8) == {ids["m5.large"]}
    assert got_and_check(ec2, {"instance-type": "*"}, mine, lambda i: True) == mine


def test_filter_image_id(ec2):
    ids = {img: run_one(ec2, image=img) for img in (AMI_AL2, AMI_AL2023, AMI_UBUNTU)}
    mine = set(ids.values())
    assert got_and_check(ec2, {"image-id": AMI_AL2023}, mine,
                         lambda i: i["ImageId"] == AMI_AL2023) == {ids[AMI_AL2023]}
    assert got_and_check(ec2, {"image-id": [AMI_AL2, AMI_UBUNTU]}, mine,
                         lambda i: i["ImageId"] in (AMI_AL2, AMI_UBUNTU)) == {
        ids[AMI_AL2], ids[AMI_UBUNTU]}


def test_filter_tags(ec2):
    key = f"team-{uuid.uuid4().hex[:6]}"
    web = run_one(ec2, tags={key: "web-frontend", "Name": "w"})
    api = run_one(ec2, tags={key: "api"})
    none = run_one(ec2, tags={"other": "x"})
    mine = {web, api, none}
    assert got_and_check(ec2, {f"tag:{key}": "api"}, mine,
                         lambda i: tags_of(i).get(key) == "api") == {api}
    assert got_and_check(ec2, {f"tag:{key}": "web-*"}, mine,
                         lambda i: tags_of(i).get(key, "").startswith("web-")) == {web}
    assert got_and_check(ec2, {f"tag:{key}": ["api", "web-frontend"]}, mine,
                         lambda i: key in tags_of(i)) == {web, api}
    assert got_and_check(ec2, {"tag-key": key}, mine, lambda i: key in tags_of(i)) == {web, api}
    assert got_and_check(ec2, {"tag-key": f"{key[:-2]}*"}, mine,
                         lambda i: any(k.startswith(key[:-2]) for k in tags_of(i))) == {web, api}
    assert describe_ids(ec2, filters={f"tag:{key}": "nope"}) == set()


def _option_fleet(ec2):
    """Instances covering both values of every option, running and applied, plus one
    stopped instance with a pending change."""
    fleet = {
        "default": running_instance(ec2, itype="m5.large"),
        "required": running_instance(ec2, itype="m5.large",
                                     metadata={"HttpTokens": "required"}),
        "hop7": running_instance(ec2, itype="m5.large",
                                 metadata={"HttpPutResponseHopLimit": 7}),
        "hop17": running_instance(ec2, itype="m5.large",
                                  metadata={"HttpPutResponseHopLimit": 17}),
        "disabled": running_instance(ec2, itype="m5.large",
                                     metadata={"HttpEndpoint": "disabled"}),
        "ipv6": running_instance(ec2, itype="m5.large", metadata={"HttpProtocolIpv6": "enabled"}),
        "tags": running_instance(ec2, itype="m5.large",
                                 metadata={"InstanceMetadataTags": "enabled"}),
    }
    fleet["pending"] = stopped_instance(ec2, itype="m5.large")
    ec2.modify_instance_metadata_options(InstanceId=fleet["pending"], HttpPutResponseHopLimit=9)
    return fleet


@pytest.fixture(scope="module")
def option_fleet(ec2):
    return _option_fleet(ec2)


def opt(i, key):
    return i["MetadataOptions"][key]


@pytest.mark.parametrize("name,value,expected_keys,predicate", [
    ("metadata-options.http-tokens", "required", {"required"},
     lambda i: opt(i, "HttpTokens") == "required"),
    ("metadata-options.http-tokens", "optional",
     {"default", "hop7", "hop17", "disabled", "ipv6", "tags", "pending"},
     lambda i: opt(i, "HttpTokens") == "optional"),
    ("metadata-options.http-put-response-hop-limit", "7", {"hop7"},
     lambda i: opt(i, "HttpPutResponseHopLimit") == 7),
    # compared as text: "1?" matches 10..19 but not 1 or 7
    ("metadata-options.http-put-response-hop-limit", "1?", {"hop17"},
     lambda i: 10 <= opt(i, "HttpPutResponseHopLimit") <= 19),
    ("metadata-options.http-put-response-hop-limit", "*7", {"hop7", "hop17"},
     lambda i: str(opt(i, "HttpPutResponseHopLimit")).endswith("7")),
    ("metadata-options.http-endpoint", "disabled", {"disabled"},
     lambda i: opt(i, "HttpEndpoint") == "disabled"),
    ("metadata-options.http-endpoint", "enabled",
     {"default", "required", "hop7", "hop17", "ipv6", "tags", "pending"},
     lambda i: opt(i, "HttpEndpoint") == "enabled"),
    ("metadata-options.http-protocol-ipv6", "enabled", {"ipv6"},
     lambda i: opt(i, "HttpProtocolIpv6") == "enabled"),
    ("metadata-options.http-protocol-ipv6", "disabled",
     {"default", "required", "hop7", "hop17", "disabled", "tags", "pending"},
     lambda i: opt(i, "HttpProtocolIpv6") == "disabled"),
    ("metadata-options.instance-metadata-tags", "enabled", {"tags"},
     lambda i: opt(i, "InstanceMetadataTags") == "enabled"),
    ("metadata-options.instance-metadata-tags", "disabled",
     {"default", "required", "hop7", "hop17", "disabled", "ipv6", "pending"},
     lambda i: opt(i, "InstanceMetadataTags") == "disabled"),
    ("metadata-options.state", "pending", {"pending"},
     lambda i: opt(i, "State") == "pending"),
    ("metadata-options.state", "applied",
     {"default", "required", "hop7", "hop17", "disabled", "ipv6", "tags"},
     lambda i: opt(i, "State") == "applied"),
    ("metadata-options.state", "p*", {"pending"},
     lambda i: opt(i, "State") == "pending"),
])
def test_metadata_option_filters(ec2, option_fleet, name, value, expected_keys, predicate):
    mine = set(option_fleet.values())
    got = got_and_check(ec2, {name: value}, mine, predicate)
    assert got == {option_fleet[k] for k in expected_keys}


def test_filter_http_protocol_ipv4(ec2, option_fleet):
    # No response field carries it: IPv4 IMDS is on whenever the endpoint is enabled (§2).
    # An endpoint-enabled instance matches "enabled" and not "disabled"; what an
    # endpoint-disabled instance reports is not pinned down by the spec.
    enabled = describe_ids(ec2, filters={"metadata-options.http-protocol-ipv4": "enabled"})
    disabled = describe_ids(ec2, filters={"metadata-options.http-protocol-ipv4": "disabled"})
    assert option_fleet["default"] in enabled
    assert option_fleet["required"] in enabled
    assert option_fleet["default"] not in disabled
    assert not enabled & disabled


def test_several_values_or_several_filters_and(ec2, option_fleet):
    mine = set(option_fleet.values())
    f = option_fleet
    got = got_and_check(
        ec2, {"metadata-options.http-put-response-hop-limit": ["7", "17", "9"]}, mine,
        lambda i: opt(i, "HttpPutResponseHopLimit") in (7, 17, 9))
    assert got == {f["hop7"], f["hop17"], f["pending"]}
    got = got_and_check(
        ec2, {"metadata-options.http-put-response-hop-limit": ["7", "17", "9"],
              "metadata-options.state": "applied"}, mine,
        lambda i: opt(i, "HttpPutResponseHopLimit") in (7, 17) and opt(i, "State") == "applied")
    assert got == {f["hop7"], f["hop17"]}
    got = got_and_check(
        ec2, {"metadata-options.http-put-response-hop-limit": ["7", "17", "9"],
              "metadata-options.state": "applied",
              "instance-id": [f["hop17"], f["default"]]}, mine,
        lambda i: i["InstanceId"] == f["hop17"])
    assert got == {f["hop17"]}
    # Filter by id AND InstanceIds
    got = describe_ids(ec2, ids=[f["hop7"], f["hop17"]],
                       filters={"metadata-options.http-put-response-hop-limit": "7"})
    assert got == {f["hop7"]}


def test_state_filter_follows_apply(ec2):
    iid = running_instance(ec2)
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    assert iid in describe_ids(ec2, filters={"metadata-options.state": "pending"})
    ec2.start_instances(InstanceIds=[iid])
    wait_applied(ec2, iid)
    assert iid in describe_ids(ec2, filters={"metadata-options.state": "applied"})
    assert iid not in describe_ids(ec2, filters={"metadata-options.state": "pending"})


@pytest.mark.parametrize("name", ["x", "metadata-options.bogus", "metadata-options", "tag"])
def test_unknown_filter(ec2, name):
    with ec2_error("InvalidParameterValue", 400, f"The filter '{name}' is invalid"):
        ec2.describe_instances(Filters=[{"Name": name, "Values": ["x"]}])


# ----------------------------------------------------------------------------- pagination


@pytest.mark.parametrize("value", [-1, 0, 4])
def test_max_results_below_5(server, value):
    ec2 = server.client(REGION, validate=False)
    with ec2_error("InvalidParameterValue", 400,
                   f"Value ( {value} ) for parameter maxResults is invalid. "
                   "Expecting a value greater than 5."):
        ec2.describe_instances(MaxResults=value)


@pytest.mark.parametrize("value", [1001, 5000])
def test_max_results_above_1000(server, value):
    ec2 = server.client(REGION, validate=False)
    with ec2_error("InvalidParameterValue", 400):
        ec2.describe_instances(MaxResults=value)
    assert "Reservations" in ec2.describe_instances(MaxResults=1000)  # the bound itself is fine


def test_max_results_bounds_are_accepted(fresh_ec2):
    ids = set(run_ids(fresh_ec2, 6))
    five = fresh_ec2.describe_instances(MaxResults=5)
    assert sum(len(r["Instances"]) for r in five["Reservations"]) == 5
    assert five.get("NextToken")
    thousand = fresh_ec2.describe_instances(MaxResults=1000)
    got = {i["InstanceId"] for r in thousand["Reservations"] for i in r["Instances"]}
    assert got == ids
    assert "NextToken" not in thousand


def test_max_results_on_empty_region(fresh_server):
    ec2 = fresh_server.client("eu-north-1")
    resp = ec2.describe_instances(MaxResults=5)
    assert resp["Reservations"] == []
    assert "NextToken" not in resp


def test_next_token_walk(fresh_ec2):
    ec2 = fresh_ec2
    ids = set(run_ids(ec2, 7)) | set(run_ids(ec2, 5))  # two reservations, 12 instances
    seen: list[str] = []
    pages = 0
    token = None
    while True:
        kw = {"MaxResults": 5} | ({"NextToken": token} if token else {})
        resp = ec2.describe_instances(**kw)
        page = [i["InstanceId"] for r in resp["Reservations"] for i in r["Instances"]]
        assert len(page) <= 5
        seen += page
        pages += 1
        token = resp.get("NextToken")
        if not token:
            break
        assert pages < 10
    assert pages == 3
    assert sorted(seen) == sorted(ids), "every instance exactly once"


def test_next_token_walk_with_filter(fresh_ec2):
    ec2 = fresh_ec2
    tagged = set(run_ids(ec2, 6, tags={"walk": "yes"}))
    run_ids(ec2, 6, tags={"walk": "no"})
    seen: list[str] = []
    token = None
    for _ in range(20):
        kw = {"MaxResults": 5, "Filters": [{"Name": "tag:walk", "Values": ["yes"]}]}
        if token:
            kw["NextToken"] = token
        resp = ec2.describe_instances(**kw)
        page = [i["InstanceId"] for r in resp["Reservations"] for i in r["Instances"]]
        assert len(page) <= 5
        seen += page
        token = resp.get("NextToken")
        if not token:
            break
    assert token is None
    assert sorted(seen) == sorted(tagged)


@pytest.mark.parametrize("token", ["garbage", "AAAA", "eyJvZmZzZXQiOiAtMX0=", "x" * 2000])
def test_bad_next_token(ec2, token):
    with ec2_error("InvalidPaginationToken", 400):
        ec2.describe_instances(MaxResults=5, NextToken=token)


def test_paginator(fresh_ec2):
    ids = set(run_ids(fresh_ec2, 23))
    pages = list(fresh_ec2.get_paginator("describe_instances").paginate(
        PaginationConfig={"PageSize": 5}))
    got = [i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]]
    assert len(pages) == 5
    assert sorted(got) == sorted(ids)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_thousands_of_instances(fresh_server):
    ec2 = fresh_server.client(REGION)
    ids: list[str] = []
    for _ in range(3):
        resp = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro",
                                 MinCount=1000, MaxCount=1000)
        assert len(resp["Instances"]) == 1000
        ids += [i["InstanceId"] for i in resp["Instances"]]
    assert len(set(ids)) == 3000

    # boto3 paginator
    got = []
    npages = 0
    for page in ec2.get_paginator("describe_instances").paginate(
            PaginationConfig={"PageSize": 700}):
        npages += 1
        got += [i["InstanceId"] for r in page["Reservations"] for i in r["Instances"]]
    assert npages == 5
    assert len(got) == 3000 and set(got) == set(ids), "every instance exactly once"

    # aws CLI automatic pagination
    proc = fresh_server.aws("describe-instances", "--page-size", "1000",
                            "--query", "Reservations[].Instances[].InstanceId")
    cli_ids = json.loads(proc.stdout)
    assert len(cli_ids) == 3000 and set(cli_ids) == set(ids)

    # and the unpaginated call returns everything at once
    assert len(describe_ids(ec2)) == 3000


def test_describe_instance_status_pages_and_filters(fresh_ec2):
    """DescribeInstanceStatus: running instances only by default, all with
    IncludeAllInstances; MaxResults/NextToken walk every status exactly once."""
    ids = run_ids(fresh_ec2, 7)
    for iid in ids:
        wait_state(fresh_ec2, iid, "running")
    stopped = ids[0]
    fresh_ec2.stop_instances(InstanceIds=[stopped])
    wait_state(fresh_ec2, stopped, "stopped")
    seen, token = [], None
    while True:
        kw = {"MaxResults": 5, **({"NextToken": token} if token else {})}
        page = fresh_ec2.describe_instance_status(**kw)
        assert len(page["InstanceStatuses"]) <= 5
        seen += [s["InstanceId"] for s in page["InstanceStatuses"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids[1:]), "running ones, each once"
    everything = fresh_ec2.describe_instance_status(IncludeAllInstances=True)["InstanceStatuses"]
    by_id = {s["InstanceId"]: s for s in everything}
    assert set(by_id) == set(ids)
    assert by_id[stopped]["InstanceState"] == {"Code": 80, "Name": "stopped"}
    assert by_id[ids[1]]["InstanceStatus"]["Status"] == "ok"
    only_stopped = fresh_ec2.describe_instance_status(
        IncludeAllInstances=True, Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}])
    assert [s["InstanceId"] for s in only_stopped["InstanceStatuses"]] == [stopped]
    with ec2_error("InvalidPaginationToken", 400):
        fresh_ec2.describe_instance_status(MaxResults=5, NextToken="bogus")
