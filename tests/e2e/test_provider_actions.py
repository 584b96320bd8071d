"""The actions Terraform's AWS provider calls around an instance (found by watching its
traffic), through boto3, every response held to botocore's model: DescribeInstanceTypes,
DescribeInstanceAttribute, ModifyInstanceAttribute, DescribeInstanceCreditSpecifications,
DescribeVolumes, DescribeVpcs, DescribeSubnets. Bad input gets EC2's error and changes nothing.
Semantics from the EC2 API reference pages of each action."""
from __future__ import annotations

import base64

import pytest

from helpers import (
    AMI_AL2, ec2_error, instance, raw, run_one, running_instance, stopped_instance,
    wait_state,
)

REGION = "ap-southeast-1"


@pytest.fixture(scope="module")
def ec2(server):
    return server.client(REGION)


# ----------------------------------------------------------------------------- instance types


def test_describe_instance_types_named(ec2):
    got = ec2.describe_instance_types(InstanceTypes=["t3.micro", "t2.micro", "m5.large"])
    by = {t["InstanceType"]: t for t in got["InstanceTypes"]}
    assert set(by) == {"t3.micro", "t2.micro", "m5.large"}
    t3 = by["t3.micro"]
    assert (t3["Hypervisor"], t3["BurstablePerformanceSupported"]) == ("nitro", True)
    assert t3["VCpuInfo"]["DefaultVCpus"] == 2 and t3["MemoryInfo"]["SizeInMiB"] == 1024
    assert t3["ProcessorInfo"]["SupportedArchitectures"] == ["x86_64"]
    assert by["t2.micro"]["Hypervisor"] == "xen" and by["t2.micro"]["FreeTierEligible"]
    assert by["m5.large"]["BurstablePerformanceSupported"] is False


def test_describe_instance_types_unknown(ec2):
    with ec2_error("InvalidInstanceType",
                   message="The following supplied instance types do not exist: [x9.huge]"):
        ec2.describe_instance_types(InstanceTypes=["t3.micro", "x9.huge"])


def test_describe_instance_types_filters_and_pages(ec2):
    burstable = ec2.describe_instance_types(
        Filters=[{"Name": "burstable-performance-supported", "Values": ["true"]},
                 {"Name": "processor-info.supported-architecture", "Values": ["x86_64"]}])
    names = {t["InstanceType"] for t in burstable["InstanceTypes"]}
    assert names and all(n.startswith(("t2.", "t3.")) for n in names), names
    pages = list(ec2.get_paginator("describe_instance_types").paginate(
        PaginationConfig={"PageSize": 5}))
    everything = [t["InstanceType"] for p in pages for t in p["InstanceTypes"]]
    assert len(pages) > 1 and len(everything) == len(set(everything))
    assert "m1.small" in everything
    with ec2_error("InvalidParameterValue"):
        ec2.describe_instance_types(MaxResults=101)
    with ec2_error("InvalidParameterValue", message="The filter 'bogus' is invalid"):
        ec2.describe_instance_types(Filters=[{"Name": "bogus", "Values": ["x"]}])


# ----------------------------------------------------------------------------- attributes


def attribute(ec2, iid, name):
    return ec2.describe_instance_attribute(InstanceId=iid, Attribute=name)


def test_describe_instance_attribute_each(ec2):
    # boto3 base64-encodes RunInstances' UserData itself; EC2 returns it base64-encoded.
    iid = running_instance(ec2, itype="t3.micro", UserData="#!/bin/sh\necho hi\n",
                           InstanceInitiatedShutdownBehavior="terminate",
                           DisableApiTermination=True)
    assert attribute(ec2, iid, "userData")["UserData"] == {
        "Value": base64.b64encode(b"#!/bin/sh\necho hi\n").decode()}
    assert attribute(ec2, iid, "instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"] == {"Value": "terminate"}
    assert attribute(ec2, iid, "disableApiTermination")["DisableApiTermination"] == {
        "Value": True}
    assert attribute(ec2, iid, "disableApiStop")["DisableApiStop"] == {"Value": False}
    assert attribute(ec2, iid, "instanceType")["InstanceType"] == {"Value": "t3.micro"}
    bdm = attribute(ec2, iid, "blockDeviceMapping")["BlockDeviceMappings"]
    assert bdm[0]["DeviceName"] == "/dev/xvda"
    assert bdm[0]["Ebs"]["VolumeId"] == instance(ec2, iid)["BlockDeviceMappings"][0]["Ebs"][
        "VolumeId"]
    assert attribute(ec2, iid, "groupSet")["Groups"][0]["GroupName"] == "default"
    assert attribute(ec2, iid, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    # No user data: an empty element, no value (the provider then leaves user_data unset).
    other = run_one(ec2)
    assert "Value" not in attribute(ec2, other, "userData").get("UserData", {})


def test_describe_instance_attribute_errors(ec2):
    iid = run_one(ec2)
    with ec2_error("InvalidParameterValue",
                   message="Value (bogus) for parameter attribute is invalid. Unknown attribute."):
        ec2.describe_instance_attribute(InstanceId=iid, Attribute="bogus")
    with ec2_error("InvalidInstanceID.NotFound"):
        ec2.describe_instance_attribute(InstanceId="i-0123456789abcdef9", Attribute="userData")
    with ec2_error("InvalidInstanceID.Malformed"):
        ec2.describe_instance_attribute(InstanceId="i-xyz", Attribute="userData")


def test_modify_instance_attribute_running(ec2):
    iid = running_instance(ec2)
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": True})
    with ec2_error("OperationNotPermitted"):
        ec2.terminate_instances(InstanceIds=[iid])
    ec2.modify_instance_attribute(InstanceId=iid, Attribute="disableApiTermination",
                                  Value="false")
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiStop={"Value": True})
    with ec2_error("OperationNotPermitted"):
        ec2.stop_instances(InstanceIds=[iid])
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiStop={"Value": False})
    ec2.modify_instance_attribute(InstanceId=iid,
                                  InstanceInitiatedShutdownBehavior={"Value": "terminate"})
    ec2.modify_instance_attribute(InstanceId=iid, SourceDestCheck={"Value": False})
    assert instance(ec2, iid)["SourceDestCheck"] is False
    assert attribute(ec2, iid, "instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    # Type and user data only change on a stopped instance.
    with ec2_error("IncorrectInstanceState"):
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "m5.large"})
    with ec2_error("IncorrectInstanceState"):
        ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"hello"})
    assert instance(ec2, iid)["InstanceType"] == "t3.micro"
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")


def test_modify_instance_attribute_stopped(ec2):
    iid = stopped_instance(ec2)
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "m5.large"})
    ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"#!/bin/sh\n"})
    assert instance(ec2, iid)["InstanceType"] == "m5.large"
    assert base64.b64decode(attribute(ec2, iid, "userData")["UserData"]["Value"]) == \
        b"#!/bin/sh\n"
    with ec2_error("InvalidInstanceAttributeValue"):
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t4g.micro"})
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "running")


def test_modify_instance_attribute_bad_input_changes_nothing(ec2, server):
    iid = running_instance(ec2)
    before = instance(ec2, iid)
    with ec2_error("InvalidParameterCombination"):
        ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": True},
                                      DisableApiStop={"Value": True})
    with ec2_error("MissingParameter"):
        ec2.modify_instance_attribute(InstanceId=iid)
    with ec2_error("InvalidParameterValue"):
        ec2.modify_instance_attribute(InstanceId=iid,
                                      InstanceInitiatedShutdownBehavior={"Value": "explode"})
    with ec2_error("InvalidParameterValue"):
        ec2.modify_instance_attribute(InstanceId=iid, Attribute="disableApiStop", Value="yes")
    with ec2_error("DryRunOperation", 412):
        ec2.modify_instance_attribute(InstanceId=iid, DisableApiStop={"Value": True},
                                      DryRun=True)
    resp = raw(server.endpoint, {"Action": "ModifyInstanceAttribute", "InstanceId": iid,
                                 "DisableApiStop.Value": "maybe"}, region=REGION)
    assert resp.status == 400
    assert attribute(ec2, iid, "disableApiStop")["DisableApiStop"] == {"Value": False}
    after = instance(ec2, iid)
    assert {k: after[k] for k in ("InstanceType", "SourceDestCheck", "State")} == \
        {k: before[k] for k in ("InstanceType", "SourceDestCheck", "State")}


# ----------------------------------------------------------------------------- credits


def test_describe_instance_credit_specifications(ec2):
    t2 = run_one(ec2, itype="t2.micro")
    t3 = run_one(ec2, itype="t3.micro", CreditSpecification={"CpuCredits": "standard"})
    t3_default = run_one(ec2, itype="t3.small")
    m5 = run_one(ec2, itype="m5.large")
    got = ec2.describe_instance_credit_specifications(InstanceIds=[t2, t3, t3_default, m5])
    # A named instance that is not burstable reads "standard" (observed, k1LoW/awspec#404).
    assert {c["InstanceId"]: c["CpuCredits"] for c in got["InstanceCreditSpecifications"]} == {
        t2: "standard", t3: "standard", t3_default: "unlimited", m5: "standard"}
    # Without ids: only the instances with the unlimited option (API reference).
    every = ec2.describe_instance_credit_specifications()["InstanceCreditSpecifications"]
    listed = {c["InstanceId"] for c in every}
    assert t3_default in listed and not listed & {t2, t3, m5}
    assert {c["CpuCredits"] for c in every} == {"unlimited"}
    with ec2_error("InvalidParameterValue"):
        ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                          CreditSpecification={"CpuCredits": "infinite"})


def test_modify_instance_credit_specification(ec2):
    """Per-instance results: the burstable ones change, the others are listed with their
    error code; a bad credit value fails the whole request and changes nothing."""
    t3 = run_one(ec2, itype="t3.micro")
    m5 = run_one(ec2, itype="m5.large")
    gone = run_one(ec2, itype="t3.micro")
    ec2.terminate_instances(InstanceIds=[gone])
    resp = ec2.modify_instance_credit_specification(InstanceCreditSpecifications=[
        {"InstanceId": t3, "CpuCredits": "standard"},
        {"InstanceId": m5, "CpuCredits": "standard"},
        {"InstanceId": gone, "CpuCredits": "standard"},
        {"InstanceId": "i-0123456789abcdef9", "CpuCredits": "standard"},
    ])
    assert resp["SuccessfulInstanceCreditSpecifications"] == [{"InstanceId": t3}]
    codes = {u["InstanceId"]: u["Error"]["Code"]
             for u in resp["UnsuccessfulInstanceCreditSpecifications"]}
    assert codes == {m5: "InstanceCreditSpecification.NotSupported",
                     gone: "IncorrectInstanceState",
                     "i-0123456789abcdef9": "InvalidInstanceID.NotFound"}
    spec = ec2.describe_instance_credit_specifications(InstanceIds=[t3])
    assert spec["InstanceCreditSpecifications"][0]["CpuCredits"] == "standard"
    with ec2_error("InvalidParameterValue"):
        ec2.modify_instance_credit_specification(InstanceCreditSpecifications=[
            {"InstanceId": t3, "CpuCredits": "unlimited"},
            {"InstanceId": m5, "CpuCredits": "turbo"}])
    with ec2_error("DryRunOperation", 412):
        ec2.modify_instance_credit_specification(
            InstanceCreditSpecifications=[{"InstanceId": t3, "CpuCredits": "unlimited"}],
            DryRun=True)
    spec = ec2.describe_instance_credit_specifications(InstanceIds=[t3])
    assert spec["InstanceCreditSpecifications"][0]["CpuCredits"] == "standard"


# ----------------------------------------------------------------------------- volumes


def test_describe_volumes_root_volume_of_each_instance(ec2):
    iid = running_instance(ec2)
    vol = instance(ec2, iid)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    got = ec2.describe_volumes(VolumeIds=[vol])["Volumes"]
    assert len(got) == 1
    v = got[0]
    assert (v["State"], v["Size"], v["VolumeType"]) == ("in-use", 8, "gp3")
    assert v["Attachments"][0]["InstanceId"] == iid
    assert v["Attachments"][0]["Device"] == "/dev/xvda"
    assert v["Attachments"][0]["DeleteOnTermination"] is True
    assert v["AvailabilityZone"] == instance(ec2, iid)["Placement"]["AvailabilityZone"]
    by_filter = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["Volumes"]
    assert [x["VolumeId"] for x in by_filter] == [vol]
    # Deleted with its instance.
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    with ec2_error("InvalidVolume.NotFound", message=f"The volume '{vol}' does not exist."):
        ec2.describe_volumes(VolumeIds=[vol])


def test_describe_volumes_errors_and_pages(ec2):
    for _ in range(3):
        run_one(ec2)
    with ec2_error("InvalidVolumeID.Malformed"):
        ec2.describe_volumes(VolumeIds=["vol-xyz"])
    with ec2_error("InvalidParameterCombination"):
        ec2.describe_volumes(VolumeIds=["vol-0123456789abcdef0"], MaxResults=5)
    pages = list(ec2.get_paginator("describe_volumes").paginate(
        PaginationConfig={"PageSize": 5}))
    ids = [v["VolumeId"] for p in pages for v in p["Volumes"]]
    assert len(ids) == len(set(ids)) >= 3


# ----------------------------------------------------------------------------- network


def test_default_vpc_and_subnets(ec2):
    vpcs = ec2.describe_vpcs()["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["IsDefault"] and vpcs[0]["CidrBlock"] == "172.31.0.0/16"
    vpc = vpcs[0]["VpcId"]
    assert ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"] == vpcs
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len(subnets) >= 2 and all(s["DefaultForAz"] for s in subnets)
    zones = {s["AvailabilityZone"] for s in subnets}
    assert all(z.startswith(REGION) for z in zones) and len(zones) == len(subnets)
    one = subnets[0]
    assert ec2.describe_subnets(SubnetIds=[one["SubnetId"]])["Subnets"] == [one]
    az = ec2.describe_subnets(Filters=[
        {"Name": "availability-zone", "Values": [one["AvailabilityZone"]]},
        {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    assert az == [one]
    # Instances launch into these subnets.
    iid = run_one(ec2, SubnetId=one["SubnetId"])
    assert instance(ec2, iid)["VpcId"] == vpc
    with ec2_error("InvalidVpcID.NotFound"):
        ec2.describe_vpcs(VpcIds=["vpc-0123456789abcdef0"])
    with ec2_error("InvalidSubnetID.NotFound"):
        ec2.describe_subnets(SubnetIds=["subnet-0123456789abcdef0"])


def test_default_vpc_attributes_and_main_route_table(ec2):
    """What data "aws_vpc" reads besides DescribeVpcs (with its camelCase `isDefault`)."""
    by_alias = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    assert by_alias == ec2.describe_vpcs()["Vpcs"]
    vpc = by_alias[0]["VpcId"]
    for name, member, value in (("enableDnsSupport", "EnableDnsSupport", True),
                                ("enableDnsHostnames", "EnableDnsHostnames", True),
                                ("enableNetworkAddressUsageMetrics",
                                 "EnableNetworkAddressUsageMetrics", False)):
        got = ec2.describe_vpc_attribute(VpcId=vpc, Attribute=name)
        assert (got["VpcId"], got[member]) == (vpc, {"Value": value})
    with ec2_error("InvalidVpcID.NotFound"):
        ec2.describe_vpc_attribute(VpcId="vpc-0123456789abcdef0", Attribute="enableDnsSupport")
    tables = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [vpc]},
        {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert len(tables) == 1 and tables[0]["Associations"][0]["Main"] is True
    routes = {r["DestinationCidrBlock"]: r["GatewayId"] for r in tables[0]["Routes"]}
    assert routes["172.31.0.0/16"] == "local" and routes["0.0.0.0/0"].startswith("igw-")
    assert ec2.describe_route_tables(Filters=[
        {"Name": "association.main", "Values": ["false"]}])["RouteTables"] == []


def test_unimplemented_actions_are_invalid_action(server):
    for action in ("CreateVolume", "DescribeSpotPriceHistory", "CreateInternetGateway",
                   "AuthorizeSecurityGroupIngress"):
        resp = raw(server.endpoint, {"Action": action}, region=REGION)
        assert (resp.status, resp.error[0]) == (400, "InvalidAction"), (action, resp.body[:300])


def test_run_instances_client_token_is_idempotent(ec2):
    """RunInstances with a ClientToken (Terraform sends one): the same request again returns
    the same reservation and launches nothing; other parameters under the same token are
    IdempotentParameterMismatch (EC2 API reference, "Ensuring idempotency")."""
    params = dict(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=2, MaxCount=2,
                  ClientToken="tf-idempotency-1",
                  MetadataOptions={"HttpTokens": "required"})
    first = ec2.run_instances(**params)
    before = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}
    again = ec2.run_instances(**params)
    assert again["ReservationId"] == first["ReservationId"]
    assert [i["InstanceId"] for i in again["Instances"]] == \
        [i["InstanceId"] for i in first["Instances"]]
    with ec2_error("IdempotentParameterMismatch"):
        ec2.run_instances(**(params | {"InstanceType": "m5.large"}))
    after = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
             for i in r["Instances"]}
    assert after == before
    assert all(i["ClientToken"] == "tf-idempotency-1" for i in first["Instances"])
