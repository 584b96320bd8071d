"""CreateTags / DeleteTags / DescribeTags, tags at launch, and the IMDS-safe tag key rule of
InstanceMetadataTags=enabled."""
from __future__ import annotations

import uuid

import pytest

from helpers import (
    AMI_AL2, describe_ids, ec2_error, instance, options, run_one, running_instance, tag_spec,
)


def tags_of(ec2, iid) -> dict:
    return {t["Key"]: t["Value"] for t in instance(ec2, iid).get("Tags", [])}


def described_tags(ec2, **filters) -> list[dict]:
    resp = ec2.describe_tags(Filters=[{"Name": k.replace("_", "-"), "Values": v if
                                       isinstance(v, list) else [v]} for k, v in filters.items()])
    return resp["Tags"]


def test_create_tags_and_describe(ec2):
    iid = run_one(ec2)
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "Name", "Value": "web"},
                                           {"Key": "env", "Value": "prod"}])
    assert tags_of(ec2, iid) == {"Name": "web", "env": "prod"}
    got = described_tags(ec2, resource_id=iid)
    assert sorted(got, key=lambda t: t["Key"]) == [
        {"Key": "Name", "ResourceId": iid, "ResourceType": "instance", "Value": "web"},
        {"Key": "env", "ResourceId": iid, "ResourceType": "instance", "Value": "prod"},
    ]


def test_create_tags_overwrites_value(ec2):
    iid = run_one(ec2, tags={"env": "dev"})
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "env", "Value": "prod"}])
    assert tags_of(ec2, iid) == {"env": "prod"}


def test_create_tags_on_several_resources(ec2):
    a, b = run_one(ec2), run_one(ec2)
    ec2.create_tags(Resources=[a, b], Tags=[{"Key": "fleet", "Value": "blue"}])
    assert tags_of(ec2, a) == {"fleet": "blue"}
    assert tags_of(ec2, b) == {"fleet": "blue"}


def test_empty_tag_value(ec2):
    iid = run_one(ec2)
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "flag", "Value": ""}])
    assert tags_of(ec2, iid) == {"flag": ""}


def test_tags_at_launch(ec2):
    resp = ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=2, MaxCount=2,
                             TagSpecifications=tag_spec({"Name": "launched", "env": "qa"}))
    for inst in resp["Instances"]:
        iid = inst["InstanceId"]
        assert tags_of(ec2, iid) == {"Name": "launched", "env": "qa"}
        got = described_tags(ec2, resource_id=iid)
        assert {(t["Key"], t["Value"], t["ResourceType"]) for t in got} == {
            ("Name", "launched", "instance"), ("env", "qa", "instance")}


def test_describe_tags_filters(ec2):
    k = f"k{uuid.uuid4().hex[:8]}"
    a = run_one(ec2, tags={k: "alpha", "common": "1"})
    b = run_one(ec2, tags={k: "beta"})
    image = ec2.register_image(Name=f"tagged-{k}")["ImageId"]
    ec2.create_tags(Resources=[image], Tags=[{"Key": k, "Value": "alpha"}])

    by_key = described_tags(ec2, key=k)
    assert {(t["ResourceId"], t["Value"]) for t in by_key} == {
        (a, "alpha"), (b, "beta"), (image, "alpha")}
    assert all(t["Key"] == k for t in by_key)

    by_value = [t for t in described_tags(ec2, value="alpha") if t["Key"] == k]
    assert {t["ResourceId"] for t in by_value} == {a, image}
    assert all(t["Value"] == "alpha" for t in described_tags(ec2, value="alpha"))

    instances = described_tags(ec2, key=k, resource_type="instance")
    assert {t["ResourceId"] for t in instances} == {a, b}
    images = described_tags(ec2, key=k, resource_type="image")
    assert [(t["ResourceId"], t["ResourceType"]) for t in images] == [(image, "image")]

    assert {t["Key"] for t in described_tags(ec2, resource_id=a)} == {k, "common"}
    assert {t["ResourceId"] for t in described_tags(ec2, key=k, value=["alpha", "beta"])} == {
        a, b, image}


def test_delete_tags_key_only(ec2):
    iid = run_one(ec2, tags={"a": "1", "b": "2"})
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "a"}])
    assert tags_of(ec2, iid) == {"b": "2"}


def test_delete_tags_with_value(ec2):
    iid = run_one(ec2, tags={"a": "1", "b": "2", "e": ""})
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "a", "Value": "other"}])
    assert tags_of(ec2, iid) == {"a": "1", "b": "2", "e": ""}, "value mismatch: kept"
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "a", "Value": "1"}])
    assert tags_of(ec2, iid) == {"b": "2", "e": ""}
    # An empty value deletes only a tag whose value is empty.
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "b", "Value": ""}])
    assert tags_of(ec2, iid) == {"b": "2", "e": ""}
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "e", "Value": ""}])
    assert tags_of(ec2, iid) == {"b": "2"}


def test_delete_tags_without_tags_deletes_all(ec2):
    iid = run_one(ec2, tags={"a": "1", "b": "2"})
    ec2.delete_tags(Resources=[iid])
    assert tags_of(ec2, iid) == {}
    assert described_tags(ec2, resource_id=iid) == []


def test_tags_of_unknown_instance(ec2):
    with ec2_error("InvalidInstanceID.NotFound", 400):
        ec2.create_tags(Resources=["i-0123456789abcdef9"], Tags=[{"Key": "a", "Value": "b"}])
    with ec2_error("InvalidInstanceID.NotFound", 400):
        ec2.delete_tags(Resources=["i-0123456789abcdef9"], Tags=[{"Key": "a"}])


# ----------------------------------------------------------------------------- IMDS-safe keys


@pytest.mark.parametrize("bad_key", ["has space", "a/b", "_index", ".", ".."])
def test_metadata_tags_refused_with_unsafe_key(ec2, bad_key):
    iid = running_instance(ec2, tags={bad_key: "v", "ok": "v"})
    before = options(ec2, iid)
    # EC2's own answer, quoted from live responses in aws-controllers-k8s/community#1789 and
    # aws/aws-cli#8825 (the spec's §3.2 only inferred a code); imds.md §8 agrees on the code.
    expected = (f"'{bad_key}' is not a valid tag key. Tag keys must match pattern "
                "([0-9a-zA-Z\\\\-_+=,.@:]{1,255}), and must not be a reserved name ('.', '..', '_index')")
    with ec2_error("InvalidParameterValue", 400, message=expected):
        ec2.modify_instance_metadata_options(InstanceId=iid, InstanceMetadataTags="enabled")
    assert options(ec2, iid) == before


@pytest.mark.parametrize("good_key", ["Name", "a-b_c.d:e@f+g=h,i", "...", "_index2", "x" * 128])
def test_metadata_tags_allowed_with_safe_keys(ec2, good_key):
    iid = running_instance(ec2, tags={good_key: "v"})
    resp = ec2.modify_instance_metadata_options(InstanceId=iid, InstanceMetadataTags="enabled")
    assert resp["InstanceMetadataOptions"]["InstanceMetadataTags"] == "enabled"


def test_launch_with_metadata_tags_and_unsafe_key_fails(ec2):
    marker = uuid.uuid4().hex
    with pytest.raises(Exception) as e:
        ec2.run_instances(ImageId=AMI_AL2, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                          MetadataOptions={"InstanceMetadataTags": "enabled"},
                          TagSpecifications=tag_spec({"bad key": "v", "marker": marker}))
    resp = getattr(e.value, "response", {})
    assert resp.get("ResponseMetadata", {}).get("HTTPStatusCode") == 400, e.value
    assert describe_ids(ec2, filters={"tag:marker": marker}) == set(), "nothing launched"
