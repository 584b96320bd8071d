"""Account-level defaults (Get/ModifyInstanceMetadataDefaults) and the order of precedence
at launch (spec §5, §7)."""
from __future__ import annotations

import pytest

from helpers import (
    AMI_AL2, AMI_AL2023, BUILTIN_OPTS, ENFORCED_MESSAGE, assert_options, assert_stays,
    describe, ec2_error, options, raw, run, running_instance, wait_applied,
)

FIELDS = ("HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint", "InstanceMetadataTags",
          "HttpTokensEnforced")
CLEAR_ALL = {"HttpTokens": "no-preference", "HttpPutResponseHopLimit": -1,
             "HttpEndpoint": "no-preference", "InstanceMetadataTags": "no-preference",
             "HttpTokensEnforced": "no-preference"}


def level(ec2) -> dict:
    return ec2.get_instance_metadata_defaults().get("AccountLevel", {})


def setting(ec2, **kw):
    resp = ec2.modify_instance_metadata_defaults(**kw)
    assert resp["Return"] is True
    return resp


def test_fresh_account_has_no_defaults(fresh_server):
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        got = level(fresh_server.client(region))
        assert not {k: v for k, v in got.items() if k in FIELDS}, got
    # (and the call does report defaults once there are some)
    west = fresh_server.client("us-west-2")
    setting(west, HttpTokens="required")
    assert level(west).get("HttpTokens") == "required"
    assert "HttpTokens" not in level(fresh_server.client("us-east-1"))


def test_every_field(fresh_ec2):
    setting(fresh_ec2, HttpTokens="required", HttpPutResponseHopLimit=4,
            HttpEndpoint="disabled", InstanceMetadataTags="enabled",
            HttpTokensEnforced="disabled")
    got = level(fresh_ec2)
    assert {k: got.get(k) for k in FIELDS} == {
        "HttpTokens": "required", "HttpPutResponseHopLimit": 4, "HttpEndpoint": "disabled",
        "InstanceMetadataTags": "enabled", "HttpTokensEnforced": "disabled"}
    assert got.get("ManagedBy") == "account"
    assert "ManagedExceptionMessage" not in got


@pytest.mark.parametrize("field,value", [
    ("HttpTokens", "optional"), ("HttpTokens", "required"),
    ("HttpPutResponseHopLimit", 1), ("HttpPutResponseHopLimit", 64),
    ("HttpEndpoint", "enabled"), ("HttpEndpoint", "disabled"),
    ("InstanceMetadataTags", "enabled"), ("InstanceMetadataTags", "disabled"),
    ("HttpTokensEnforced", "enabled"), ("HttpTokensEnforced", "disabled"),
])
def test_single_field_round_trip(server, field, value):
    ec2 = server.client("ap-northeast-1")
    setting(ec2, **CLEAR_ALL)
    setting(ec2, **{field: value})
    got = level(ec2)
    assert {k: got[k] for k in FIELDS if k in got} == {field: value}
    setting(ec2, **CLEAR_ALL)


def test_omitted_fields_are_kept(fresh_ec2):
    setting(fresh_ec2, HttpTokens="required", HttpPutResponseHopLimit=3)
    setting(fresh_ec2, HttpEndpoint="disabled")
    got = level(fresh_ec2)
    assert {k: got.get(k) for k in ("HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint")} \
        == {"HttpTokens": "required", "HttpPutResponseHopLimit": 3, "HttpEndpoint": "disabled"}


def test_no_preference_clears(fresh_ec2):
    setting(fresh_ec2, HttpTokens="required", HttpPutResponseHopLimit=3,
            HttpEndpoint="disabled", InstanceMetadataTags="enabled",
            HttpTokensEnforced="enabled")
    setting(fresh_ec2, HttpTokens="no-preference", HttpEndpoint="no-preference")
    got = level(fresh_ec2)
    assert "HttpTokens" not in got and "HttpEndpoint" not in got
    assert got["HttpPutResponseHopLimit"] == 3
    setting(fresh_ec2, HttpPutResponseHopLimit=-1, InstanceMetadataTags="no-preference",
            HttpTokensEnforced="no-preference")
    got = level(fresh_ec2)
    assert not {k: v for k, v in got.items() if k in FIELDS}, got


def test_defaults_are_per_region(server):
    west = server.client("us-west-1")
    east = server.client("eu-west-2")
    setting(west, HttpTokens="required", HttpPutResponseHopLimit=5)
    assert level(west)["HttpTokens"] == "required"
    got = level(east)
    assert "HttpTokens" not in got and "HttpPutResponseHopLimit" not in got
    # and launches follow their own region's defaults
    assert_options(run(west, image=AMI_AL2)[0]["MetadataOptions"], HttpTokens="required",
                   HttpPutResponseHopLimit=5)
    assert_options(run(east, image=AMI_AL2)[0]["MetadataOptions"], HttpTokens="optional",
                   HttpPutResponseHopLimit=1)
    setting(west, **CLEAR_ALL)


@pytest.mark.parametrize("kw", [
    {"HttpTokens": "REQUIRED"}, {"HttpTokens": "bogus"}, {"HttpTokens": ""},
    {"HttpPutResponseHopLimit": 0}, {"HttpPutResponseHopLimit": 65},
    {"HttpPutResponseHopLimit": -2},
    {"HttpEndpoint": "on"}, {"InstanceMetadataTags": "yes"}, {"HttpTokensEnforced": "true"},
])
def test_invalid_values(fresh_ec2, kw):
    setting(fresh_ec2, HttpTokens="required", HttpPutResponseHopLimit=2)
    before = level(fresh_ec2)
    with ec2_error("InvalidParameterValue", 400):
        fresh_ec2.modify_instance_metadata_defaults(**kw)
    assert level(fresh_ec2) == before


def test_existing_instances_unchanged(fresh_ec2):
    ec2 = fresh_ec2
    iid = running_instance(ec2)
    before = options(ec2, iid)
    setting(ec2, HttpTokens="required", HttpPutResponseHopLimit=5, HttpEndpoint="disabled",
            InstanceMetadataTags="enabled")
    assert_stays(lambda: options(ec2, iid) == before, 0.6, desc="existing instance unchanged")
    new = run(ec2, image=AMI_AL2)[0]["MetadataOptions"]
    assert_options(new, HttpTokens="required", HttpPutResponseHopLimit=5,
                   HttpEndpoint="disabled", InstanceMetadataTags="enabled",
                   HttpProtocolIpv6="disabled")


def test_endpoint_and_tags_defaults_and_overrides(fresh_ec2):
    setting(fresh_ec2, HttpEndpoint="disabled", InstanceMetadataTags="enabled")
    a = run(fresh_ec2, image=AMI_AL2)[0]["MetadataOptions"]
    assert_options(a, HttpEndpoint="disabled", InstanceMetadataTags="enabled")
    b = run(fresh_ec2, image=AMI_AL2, metadata={"HttpEndpoint": "enabled",
                                                "InstanceMetadataTags": "disabled"})[0]
    assert_options(b["MetadataOptions"], HttpEndpoint="enabled", InstanceMetadataTags="disabled")


# ----------------------------------------------------------------------------- enforcement


def test_enforcement_allows_required_launches(fresh_ec2):
    setting(fresh_ec2, HttpTokensEnforced="enabled")
    a = run(fresh_ec2, image=AMI_AL2, metadata={"HttpTokens": "required"})[0]
    assert a["MetadataOptions"]["HttpTokens"] == "required"
    b = run(fresh_ec2, image=AMI_AL2023)[0]  # required via the AMI
    assert b["MetadataOptions"]["HttpTokens"] == "required"
    setting(fresh_ec2, HttpTokens="required")
    c = run(fresh_ec2, image=AMI_AL2)[0]  # required via the account
    assert c["MetadataOptions"]["HttpTokens"] == "required"


def test_enforcement_rejects_optional_from_account_default(fresh_ec2):
    setting(fresh_ec2, HttpTokens="optional", HttpTokensEnforced="enabled")
    with ec2_error("UnsupportedOperation", 400, ENFORCED_MESSAGE):
        run(fresh_ec2, image=AMI_AL2023)
    assert describe(fresh_ec2) == []


def test_enforcement_rejects_whole_launch(fresh_ec2):
    setting(fresh_ec2, HttpTokensEnforced="enabled")
    with ec2_error("UnsupportedOperation", 400, ENFORCED_MESSAGE):
        fresh_ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=3,
                                MaxCount=3, MetadataOptions={"HttpTokens": "optional"})
    assert describe(fresh_ec2) == []


def test_enforcement_on_modify(fresh_ec2):
    ec2 = fresh_ec2
    optional = running_instance(ec2)
    setting(ec2, HttpTokensEnforced="enabled")
    # Existing optional instances keep running unchanged...
    assert options(ec2, optional)["HttpTokens"] == "optional"
    # ...a change that does not touch HttpTokens is allowed...
    resp = ec2.modify_instance_metadata_options(InstanceId=optional, HttpPutResponseHopLimit=2)
    assert_options(resp["InstanceMetadataOptions"], HttpTokens="optional",
                   HttpPutResponseHopLimit=2)
    wait_applied(ec2, optional)
    # ...re-sending optional is refused (spec §3.2: treat as rejected)...
    with ec2_error("UnsupportedOperation", 400, ENFORCED_MESSAGE):
        ec2.modify_instance_metadata_options(InstanceId=optional, HttpTokens="optional")
    # ...and moving to required is fine.
    resp = ec2.modify_instance_metadata_options(InstanceId=optional, HttpTokens="required")
    assert resp["InstanceMetadataOptions"]["HttpTokens"] == "required"
    # Disabling enforcement lifts the restriction.
    setting(ec2, HttpTokensEnforced="disabled")
    resp = ec2.modify_instance_metadata_options(InstanceId=optional, HttpTokens="optional")
    assert resp["InstanceMetadataOptions"]["HttpTokens"] == "optional"


# ----------------------------------------------------------------------------- precedence


PRECEDENCE_REGION = "sa-east-1"


def _precedence(server, launch: dict, account: dict, ami: str) -> dict:
    ec2 = server.client(PRECEDENCE_REGION)
    setting(ec2, **(CLEAR_ALL | account))
    inst = run(ec2, image=ami, metadata=launch or None)[0]
    from_describe = options(ec2, inst["InstanceId"])
    for k in BUILTIN_OPTS:
        assert inst["MetadataOptions"][k] == from_describe[k]
    return from_describe


V2, PLAIN = AMI_AL2023, AMI_AL2

# spec §5 HttpTokens decision table: (launch, account, AMI) → result
TOKENS_TABLE = [
    ("required", account, ami, "required")
    for account in ("no-preference", "required", "optional") for ami in (V2, PLAIN)
] + [
    ("optional", account, ami, "optional")
    for account in ("no-preference", "required", "optional") for ami in (V2, PLAIN)
] + [
    (None, "no-preference", V2, "required"),
    (None, "no-preference", PLAIN, "optional"),
    (None, "required", V2, "required"),
    (None, "required", PLAIN, "required"),
    (None, "optional", V2, "optional"),
    (None, "optional", PLAIN, "optional"),
]


@pytest.mark.parametrize("launch,account,ami,expected", [
    pytest.param(*row, id=f"launch={row[0]}-account={row[1]}-ami={'v2' if row[2] == V2 else 'unset'}")
    for row in TOKENS_TABLE])
def test_precedence_http_tokens(server, launch, account, ami, expected):
    opts = _precedence(server, {"HttpTokens": launch} if launch else {},
                       {"HttpTokens": account}, ami)
    assert opts["HttpTokens"] == expected


# Hop limit: launch value if set; else account value if not -1; else 2 for a v2.0 AMI; else 1.
HOP_TABLE = [
    (launch, account, ami,
     launch if launch is not None else
     account if account != -1 else
     2 if ami == V2 else 1)
    for launch in (None, 1, 5) for account in (-1, 1, 3) for ami in (V2, PLAIN)
]


@pytest.mark.parametrize("launch,account,ami,expected", [
    pytest.param(*row, id=f"launch={row[0]}-account={row[1]}-ami={'v2' if row[2] == V2 else 'unset'}")
    for row in HOP_TABLE])
def test_precedence_hop_limit(server, launch, account, ami, expected):
    opts = _precedence(server, {"HttpPutResponseHopLimit": launch} if launch else {},
                       {"HttpPutResponseHopLimit": account}, ami)
    assert opts["HttpPutResponseHopLimit"] == expected


def test_precedence_example_account_hop_1_v2_ami(server):
    # spec §5: "account hop=1, AMI v2.0, nothing at launch → required + hop 1"
    opts = _precedence(server, {}, {"HttpPutResponseHopLimit": 1}, V2)
    assert_options(opts, HttpTokens="required", HttpPutResponseHopLimit=1)


def test_precedence_fields_are_independent(server):
    opts = _precedence(server, {"HttpPutResponseHopLimit": 4},
                       {"HttpTokens": "required", "HttpEndpoint": "disabled"}, PLAIN)
    assert_options(opts, HttpTokens="required", HttpPutResponseHopLimit=4,
                   HttpEndpoint="disabled", HttpProtocolIpv6="disabled",
                   InstanceMetadataTags="disabled")


def test_http_tokens_enforced_via_raw_query(fresh_server):
    # The parameter as it travels (for clients whose model predates it).
    resp = raw(fresh_server.endpoint, {"Action": "ModifyInstanceMetadataDefaults",
                                       "HttpTokensEnforced": "enabled"})
    assert resp.status == 200, resp
    assert resp.text("return") == "true"
    get = raw(fresh_server.endpoint, {"Action": "GetInstanceMetadataDefaults"})
    assert get.text("accountLevel/httpTokensEnforced") == "enabled"
    assert get.text("accountLevel/managedBy") == "account"
