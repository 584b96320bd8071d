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

from helpers import ec2_error, instance, run_ids, wait_state

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
