"""Launch templates carrying MetadataOptions, and RunInstances from them."""
from __future__ import annotations

import uuid

import pytest

from helpers import (
    AMI_AL2, AMI_AL2023, LT_ID_RE, assert_options, describe_ids, ec2_error, expect_raw_error,
    options, raw,
)


def lt_name(prefix="lt"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(ec2, name=None, metadata=None, image=AMI_AL2, itype="t3.micro", **kw):
    data = {"ImageId": image, "InstanceType": itype}
    if metadata is not None:
        data["MetadataOptions"] = metadata
    return ec2.create_launch_template(LaunchTemplateName=name or lt_name(),
                                      LaunchTemplateData=data, **kw)["LaunchTemplate"]


def launch(ec2, spec: dict, **kw) -> dict:
    resp = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate=spec, **kw)
    return resp["Instances"][0]


def test_create_launch_template(ec2):
    name = lt_name()
    lt = create(ec2, name, {"HttpTokens": "required", "HttpPutResponseHopLimit": 3})
    assert LT_ID_RE.match(lt["LaunchTemplateId"])
    assert lt["LaunchTemplateName"] == name
    assert lt["DefaultVersionNumber"] == 1
    assert lt["LatestVersionNumber"] == 1
    assert lt["CreateTime"]


def test_describe_launch_templates(ec2):
    a = create(ec2)
    b = create(ec2)
    by_id = ec2.describe_launch_templates(LaunchTemplateIds=[a["LaunchTemplateId"]])
    assert [t["LaunchTemplateName"] for t in by_id["LaunchTemplates"]] == [a["LaunchTemplateName"]]
    by_name = ec2.describe_launch_templates(LaunchTemplateNames=[b["LaunchTemplateName"]])
    assert [t["LaunchTemplateId"] for t in by_name["LaunchTemplates"]] == [b["LaunchTemplateId"]]
    every = {t["LaunchTemplateId"] for t in ec2.describe_launch_templates()["LaunchTemplates"]}
    assert {a["LaunchTemplateId"], b["LaunchTemplateId"]} <= every


def test_describe_launch_template_versions_returns_metadata_options(server, ec2):
    lt = create(ec2, metadata={"HttpTokens": "required", "HttpPutResponseHopLimit": 3,
                               "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled",
                               "InstanceMetadataTags": "enabled"})
    resp = ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"])
    versions = resp["LaunchTemplateVersions"]
    assert len(versions) == 1
    v = versions[0]
    assert v["VersionNumber"] == 1
    assert v["DefaultVersion"] is True
    assert v["LaunchTemplateId"] == lt["LaunchTemplateId"]
    data = v["LaunchTemplateData"]
    assert data["ImageId"] == AMI_AL2
    assert data["InstanceType"] == "t3.micro"
    assert_options(data["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=3,
                   HttpEndpoint="enabled", HttpProtocolIpv6="disabled",
                   InstanceMetadataTags="enabled")
    # On the wire: launchTemplateVersionSet/item/launchTemplateData/metadataOptions
    wire = raw(server.endpoint, {"Action": "DescribeLaunchTemplateVersions",
                                 "LaunchTemplateId": lt["LaunchTemplateId"]})
    assert wire.status == 200, wire
    assert wire.text("launchTemplateVersionSet/item/launchTemplateData/metadataOptions/httpTokens") \
        == "required"
    assert wire.find("launchTemplateVersionSet/item/launchTemplateData/metadataOptions/state") \
        is not None, "stored template data includes a state element (spec §4)"


def test_versions_default_and_latest(ec2):
    lt = create(ec2, metadata={"HttpTokens": "required", "HttpPutResponseHopLimit": 3})
    lid = lt["LaunchTemplateId"]
    v2 = ec2.create_launch_template_version(
        LaunchTemplateId=lid,
        LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                            "MetadataOptions": {"HttpTokens": "optional",
                                                "HttpPutResponseHopLimit": 5}},
    )["LaunchTemplateVersion"]
    assert v2["VersionNumber"] == 2
    assert v2["DefaultVersion"] is False
    assert_options(v2["LaunchTemplateData"]["MetadataOptions"], HttpTokens="optional",
                   HttpPutResponseHopLimit=5)
    desc = ec2.describe_launch_templates(LaunchTemplateIds=[lid])["LaunchTemplates"][0]
    assert (desc["DefaultVersionNumber"], desc["LatestVersionNumber"]) == (1, 2)

    def version_of(v):
        got = ec2.describe_launch_template_versions(LaunchTemplateId=lid, Versions=[v])
        return [x["VersionNumber"] for x in got["LaunchTemplateVersions"]]
    assert version_of("$Latest") == [2]
    assert version_of("$Default") == [1]
    assert version_of("1") == [1]

    # Launch by id with each version selector.
    for sel, tokens, hop in (("$Latest", "optional", 5), ("$Default", "required", 3),
                             ("1", "required", 3), ("2", "optional", 5)):
        inst = launch(ec2, {"LaunchTemplateId": lid, "Version": sel})
        assert_options(inst["MetadataOptions"], HttpTokens=tokens, HttpPutResponseHopLimit=hop)
    # No version: the default.
    inst = launch(ec2, {"LaunchTemplateId": lid})
    assert_options(inst["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=3)

    # ModifyLaunchTemplate changes the default version.
    mod = ec2.modify_launch_template(LaunchTemplateId=lid, DefaultVersion="2")["LaunchTemplate"]
    assert mod["DefaultVersionNumber"] == 2
    assert version_of("$Default") == [2]
    inst = launch(ec2, {"LaunchTemplateName": lt["LaunchTemplateName"], "Version": "$Default"})
    assert_options(inst["MetadataOptions"], HttpTokens="optional", HttpPutResponseHopLimit=5)


def test_create_version_by_name_from_source(ec2):
    lt = create(ec2, metadata={"HttpTokens": "required", "HttpPutResponseHopLimit": 3})
    v = ec2.create_launch_template_version(
        LaunchTemplateName=lt["LaunchTemplateName"], SourceVersion="1",
        LaunchTemplateData={"MetadataOptions": {"HttpPutResponseHopLimit": 4}},
    )["LaunchTemplateVersion"]
    assert v["VersionNumber"] == 2
    # A version created from a source version inherits what it does not override.
    data = v["LaunchTemplateData"]
    assert data["ImageId"] == AMI_AL2
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 4
    inst = launch(ec2, {"LaunchTemplateName": lt["LaunchTemplateName"], "Version": "2"})
    assert inst["ImageId"] == AMI_AL2
    assert_options(inst["MetadataOptions"], HttpPutResponseHopLimit=4)


def test_run_by_name(ec2):
    lt = create(ec2, metadata={"HttpEndpoint": "disabled"})
    inst = launch(ec2, {"LaunchTemplateName": lt["LaunchTemplateName"]})
    assert inst["InstanceType"] == "t3.micro"
    assert inst["ImageId"] == AMI_AL2
    assert_options(inst["MetadataOptions"], HttpEndpoint="disabled", HttpTokens="optional")
    assert options(ec2, inst["InstanceId"])["HttpEndpoint"] == "disabled"


def test_request_overrides_template_per_field(ec2):
    # spec case 34 and the per-field merge
    lt = create(ec2, metadata={"HttpTokens": "required", "HttpPutResponseHopLimit": 3,
                               "InstanceMetadataTags": "enabled"})
    inst = launch(ec2, {"LaunchTemplateId": lt["LaunchTemplateId"]},
                  MetadataOptions={"HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"})
    assert_options(inst["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=2,
                   HttpEndpoint="enabled", InstanceMetadataTags="enabled")
    # and the request's image/type override the template's
    inst = launch(ec2, {"LaunchTemplateId": lt["LaunchTemplateId"]},
                  ImageId=AMI_AL2023, InstanceType="m5.large")
    assert (inst["ImageId"], inst["InstanceType"]) == (AMI_AL2023, "m5.large")
    assert_options(inst["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=3)


def test_template_without_metadata_uses_ami(ec2):
    lt = create(ec2, image=AMI_AL2023)
    inst = launch(ec2, {"LaunchTemplateId": lt["LaunchTemplateId"]})
    assert_options(inst["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=2)


def test_delete_launch_template(ec2):
    lt = create(ec2)
    lid, name = lt["LaunchTemplateId"], lt["LaunchTemplateName"]
    deleted = ec2.delete_launch_template(LaunchTemplateId=lid)["LaunchTemplate"]
    assert deleted["LaunchTemplateId"] == lid
    with ec2_error("InvalidLaunchTemplateId.NotFound", 400):
        ec2.describe_launch_templates(LaunchTemplateIds=[lid])
    with ec2_error("InvalidLaunchTemplateName.NotFoundException", 400):
        ec2.describe_launch_templates(LaunchTemplateNames=[name])
    with ec2_error("InvalidLaunchTemplateId.NotFound", 400):
        launch(ec2, {"LaunchTemplateId": lid})
    # The name can be used again.
    again = create(ec2, name)
    assert again["LaunchTemplateId"] != lid
    ec2.delete_launch_template(LaunchTemplateName=name)


def test_duplicate_name(ec2):
    lt = create(ec2)
    with ec2_error("InvalidLaunchTemplateName.AlreadyExistsException", 400):
        create(ec2, lt["LaunchTemplateName"])


def test_unknown_version(ec2):
    lt = create(ec2)
    with ec2_error("InvalidLaunchTemplateId.VersionNotFound", 400):
        launch(ec2, {"LaunchTemplateId": lt["LaunchTemplateId"], "Version": "7"})


@pytest.mark.parametrize("field,value,message", [
    ("HttpEndpoint", "bogus",
     "A value of 'bogus' is not valid for http-endpoint. Valid values are 'enabled' or 'disabled'."),
    ("HttpTokens", "REQUIRED", None),
    ("HttpProtocolIpv6", "on", None),
    ("InstanceMetadataTags", "yes", None),
    ("HttpPutResponseHopLimit", 0, None),
    ("HttpPutResponseHopLimit", 65, None),
])
def test_invalid_metadata_options_in_template_data(ec2, field, value, message):
    name = lt_name()
    with ec2_error("InvalidParameterValue", 400, message):
        create(ec2, name, {field: value})
    with ec2_error("InvalidLaunchTemplateName.NotFoundException", 400):
        ec2.describe_launch_templates(LaunchTemplateNames=[name])
    lt = create(ec2)
    with ec2_error("InvalidParameterValue", 400, message):
        ec2.create_launch_template_version(
            LaunchTemplateId=lt["LaunchTemplateId"],
            LaunchTemplateData={"MetadataOptions": {field: value}})
    desc = ec2.describe_launch_templates(LaunchTemplateIds=[lt["LaunchTemplateId"]])
    assert desc["LaunchTemplates"][0]["LatestVersionNumber"] == 1


def test_invalid_value_raw_query_names(server):
    resp = raw(server.endpoint, {
        "Action": "CreateLaunchTemplate", "LaunchTemplateName": lt_name(),
        "LaunchTemplateData.ImageId": AMI_AL2,
        "LaunchTemplateData.MetadataOptions.HttpEndpoint": "bogus",
    })
    expect_raw_error(resp, "InvalidParameterValue", 400,
                     "A value of 'bogus' is not valid for http-endpoint. "
                     "Valid values are 'enabled' or 'disabled'.")


def test_malformed_template_id(ec2):
    with ec2_error("InvalidLaunchTemplateId.Malformed", 400):
        ec2.describe_launch_templates(LaunchTemplateIds=["lt-xyz"])


def test_enforcement_applies_to_template_launches(fresh_ec2):
    ec2 = fresh_ec2
    lt = create(ec2, metadata={"HttpTokens": "optional"})
    ec2.modify_instance_metadata_defaults(HttpTokensEnforced="enabled")
    with ec2_error("UnsupportedOperation", 400):
        launch(ec2, {"LaunchTemplateId": lt["LaunchTemplateId"]})
    assert describe_ids(ec2) == set()
    inst = launch(ec2, {"LaunchTemplateId": lt["LaunchTemplateId"]},
                  MetadataOptions={"HttpTokens": "required"})
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
