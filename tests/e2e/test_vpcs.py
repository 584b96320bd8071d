"""VPCs and subnets through boto3 (issue 11): AvailableIpAddressCount as instances take and
release addresses; CreateVpc / DeleteVpc / CreateSubnet / DeleteSubnet with EC2's CIDR rules
and errors; Describe* of created ones and their filters; launches into a created subnet.
Every response is held to botocore's model (helpers.make_client).

Sources: EC2 API reference (CreateVpc: "/16 netmask … /28 netmask"; Subnet.AvailableIpAddressCount:
"The number of unused private IPv4 addresses in the subnet"), the VPC User Guide ("Subnet CIDR
blocks": the first four and the last address of each subnet are reserved), error codes and
wording as real EC2 answers them (quoted in public Terraform output: "InvalidSubnet.Range: The
CIDR '10.8.1.0/32' is invalid."; "DependencyViolation: The vpc 'vpc-…' has dependencies and
cannot be deleted."), and the OpenStack ec2-api functional tests written against AWS
(ec2api/tests/functional/api/test_subnets.py)."""
from __future__ import annotations

import pytest

import helpers
from helpers import ImdsServer, ec2_error, instance, run_ids, wait_state
from iam_helpers import FULL_ACCESS, Acct, Clients, doc, iam_server, make_user, uniq, unauthorized

REGION = "eu-west-3"


@pytest.fixture(scope="module")
def ec2(server):
    return server.client(REGION)


def subnet(ec2, subnet_id: str) -> dict:
    got = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    assert len(got) == 1
    return got[0]


def available(ec2, subnet_id: str) -> int:
    return subnet(ec2, subnet_id)["AvailableIpAddressCount"]


# ----------------------------------------------------------------------------- addresses


def test_available_ip_address_count_follows_default_subnet_instances(ec2):
    """A default subnet is /20: 4096 − 5 reserved = 4091 usable. Each instance not yet
    terminated holds one; termination releases it (EC2 User Guide, "Private IPv4 addresses":
    the address is released when the instance is terminated)."""
    default = [s for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    one = sorted(default, key=lambda s: s["AvailabilityZone"])[-1]
    assert one["CidrBlock"].endswith("/20")
    before = one["AvailableIpAddressCount"]
    assert before == 4091
    ids = run_ids(ec2, 3, SubnetId=one["SubnetId"])
    assert available(ec2, one["SubnetId"]) == before - 3
    # Every other subnet is untouched.
    for other in default:
        if other["SubnetId"] != one["SubnetId"]:
            assert available(ec2, other["SubnetId"]) == 4091
    ec2.terminate_instances(InstanceIds=ids[:2])
    for iid in ids[:2]:
        wait_state(ec2, iid, "terminated")
    assert available(ec2, one["SubnetId"]) == before - 1
    ec2.terminate_instances(InstanceIds=ids[2:])
    wait_state(ec2, ids[2], "terminated")
    assert available(ec2, one["SubnetId"]) == before


# ----------------------------------------------------------------------------- VPCs


def create_vpc(ec2, block: str = "10.0.0.0/16", **kw) -> dict:
    return ec2.create_vpc(CidrBlock=block, **kw)["Vpc"]


def create_subnet(ec2, vpc_id: str, block: str, **kw) -> dict:
    return ec2.create_subnet(VpcId=vpc_id, CidrBlock=block, **kw)["Subnet"]


def names(tags: list[dict] | None) -> dict:
    return {t["Key"]: t["Value"] for t in tags or []}


def test_create_vpc_describe_filter_and_tag(ec2):
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    vpc = create_vpc(ec2, "10.20.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "fleet"}]}])
    vid = vpc["VpcId"]
    assert vid.startswith("vpc-") and len(vid) == 21
    # CreateVpc answers `pending` (EC2 API reference example); DescribeVpcs `available`.
    assert (vpc["State"], vpc["CidrBlock"], vpc["IsDefault"]) == ("pending", "10.20.0.0/16", False)
    assert vpc["InstanceTenancy"] == "default" and names(vpc["Tags"]) == {"Name": "fleet"}
    got = ec2.describe_vpcs(VpcIds=[vid])["Vpcs"]
    assert len(got) == 1 and got[0]["State"] == "available"
    # Every VPC of the Region gets the Region's default DHCP options set.
    assert got[0]["DhcpOptionsId"] == default["DhcpOptionsId"]
    assert got[0]["CidrBlockAssociationSet"][0]["CidrBlock"] == "10.20.0.0/16"
    ec2.get_waiter("vpc_available").wait(VpcIds=[vid])
    for f in ({"Name": "vpc-id", "Values": [vid]},
              {"Name": "cidr", "Values": ["10.20.0.0/16"]},
              {"Name": "tag:Name", "Values": ["fleet"]},
              {"Name": "tag-key", "Values": ["Name"]}):
        assert [v["VpcId"] for v in ec2.describe_vpcs(Filters=[f])["Vpcs"]] == [vid], f
    not_default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["false"]}])["Vpcs"]
    assert vid in {v["VpcId"] for v in not_default}
    assert default["VpcId"] not in {v["VpcId"] for v in not_default}
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vid]}])["Tags"]
    assert tags == [{"ResourceId": vid, "ResourceType": "vpc", "Key": "Name", "Value": "fleet"}]
    ec2.create_tags(Resources=[vid], Tags=[{"Key": "env", "Value": "dev"}])
    assert names(ec2.describe_vpcs(VpcIds=[vid])["Vpcs"][0]["Tags"]) == {"Name": "fleet", "env": "dev"}
    ec2.delete_tags(Resources=[vid], Tags=[{"Key": "Name"}])
    assert names(ec2.describe_vpcs(VpcIds=[vid])["Vpcs"][0]["Tags"]) == {"env": "dev"}
    ec2.delete_vpc(VpcId=vid)


def test_vpc_is_regional(server, ec2):
    vid = create_vpc(ec2, "10.21.0.0/16")["VpcId"]
    elsewhere = server.client("eu-north-1")
    with ec2_error("InvalidVpcID.NotFound", message=f"The vpc ID '{vid}' does not exist"):
        elsewhere.describe_vpcs(VpcIds=[vid])
    assert vid not in {v["VpcId"] for v in elsewhere.describe_vpcs()["Vpcs"]}
    ec2.delete_vpc(VpcId=vid)


@pytest.mark.parametrize("block", ["10.0.0.0/8", "10.0.0.0/15", "10.0.0.0/29", "10.0.0.0/32"])
def test_create_vpc_size_outside_16_to_28_is_invalid_vpc_range(ec2, block):
    with ec2_error("InvalidVpc.Range", message=f"The CIDR '{block}' is invalid."):
        ec2.create_vpc(CidrBlock=block)


@pytest.mark.parametrize("block", ["10.0.0/16", "10.0.0.0", "10.0.0.256/16", "banana", "10.0.0.0/33"])
def test_create_vpc_not_a_cidr_block(ec2, block):
    with ec2_error("InvalidParameterValue",
                   message=f"Value ({block}) for parameter cidrBlock is invalid. "
                           "This is not a valid CIDR block."):
        ec2.create_vpc(CidrBlock=block)


def test_create_vpc_sizes_16_and_28_and_host_bits(ec2):
    big = create_vpc(ec2, "10.30.0.0/16")
    small = create_vpc(ec2, "10.31.0.0/28")
    # A block given with host bits set is kept as its network (UNCONFIRMED, as moto does).
    loose = create_vpc(ec2, "10.32.1.7/24")
    assert loose["CidrBlock"] == "10.32.1.0/24"
    for v in (big, small, loose):
        ec2.delete_vpc(VpcId=v["VpcId"])


def test_create_vpc_missing_block_and_bad_tenancy(ec2):
    with ec2_error("MissingParameter"):
        ec2.create_vpc()
    with ec2_error("InvalidParameterValue"):
        ec2.create_vpc(CidrBlock="10.0.0.0/16", InstanceTenancy="host")
    with ec2_error("InvalidParameterValue",
                   message="'subnet' is not a valid taggable resource type for this operation."):
        ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
            {"ResourceType": "subnet", "Tags": [{"Key": "a", "Value": "b"}]}])


# ----------------------------------------------------------------------------- subnets


def test_subnet_cidr_rules(ec2):
    """As the OpenStack ec2-api functional tests found on AWS (test_subnets.py): a block
    outside the VPC's, larger than it, or smaller than /28 is InvalidSubnet.Range; one
    overlapping another subnet of the VPC is InvalidSubnet.Conflict."""
    vid = create_vpc(ec2, "10.2.0.0/20")["VpcId"]
    first = create_subnet(ec2, vid, "10.2.0.0/24")
    assert first["CidrBlock"] == "10.2.0.0/24" and first["VpcId"] == vid
    assert first["State"] == "available" and first["DefaultForAz"] is False
    assert first["MapPublicIpOnLaunch"] is False
    # 256 − 5 reserved (the first four and the last).
    assert first["AvailableIpAddressCount"] == 251
    for block in ("10.1.0.0/24", "10.2.0.0/19", "10.2.1.0/29", "10.2.16.0/24"):
        with ec2_error("InvalidSubnet.Range", message=f"The CIDR '{block}' is invalid."):
            ec2.create_subnet(VpcId=vid, CidrBlock=block)
    for block in ("10.2.0.128/26", "10.2.0.0/20", "10.2.0.0/23"):
        with ec2_error("InvalidSubnet.Conflict",
                       message=f"The CIDR '{block}' conflicts with another subnet"):
            ec2.create_subnet(VpcId=vid, CidrBlock=block)
    with ec2_error("InvalidParameterValue", message_re="This is not a valid CIDR block"):
        ec2.create_subnet(VpcId=vid, CidrBlock="10.2.1.0")
    with ec2_error("InvalidVpcID.NotFound"):
        ec2.create_subnet(VpcId="vpc-0123456789abcdef0", CidrBlock="10.2.1.0/24")
    # Adjacent blocks do not conflict; /16 of a /16 VPC is allowed.
    second = create_subnet(ec2, vid, "10.2.1.0/24")
    whole = create_vpc(ec2, "10.40.0.0/16")["VpcId"]
    all_of_it = create_subnet(ec2, whole, "10.40.0.0/16")
    assert all_of_it["AvailableIpAddressCount"] == 65536 - 5
    for s in (first, second, all_of_it):
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    ec2.delete_vpc(VpcId=vid)
    ec2.delete_vpc(VpcId=whole)


def test_subnet_zones(ec2):
    zones = sorted({s["AvailabilityZone"]: s["AvailabilityZoneId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]}.items())
    vid = create_vpc(ec2, "10.3.0.0/16")["VpcId"]
    by_name = create_subnet(ec2, vid, "10.3.0.0/24", AvailabilityZone=zones[1][0])
    assert (by_name["AvailabilityZone"], by_name["AvailabilityZoneId"]) == zones[1]
    by_id = create_subnet(ec2, vid, "10.3.1.0/24", AvailabilityZoneId=zones[2][1])
    assert (by_id["AvailabilityZone"], by_id["AvailabilityZoneId"]) == zones[2]
    chosen = create_subnet(ec2, vid, "10.3.2.0/24")
    assert (chosen["AvailabilityZone"], chosen["AvailabilityZoneId"]) in zones
    listed = ", ".join(z for z, _ in zones)
    with ec2_error("InvalidParameterValue",
                   message="Value (us-east-1a) for parameter availabilityZone is invalid. Subnets "
                           f"can currently only be created in the following availability zones: {listed}."):
        ec2.create_subnet(VpcId=vid, CidrBlock="10.3.3.0/24", AvailabilityZone="us-east-1a")
    with ec2_error("InvalidParameterValue"):
        ec2.create_subnet(VpcId=vid, CidrBlock="10.3.3.0/24", AvailabilityZoneId="use1-az1")
    got = ec2.describe_subnets(Filters=[
        {"Name": "vpc-id", "Values": [vid]},
        {"Name": "availability-zone", "Values": [zones[1][0]]}])["Subnets"]
    same_zone = [s["SubnetId"] for s in (by_name, by_id, chosen)
                 if s["AvailabilityZone"] == zones[1][0]]
    assert [s["SubnetId"] for s in got] == same_zone
    for s in (by_name, by_id, chosen):
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    ec2.delete_vpc(VpcId=vid)


def test_describe_subnets_of_created_vpcs_and_filters(ec2):
    vid = create_vpc(ec2, "10.4.0.0/16")["VpcId"]
    a = create_subnet(ec2, vid, "10.4.0.0/24", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "web"}]}])
    b = create_subnet(ec2, vid, "10.4.1.0/28")
    assert names(a["Tags"]) == {"tier": "web"} and "Tags" not in b
    assert b["AvailableIpAddressCount"] == 11
    in_vpc = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"]
    assert [s["SubnetId"] for s in in_vpc] == [a["SubnetId"], b["SubnetId"]]
    for f, want in (({"Name": "cidr-block", "Values": ["10.4.1.0/28"]}, [b]),
                    ({"Name": "cidrBlock", "Values": ["10.4.0.0/24"]}, [a]),
                    ({"Name": "tag:tier", "Values": ["web"]}, [a]),
                    ({"Name": "tag-key", "Values": ["tier"]}, [a]),
                    ({"Name": "subnet-id", "Values": [b["SubnetId"]]}, [b]),
                    ({"Name": "state", "Values": ["available"]}, [a, b]),
                    ({"Name": "default-for-az", "Values": ["false"]}, [a, b])):
        got = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}, f])["Subnets"]
        assert [s["SubnetId"] for s in got] == [s["SubnetId"] for s in want], f
    assert ec2.describe_subnets(SubnetIds=[b["SubnetId"]])["Subnets"][0]["CidrBlock"] == "10.4.1.0/28"
    tags = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["subnet"]}])["Tags"]
    assert {"ResourceId": a["SubnetId"], "ResourceType": "subnet", "Key": "tier",
            "Value": "web"} in tags
    with ec2_error("InvalidParameterValue", message="The filter 'bogus' is invalid"):
        ec2.describe_subnets(Filters=[{"Name": "bogus", "Values": ["x"]}])
    for s in (a, b):
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    ec2.delete_vpc(VpcId=vid)


def test_subnet_in_the_default_vpc(ec2):
    """A subnet of one's own in the default VPC: beside the default /20s, not over them."""
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    with ec2_error("InvalidSubnet.Conflict"):
        ec2.create_subnet(VpcId=default["VpcId"], CidrBlock="172.31.0.0/24")
    mine = create_subnet(ec2, default["VpcId"], "172.31.200.0/24")
    assert mine["DefaultForAz"] is False
    with ec2_error("DependencyViolation",
                   message=f"The vpc '{default['VpcId']}' has dependencies and cannot be deleted."):
        ec2.delete_vpc(VpcId=default["VpcId"])
    ec2.delete_subnet(SubnetId=mine["SubnetId"])


# ----------------------------------------------------------------------------- launches


def test_launch_into_a_slash_28_until_full(ec2):
    """A /28 holds 16 addresses, 5 reserved: 11 instances, at .4 to .14 of the block; the 12th
    is InsufficientFreeAddressesInSubnet. A terminated instance's address is free again."""
    vid = create_vpc(ec2, "10.5.0.0/16")["VpcId"]
    sub = create_subnet(ec2, vid, "10.5.7.16/28")
    sid = sub["SubnetId"]
    got = ec2.run_instances(ImageId="ami-0abcdef1234567890", InstanceType="t3.micro",
                            MinCount=11, MaxCount=11, SubnetId=sid)["Instances"]
    ips = sorted(int(i["PrivateIpAddress"].rsplit(".", 1)[1]) for i in got)
    assert ips == list(range(20, 31))  # 10.5.7.20 .. 10.5.7.30: not .16-.19, not .31
    for i in got:
        assert (i["SubnetId"], i["VpcId"]) == (sid, vid)
        assert i["Placement"]["AvailabilityZone"] == sub["AvailabilityZone"]
        assert i["SecurityGroups"][0]["GroupName"] == "default"
    assert available(ec2, sid) == 0
    with ec2_error("InsufficientFreeAddressesInSubnet",
                   message=f"There are not enough free addresses in subnet '{sid}' to satisfy "
                           "the requested number of instances."):
        run_ids(ec2, 1, SubnetId=sid)
    ids = [i["InstanceId"] for i in got]
    listed = ec2.describe_instances(Filters=[{"Name": "subnet-id", "Values": [sid]}])
    assert {i["InstanceId"] for r in listed["Reservations"] for i in r["Instances"]} == set(ids)
    assert instance(ec2, ids[0])["VpcId"] == vid
    # A reserved address cannot be asked for.
    ec2.terminate_instances(InstanceIds=[ids[0]])
    wait_state(ec2, ids[0], "terminated")
    assert available(ec2, sid) == 1
    with ec2_error("InvalidParameterValue"):
        run_ids(ec2, 1, SubnetId=sid, PrivateIpAddress="10.5.7.17")
    again = run_ids(ec2, 1, SubnetId=sid)
    assert instance(ec2, again[0])["PrivateIpAddress"] == got[0]["PrivateIpAddress"]
    ec2.terminate_instances(InstanceIds=ids[1:] + again)
    for iid in ids[1:] + again:
        wait_state(ec2, iid, "terminated")
    assert available(ec2, sid) == 11
    ec2.delete_subnet(SubnetId=sid)
    ec2.delete_vpc(VpcId=vid)


def test_launch_zone_must_be_the_subnets(ec2):
    """A Placement zone other than the subnet's is refused (code as EC2; its wording is
    UNCONFIRMED); the subnet's own zone is accepted."""
    vid = create_vpc(ec2, "10.12.0.0/16")["VpcId"]
    sub = create_subnet(ec2, vid, "10.12.0.0/28", AvailabilityZone=f"{REGION}a")
    with ec2_error("InvalidParameterValue"):
        run_ids(ec2, 1, SubnetId=sub["SubnetId"], Placement={"AvailabilityZone": f"{REGION}b"})
    iid = run_ids(ec2, 1, SubnetId=sub["SubnetId"], Placement={"AvailabilityZone": f"{REGION}a"})[0]
    assert instance(ec2, iid)["Placement"]["AvailabilityZone"] == f"{REGION}a"
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    ec2.delete_subnet(SubnetId=sub["SubnetId"])
    ec2.delete_vpc(VpcId=vid)


def test_launch_into_unknown_subnet(ec2):
    with ec2_error("InvalidSubnetID.NotFound",
                   message="The subnet ID 'subnet-0123456789abcdef0' does not exist"):
        run_ids(ec2, 1, SubnetId="subnet-0123456789abcdef0")


# ----------------------------------------------------------------------------- deletion


def test_delete_with_dependencies(ec2):
    vid = create_vpc(ec2, "10.6.0.0/16")["VpcId"]
    sid = create_subnet(ec2, vid, "10.6.0.0/24")["SubnetId"]
    with ec2_error("DependencyViolation",
                   message=f"The vpc '{vid}' has dependencies and cannot be deleted."):
        ec2.delete_vpc(VpcId=vid)
    iid = run_ids(ec2, 1, SubnetId=sid)[0]
    with ec2_error("DependencyViolation",
                   message=f"The subnet '{sid}' has dependencies and cannot be deleted."):
        ec2.delete_subnet(SubnetId=sid)
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    # A terminated instance holds nothing.
    ec2.delete_subnet(SubnetId=sid)
    with ec2_error("InvalidSubnetID.NotFound"):
        ec2.describe_subnets(SubnetIds=[sid])
    with ec2_error("InvalidSubnetID.NotFound"):
        ec2.delete_subnet(SubnetId=sid)
    with ec2_error("InvalidSubnetID.NotFound"):
        run_ids(ec2, 1, SubnetId=sid)
    ec2.delete_vpc(VpcId=vid)
    with ec2_error("InvalidVpcID.NotFound", message=f"The vpc ID '{vid}' does not exist"):
        ec2.describe_vpcs(VpcIds=[vid])
    with ec2_error("InvalidVpcID.NotFound"):
        ec2.delete_vpc(VpcId=vid)
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vid, sid]}])["Tags"] == []


def test_default_vpc_cannot_be_deleted(ec2):
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    with ec2_error("DependencyViolation"):
        ec2.delete_vpc(VpcId=default["VpcId"])


def test_dry_run_changes_nothing(ec2):
    before = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    with ec2_error("DryRunOperation", status=412):
        ec2.create_vpc(CidrBlock="10.7.0.0/16", DryRun=True)
    # Validation comes first: a bad block is its error, not DryRunOperation.
    with ec2_error("InvalidVpc.Range"):
        ec2.create_vpc(CidrBlock="10.7.0.0/8", DryRun=True)
    assert {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} == before
    vid = create_vpc(ec2, "10.7.0.0/16")["VpcId"]
    with ec2_error("DryRunOperation", status=412):
        ec2.create_subnet(VpcId=vid, CidrBlock="10.7.0.0/24", DryRun=True)
    with ec2_error("InvalidSubnet.Range"):
        ec2.create_subnet(VpcId=vid, CidrBlock="10.8.0.0/24", DryRun=True)
    assert ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"] == []
    sid = create_subnet(ec2, vid, "10.7.0.0/24")["SubnetId"]
    with ec2_error("DryRunOperation", status=412):
        ec2.delete_subnet(SubnetId=sid, DryRun=True)
    with ec2_error("DependencyViolation"):
        ec2.delete_vpc(VpcId=vid, DryRun=True)
    ec2.delete_subnet(SubnetId=sid)
    with ec2_error("DryRunOperation", status=412):
        ec2.delete_vpc(VpcId=vid, DryRun=True)
    assert ec2.describe_vpcs(VpcIds=[vid])["Vpcs"]
    ec2.delete_vpc(VpcId=vid)


# ----------------------------------------------------------------------------- what a VPC brings


def test_created_vpc_route_table_acl_security_group_attributes(ec2):
    """What Terraform's aws_vpc reads after each change: DescribeVpcAttribute, the main route
    table (local route only: no internet gateway until one is attached), the default network
    ACL (every subnet associated) and the default security group."""
    vid = create_vpc(ec2, "10.9.0.0/16")["VpcId"]
    sid = create_subnet(ec2, vid, "10.9.1.0/24")["SubnetId"]
    for name, member, value in (("enableDnsSupport", "EnableDnsSupport", True),
                                ("enableDnsHostnames", "EnableDnsHostnames", False),
                                ("enableNetworkAddressUsageMetrics",
                                 "EnableNetworkAddressUsageMetrics", False)):
        got = ec2.describe_vpc_attribute(VpcId=vid, Attribute=name)
        assert (got["VpcId"], got[member]) == (vid, {"Value": value})
    tables = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [vid]},
        {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert len(tables) == 1
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in tables[0]["Routes"]] == \
        [("10.9.0.0/16", "local")]
    acls = ec2.describe_network_acls(Filters=[
        {"Name": "vpc-id", "Values": [vid]}, {"Name": "default", "Values": ["true"]}])["NetworkAcls"]
    assert len(acls) == 1 and acls[0]["IsDefault"] is True
    assert [a["SubnetId"] for a in acls[0]["Associations"]] == [sid]
    rules = {(e["Egress"], e["RuleNumber"], e["RuleAction"]) for e in acls[0]["Entries"]}
    assert rules == {(False, 100, "allow"), (False, 32767, "deny"),
                     (True, 100, "allow"), (True, 32767, "deny")}
    groups = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [vid]}, {"Name": "group-name", "Values": ["default"]}])
    assert len(groups["SecurityGroups"]) == 1
    sg = groups["SecurityGroups"][0]
    assert sg["VpcId"] == vid and sg["GroupName"] == "default"
    iid = run_ids(ec2, 1, SubnetId=sid)[0]
    assert instance(ec2, iid)["SecurityGroups"] == [{"GroupId": sg["GroupId"], "GroupName": "default"}]
    assert ec2.describe_security_groups(GroupIds=[sg["GroupId"]])["SecurityGroups"] == [sg]
    with ec2_error("InvalidGroup.NotFound"):
        ec2.describe_security_groups(GroupIds=["sg-0123456789abcdef0"])
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    ec2.delete_subnet(SubnetId=sid)
    ec2.delete_vpc(VpcId=vid)
    assert ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vid]}])["RouteTables"] == []


def test_describe_network_interfaces_of_a_subnet(ec2):
    """What Terraform lists before DeleteSubnet: the interfaces in the subnet. Each instance's
    primary interface is there while it lives, and goes with it (DeleteOnTermination)."""
    vid = create_vpc(ec2, "10.10.0.0/16")["VpcId"]
    sid = create_subnet(ec2, vid, "10.10.0.0/28")["SubnetId"]
    by_subnet = [{"Name": "subnet-id", "Values": [sid]}]
    assert ec2.describe_network_interfaces(Filters=by_subnet)["NetworkInterfaces"] == []
    iid = run_ids(ec2, 1, SubnetId=sid)[0]
    inst = instance(ec2, iid)
    enis = ec2.describe_network_interfaces(Filters=by_subnet)["NetworkInterfaces"]
    assert len(enis) == 1
    eni = enis[0]
    assert eni["NetworkInterfaceId"] == inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
    assert (eni["SubnetId"], eni["VpcId"], eni["Status"]) == (sid, vid, "in-use")
    assert eni["PrivateIpAddress"] == inst["PrivateIpAddress"] == "10.10.0.4"
    assert eni["Attachment"]["InstanceId"] == iid
    assert ec2.describe_network_interfaces(
        NetworkInterfaceIds=[eni["NetworkInterfaceId"]])["NetworkInterfaces"] == [eni]
    with ec2_error("InvalidNetworkInterfaceID.NotFound"):
        ec2.describe_network_interfaces(NetworkInterfaceIds=["eni-0123456789abcdef0"])
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    assert ec2.describe_network_interfaces(Filters=by_subnet)["NetworkInterfaces"] == []
    ec2.delete_subnet(SubnetId=sid)
    ec2.delete_vpc(VpcId=vid)


# ----------------------------------------------------------------------------- aws CLI


@pytest.mark.cli
def test_aws_cli_vpc_flow(server):
    """create-vpc, create-subnet (with --tag-specifications), run-instances into it,
    describe-subnets showing the address taken, then everything deleted, as a user types it."""
    region = "eu-west-2"
    vpc = server.aws_json("create-vpc", "--cidr-block", "10.70.0.0/24",
                          "--tag-specifications",
                          "ResourceType=vpc,Tags=[{Key=Name,Value=cli}]", region=region)["Vpc"]
    vid = vpc["VpcId"]
    sub = server.aws_json("create-subnet", "--vpc-id", vid, "--cidr-block",
                          "10.70.0.0/28", region=region)["Subnet"]
    sid = sub["SubnetId"]
    assert sub["AvailableIpAddressCount"] == 11
    run = server.aws_json("run-instances", "--image-id", "ami-0abcdef1234567890",
                          "--instance-type", "t3.micro", "--subnet-id", sid, "--count", "2",
                          region=region)
    ids = [i["InstanceId"] for i in run["Instances"]]
    count = server.aws_json("describe-subnets", "--subnet-ids", sid, "--query",
                            "Subnets[0].AvailableIpAddressCount", region=region)
    assert count == 9
    names = server.aws("describe-vpcs", "--filters", "Name=tag:Name,Values=cli",
                       "--query", "Vpcs[].VpcId", output="text", region=region)
    assert names.stdout.split() == [vid]
    denied = server.aws("delete-vpc", "--vpc-id", vid, region=region, output=None, check=False)
    assert denied.returncode != 0 and "DependencyViolation" in denied.stderr
    server.aws_json("terminate-instances", "--instance-ids", *ids, region=region)
    waited = server.aws("wait", "instance-terminated", "--instance-ids", *ids,
                        region=region, output=None, check=False)
    assert waited.returncode == 0, waited.stderr
    assert server.aws("delete-subnet", "--subnet-id", sid, region=region,
                      output=None, check=False).returncode == 0
    assert server.aws("delete-vpc", "--vpc-id", vid, region=region,
                      output=None, check=False).returncode == 0
    gone = server.aws("describe-vpcs", "--vpc-ids", vid, region=region, output=None, check=False)
    assert gone.returncode != 0 and "InvalidVpcID.NotFound" in gone.stderr


# ----------------------------------------------------------------------------- durability


def test_vpcs_and_subnets_survive_a_restart(server_factory, tmp_path):
    srv = server_factory(data_dir=tmp_path / "data")
    ec2 = srv.client(REGION)
    vid = create_vpc(ec2, "10.11.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "kept"}]}])["VpcId"]
    sid = create_subnet(ec2, vid, "10.11.0.0/28")["SubnetId"]
    iid = run_ids(ec2, 1, SubnetId=sid)[0]
    srv.restart()
    ec2 = srv.client(REGION)
    got = ec2.describe_vpcs(VpcIds=[vid])["Vpcs"][0]
    assert names(got["Tags"]) == {"Name": "kept"}
    assert subnet(ec2, sid)["AvailableIpAddressCount"] == 10
    assert instance(ec2, iid)["SubnetId"] == sid
    with ec2_error("DependencyViolation"):
        ec2.delete_subnet(SubnetId=sid)


# ----------------------------------------------------------------------------- IAM


VPC_OWNER = Acct("333344445555", "AKIAVPCOWNER00000001", "vpc/secret/key/0000000000000000000000001",
                 scps=[FULL_ACCESS])
DESCRIBE = {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}


@pytest.fixture(scope="module")
def iam_srv(tmp_path_factory):
    yield from helpers.running(iam_server(tmp_path_factory.mktemp("vpc-iam"), [VPC_OWNER]))


def user(srv, root, *statements):
    _, creds = make_user(root.iam(), uniq("u"), [doc(*statements)])
    return Clients(srv, creds).ec2(REGION)


def test_iam_create_vpc_on_vpc_arn_and_tag_on_create(iam_srv):
    """Service Authorization Reference: ec2:CreateVpc on `vpc/*`; tags given at creation are
    also checked as ec2:CreateTags with ec2:CreateAction = CreateVpc (EC2 User Guide, "Grant
    permission to tag Amazon EC2 resources during creation")."""
    root = Clients(iam_srv, VPC_OWNER)
    arn = f"arn:aws:ec2:{REGION}:{VPC_OWNER.id}"
    ec2 = user(iam_srv, root, DESCRIBE,
               {"Effect": "Allow", "Action": "ec2:CreateVpc", "Resource": f"{arn}:vpc/*"})
    vid = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    with unauthorized() as d:
        ec2.create_vpc(CidrBlock="10.51.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "x"}]}])
    assert (d.action, d.resource) == ("ec2:CreateTags", f"{arn}:vpc/*"), d.message
    tagger = user(iam_srv, root, DESCRIBE,
                  {"Effect": "Allow", "Action": "ec2:CreateVpc", "Resource": f"{arn}:vpc/*"},
                  {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": f"{arn}:vpc/*",
                   "Condition": {"StringEquals": {"ec2:CreateAction": "CreateVpc"}}})
    tagged = tagger.create_vpc(CidrBlock="10.52.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "x"}]}])["Vpc"]
    assert names(tagged["Tags"]) == {"Name": "x"}
    # Without the action at all: denied on vpc/*.
    nothing = user(iam_srv, root, DESCRIBE)
    with unauthorized() as d:
        nothing.create_vpc(CidrBlock="10.53.0.0/16")
    assert (d.action, d.resource) == ("ec2:CreateVpc", f"{arn}:vpc/*")
    # DeleteVpc is checked on the VPC itself.
    with unauthorized() as d:
        ec2.delete_vpc(VpcId=vid)
    assert (d.action, d.resource) == ("ec2:DeleteVpc", f"{arn}:vpc/{vid}")
    root.ec2(REGION).delete_vpc(VpcId=vid)
    root.ec2(REGION).delete_vpc(VpcId=tagged["VpcId"])


def test_iam_create_subnet_on_subnet_and_its_vpc(iam_srv):
    """ec2:CreateSubnet on `subnet/*` and on the VPC it goes in; DeleteSubnet on the subnet."""
    root = Clients(iam_srv, VPC_OWNER)
    admin = root.ec2(REGION)
    arn = f"arn:aws:ec2:{REGION}:{VPC_OWNER.id}"
    mine = create_vpc(admin, "10.54.0.0/16")["VpcId"]
    theirs = create_vpc(admin, "10.55.0.0/16")["VpcId"]
    ec2 = user(iam_srv, root, DESCRIBE,
               {"Effect": "Allow", "Action": "ec2:CreateSubnet",
                "Resource": [f"{arn}:subnet/*", f"{arn}:vpc/{mine}"]},
               {"Effect": "Allow", "Action": "ec2:DeleteSubnet", "Resource": f"{arn}:subnet/*"})
    sid = create_subnet(ec2, mine, "10.54.0.0/24")["SubnetId"]
    with unauthorized() as d:
        ec2.create_subnet(VpcId=theirs, CidrBlock="10.55.0.0/24")
    assert (d.action, d.resource) == ("ec2:CreateSubnet", f"{arn}:vpc/{theirs}"), d.message
    assert admin.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [theirs]}])["Subnets"] == []
    ec2.delete_subnet(SubnetId=sid)
    admin.delete_vpc(VpcId=mine)
    admin.delete_vpc(VpcId=theirs)
