"""DryRun=true on every action: 412 DryRunOperation and nothing changes (spec §1.6 step 7)."""
from __future__ import annotations

import uuid

import pytest

from helpers import (
    AMI_AL2, DRY_RUN_MESSAGE, ec2_error, raw, running_instance, settle, snapshot,
    stopped_instance,
)

REGION = "eu-central-1"


@pytest.fixture(scope="module")
def world(server):
    ec2 = server.client(REGION)
    w = {
        "ec2": ec2,
        "running": running_instance(ec2, tags={"keep": "me"}),
        "stopped": stopped_instance(ec2),
        "image": ec2.register_image(Name=f"dry-{uuid.uuid4().hex[:8]}")["ImageId"],
    }
    lt = ec2.create_launch_template(
        LaunchTemplateName=f"dry-{uuid.uuid4().hex[:8]}",
        LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                            "MetadataOptions": {"HttpTokens": "required"}})["LaunchTemplate"]
    ec2.create_launch_template_version(
        LaunchTemplateId=lt["LaunchTemplateId"],
        LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro"})
    w["lt"] = lt["LaunchTemplateId"]
    ec2.modify_instance_metadata_defaults(HttpPutResponseHopLimit=2)
    settle(ec2)
    return w


MUTATING = {
    "RunInstances": lambda w: w["ec2"].run_instances(
        ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        MetadataOptions={"HttpTokens": "required"}, DryRun=True),
    "ModifyInstanceMetadataOptions": lambda w: w["ec2"].modify_instance_metadata_options(
        InstanceId=w["running"], HttpTokens="required", HttpPutResponseHopLimit=9, DryRun=True),
    "ModifyInstanceMetadataOptions-stopped": lambda w: w["ec2"].modify_instance_metadata_options(
        InstanceId=w["stopped"], HttpEndpoint="disabled", DryRun=True),
    "StartInstances": lambda w: w["ec2"].start_instances(InstanceIds=[w["stopped"]], DryRun=True),
    "StopInstances": lambda w: w["ec2"].stop_instances(InstanceIds=[w["running"]], DryRun=True),
    "RebootInstances": lambda w: w["ec2"].reboot_instances(InstanceIds=[w["running"]],
                                                           DryRun=True),
    "TerminateInstances": lambda w: w["ec2"].terminate_instances(InstanceIds=[w["running"]],
                                                                 DryRun=True),
    "CreateTags": lambda w: w["ec2"].create_tags(Resources=[w["running"]],
                                                 Tags=[{"Key": "new", "Value": "x"}],
                                                 DryRun=True),
    "DeleteTags": lambda w: w["ec2"].delete_tags(Resources=[w["running"]],
                                                 Tags=[{"Key": "keep"}], DryRun=True),
    "RegisterImage": lambda w: w["ec2"].register_image(Name="dry-run-image", ImdsSupport="v2.0",
                                                       DryRun=True),
    "ModifyImageAttribute": lambda w: w["ec2"].modify_image_attribute(
        ImageId=w["image"], ImdsSupport={"Value": "v2.0"}, DryRun=True),
    "ModifyInstanceMetadataDefaults": lambda w: w["ec2"].modify_instance_metadata_defaults(
        HttpTokens="required", HttpPutResponseHopLimit=5, HttpTokensEnforced="enabled",
        DryRun=True),
    "CreateLaunchTemplate": lambda w: w["ec2"].create_launch_template(
        LaunchTemplateName="dry-run-template",
        LaunchTemplateData={"ImageId": AMI_AL2}, DryRun=True),
    "CreateLaunchTemplateVersion": lambda w: w["ec2"].create_launch_template_version(
        LaunchTemplateId=w["lt"], LaunchTemplateData={"ImageId": AMI_AL2}, DryRun=True),
    "ModifyLaunchTemplate": lambda w: w["ec2"].modify_launch_template(
        LaunchTemplateId=w["lt"], DefaultVersion="2", DryRun=True),
    "DeleteLaunchTemplate": lambda w: w["ec2"].delete_launch_template(
        LaunchTemplateId=w["lt"], DryRun=True),
    "RunInstances-from-template": lambda w: w["ec2"].run_instances(
        MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": w["lt"]}, DryRun=True),
}

READ_ONLY = {
    "DescribeInstances": lambda w: w["ec2"].describe_instances(DryRun=True),
    "DescribeImages": lambda w: w["ec2"].describe_images(ImageIds=[w["image"]], DryRun=True),
    "DescribeImageAttribute": lambda w: w["ec2"].describe_image_attribute(
        ImageId=w["image"], Attribute="imdsSupport", DryRun=True),
    "DescribeTags": lambda w: w["ec2"].describe_tags(DryRun=True),
    "GetInstanceMetadataDefaults": lambda w: w["ec2"].get_instance_metadata_defaults(
        DryRun=True),
    "DescribeLaunchTemplates": lambda w: w["ec2"].describe_launch_templates(DryRun=True),
    "DescribeLaunchTemplateVersions": lambda w: w["ec2"].describe_launch_template_versions(
        LaunchTemplateId=w["lt"], DryRun=True),
}


@pytest.mark.parametrize("action", sorted(MUTATING))
def test_dry_run_mutating(world, action):
    ec2 = world["ec2"]
    before = snapshot(ec2)
    with ec2_error("DryRunOperation", 412, DRY_RUN_MESSAGE):
        MUTATING[action](world)
    # Give a wrongly executed change the time to show (state transitions, apply).
    settle(ec2)
    assert snapshot(ec2) == before


@pytest.mark.parametrize("action", sorted(READ_ONLY))
def test_dry_run_read_only(world, action):
    with ec2_error("DryRunOperation", 412, DRY_RUN_MESSAGE):
        READ_ONLY[action](world)


def test_dry_run_false_executes(world):
    ec2 = world["ec2"]
    resp = ec2.describe_instances(InstanceIds=[world["running"]], DryRun=False)
    assert resp["Reservations"][0]["Instances"][0]["InstanceId"] == world["running"]


def test_dry_run_still_validates(world):
    ec2 = world["ec2"]
    before = snapshot(ec2)
    with ec2_error("InvalidParameterValue", 400):
        ec2.modify_instance_metadata_options(InstanceId=world["running"],
                                             HttpPutResponseHopLimit=99, DryRun=True)
    with ec2_error("InvalidInstanceID.NotFound", 400):
        ec2.modify_instance_metadata_options(InstanceId="i-0123456789abcdef9",
                                             HttpTokens="required", DryRun=True)
    with ec2_error("InvalidInstanceID.Malformed", 400):
        ec2.stop_instances(InstanceIds=["i-zz"], DryRun=True)
    with ec2_error("InvalidAMIID.NotFound", 400):
        ec2.run_instances(ImageId="ami-0123456789abcdef0", InstanceType="t3.micro",
                          MinCount=1, MaxCount=1, DryRun=True)
    with ec2_error("InvalidParameterValue", 400):
        ec2.modify_instance_metadata_defaults(HttpPutResponseHopLimit=0, DryRun=True)
    assert snapshot(ec2) == before


def test_dry_run_raw_spelling(server, world):
    # `DryRun` on the wire (locationName dryRun, capitalised); unknown boolean spelling refused.
    ok = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptions",
                               "InstanceId": world["running"], "HttpTokens": "required",
                               "DryRun": "true"}, region=REGION)
    assert ok.status == 412, ok
    assert ok.error[:2] == ("DryRunOperation", DRY_RUN_MESSAGE)
