"""DescribeImages, RegisterImage, ModifyImageAttribute / DescribeImageAttribute imdsSupport,
and what ImdsSupport does at launch."""
from __future__ import annotations

import uuid

import pytest

from helpers import (
    ACCOUNT, AMI_AL2, AMI_AL2023, AMI_UBUNTU, CATALOGUE_AMIS, IMAGE_ID_RE, assert_options,
    describe_ids, ec2_error, options, raw, run, run_one,
)


def name(prefix="img"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def images(ec2, **kw) -> dict[str, dict]:
    return {i["ImageId"]: i for i in ec2.describe_images(**kw)["Images"]}


def test_catalogue(ec2):
    got = images(ec2, ImageIds=list(CATALOGUE_AMIS))
    assert set(got) == set(CATALOGUE_AMIS)
    assert got[AMI_AL2023]["ImdsSupport"] == "v2.0"
    assert "ImdsSupport" not in got[AMI_AL2]
    assert "ImdsSupport" not in got[AMI_UBUNTU]
    for img in got.values():
        assert img["State"] == "available"
        assert img["Name"]


def test_catalogue_is_in_every_region(server):
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        got = images(server.client(region), ImageIds=list(CATALOGUE_AMIS))
        assert set(got) == set(CATALOGUE_AMIS)
        assert got[AMI_AL2023]["ImdsSupport"] == "v2.0"


def test_describe_all_includes_catalogue(ec2):
    assert set(CATALOGUE_AMIS) <= set(images(ec2))


def test_unknown_and_malformed_image_ids(ec2):
    with ec2_error("InvalidAMIID.NotFound", 400):
        ec2.describe_images(ImageIds=["ami-0123456789abcdef0"])
    with ec2_error("InvalidAMIID.Malformed", 400):
        ec2.describe_images(ImageIds=["ami-xyz"])
    with ec2_error("InvalidAMIID.NotFound", 400):
        run(ec2, image="ami-0123456789abcdef0")
    with ec2_error("InvalidAMIID.Malformed", 400):
        run(ec2, image="ami-xyz")


def test_register_image(ec2):
    n = name()
    image_id = ec2.register_image(Name=n, Description="test image")["ImageId"]
    assert IMAGE_ID_RE.match(image_id)
    img = images(ec2, ImageIds=[image_id])[image_id]
    assert img["Name"] == n
    assert img["OwnerId"] == ACCOUNT
    assert img["Public"] is False
    assert img["State"] == "available"
    assert "ImdsSupport" not in img


def test_register_image_with_imds_support(ec2):
    image_id = ec2.register_image(Name=name(), ImdsSupport="v2.0")["ImageId"]
    assert images(ec2, ImageIds=[image_id])[image_id]["ImdsSupport"] == "v2.0"
    attr = ec2.describe_image_attribute(ImageId=image_id, Attribute="imdsSupport")
    assert attr["ImdsSupport"] == {"Value": "v2.0"}


@pytest.mark.parametrize("value", ["v1.0", "V2.0", "v2", "2.0", ""])
def test_register_image_invalid_imds_support(ec2, value):
    n = name()
    before = set(images(ec2, Owners=["self"]))
    with ec2_error("InvalidParameterValue", 400):
        ec2.register_image(Name=n, ImdsSupport=value)
    after = images(ec2, Owners=["self"])
    assert set(after) == before
    assert all(i["Name"] != n for i in after.values())


def test_owners(ec2):
    mine = ec2.register_image(Name=name("owned"))["ImageId"]
    own = images(ec2, Owners=["self"])
    assert mine in own
    assert not set(CATALOGUE_AMIS) & set(own)
    assert all(i["OwnerId"] == ACCOUNT for i in own.values())
    amazon = images(ec2, Owners=["amazon"])
    assert {AMI_AL2, AMI_AL2023} <= set(amazon)
    assert mine not in amazon


def test_filters_name_and_image_id(ec2):
    prefix = name("flt")
    a = ec2.register_image(Name=f"{prefix}-a")["ImageId"]
    b = ec2.register_image(Name=f"{prefix}-b")["ImageId"]
    assert set(images(ec2, Filters=[{"Name": "name", "Values": [f"{prefix}-a"]}])) == {a}
    assert set(images(ec2, Filters=[{"Name": "name", "Values": [f"{prefix}-*"]}])) == {a, b}
    assert set(images(ec2, Filters=[{"Name": "name", "Values": [f"{prefix}-?"]}])) == {a, b}
    assert set(images(ec2, Filters=[{"Name": "image-id", "Values": [b, AMI_AL2]}])) == {b, AMI_AL2}
    catalogue_name = images(ec2, ImageIds=[AMI_UBUNTU])[AMI_UBUNTU]["Name"]
    assert AMI_UBUNTU in images(ec2, Filters=[{"Name": "name", "Values": [catalogue_name]}])
    assert set(images(ec2, Filters=[{"Name": "name", "Values": [f"{prefix}-a"]},
                                    {"Name": "image-id", "Values": [b]}])) == set()


def test_registered_image_is_regional(server, ec2):
    image_id = ec2.register_image(Name=name())["ImageId"]
    other = server.client("eu-west-1")
    with ec2_error("InvalidAMIID.NotFound", 400):
        other.describe_images(ImageIds=[image_id])


def test_describe_image_attribute_unset(server, ec2):
    image_id = ec2.register_image(Name=name())["ImageId"]
    attr = ec2.describe_image_attribute(ImageId=image_id, Attribute="imdsSupport")
    assert attr["ImageId"] == image_id
    assert attr.get("ImdsSupport", {}).get("Value") is None
    resp = raw(server.endpoint, {"Action": "DescribeImageAttribute", "ImageId": image_id,
                                 "Attribute": "imdsSupport"})
    assert resp.status == 200, resp
    el = resp.find("imdsSupport")
    assert el is not None, "empty imdsSupport element when unset (spec §8)"
    assert resp.find("imdsSupport/value") is None


def test_modify_image_attribute_is_irreversible(ec2):
    image_id = ec2.register_image(Name=name())["ImageId"]
    ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v2.0"})
    assert images(ec2, ImageIds=[image_id])[image_id]["ImdsSupport"] == "v2.0"
    # Setting it again is harmless.
    ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": "v2.0"})
    for bad in ("v1.0", ""):
        with ec2_error("InvalidParameterValue", 400):
            ec2.modify_image_attribute(ImageId=image_id, ImdsSupport={"Value": bad})
    attr = ec2.describe_image_attribute(ImageId=image_id, Attribute="imdsSupport")
    assert attr["ImdsSupport"] == {"Value": "v2.0"}


def test_modify_image_attribute_unknown_image(ec2):
    with ec2_error("InvalidAMIID.NotFound", 400):
        ec2.modify_image_attribute(ImageId="ami-0123456789abcdef0", ImdsSupport={"Value": "v2.0"})
    with ec2_error("InvalidAMIID.Malformed", 400):
        ec2.modify_image_attribute(ImageId="ami-zz", ImdsSupport={"Value": "v2.0"})


def test_launch_from_registered_images(ec2):
    plain = ec2.register_image(Name=name())["ImageId"]
    v2 = ec2.register_image(Name=name(), ImdsSupport="v2.0")["ImageId"]
    a = run(ec2, image=plain)[0]
    assert a["ImageId"] == plain
    assert_options(a["MetadataOptions"], HttpTokens="optional", HttpPutResponseHopLimit=1)
    b = run(ec2, image=v2)[0]
    assert_options(b["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=2)
    # Marking the plain image v2.0 affects later launches, not the instance already running.
    ec2.modify_image_attribute(ImageId=plain, ImdsSupport={"Value": "v2.0"})
    c = run(ec2, image=plain)[0]
    assert_options(c["MetadataOptions"], HttpTokens="required", HttpPutResponseHopLimit=2)
    assert_options(options(ec2, a["InstanceId"]), HttpTokens="optional",
                   HttpPutResponseHopLimit=1)
    assert describe_ids(ec2, filters={"image-id": plain}) == {a["InstanceId"], c["InstanceId"]}


def test_imds_support_applies_only_to_tokens_and_hop(ec2):
    inst = run(ec2, image=AMI_AL2023, itype="m5.large")[0]
    assert inst["MetadataOptions"] | {"State": None} == {
        "State": None, "HttpTokens": "required", "HttpPutResponseHopLimit": 2,
        "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "disabled"}
    iid = run_one(ec2, image=AMI_AL2023, metadata={"HttpPutResponseHopLimit": 1})
    assert_options(options(ec2, iid), HttpTokens="required", HttpPutResponseHopLimit=1)
