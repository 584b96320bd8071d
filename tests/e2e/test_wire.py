"""The EC2 Query wire format: envelopes, element names and order, GET vs POST, signing forms,
and a check of every action's XML against botocore's output shapes."""
from __future__ import annotations

import copy
import datetime
import re
import uuid
import xml.etree.ElementTree as ET

import pytest

from helpers import (
    AMI_AL2, AMI_AL2023, NS, OPTION_ELEMENT_ORDER, REGION, expect_raw_error, local,
    make_client, model_violations, raw, run_one, running_instance, wait_applied, wait_state,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def q(name):
    return f"{{{NS}}}{name}"


def without_request_id(body: bytes) -> bytes:
    root = ET.fromstring(body)
    for rid in root.findall(q("requestId")):
        root.remove(rid)
    return ET.tostring(root)


# ----------------------------------------------------------------------------- envelopes


def test_success_envelope(server, ec2):
    iid = run_one(ec2)
    resp = raw(server.endpoint, {"Action": "DescribeInstances", "InstanceId.1": iid})
    assert resp.status == 200, resp
    assert resp.headers["content-type"].replace(" ", "") == "text/xml;charset=UTF-8"
    assert resp.body.lstrip().startswith(b"<?xml"), resp.body[:60]
    root = resp.xml
    assert root.tag == q("DescribeInstancesResponse")
    children = list(root)
    assert children[0].tag == q("requestId")
    assert UUID_RE.match(children[0].text or ""), children[0].text
    assert [c.tag for c in children] == [q("requestId"), q("reservationSet")]
    assert "nextToken" not in {local(c.tag) for c in children}


def test_error_envelope(server):
    resp = raw(server.endpoint, {"Action": "DescribeInstances", "InstanceId.1": "i-0123456789abcdef9"})
    expect_raw_error(resp, "InvalidInstanceID.NotFound", 400)
    root = resp.xml
    assert root.tag == "Response"
    assert [c.tag for c in root] == ["Errors", "RequestID"]
    assert UUID_RE.match(root.find("RequestID").text), root.find("RequestID").text
    assert resp.headers["content-type"].startswith("text/xml")
    assert b"xmlns" not in resp.body


def test_request_ids_are_unique(server):
    ids = set()
    for _ in range(5):
        ids.add(raw(server.endpoint, {"Action": "GetInstanceMetadataDefaults"}).text("requestId"))
        ids.add(raw(server.endpoint, {"Action": "Nope"}).error[2])
    assert len(ids) == 10


# ----------------------------------------------------------------------------- GET / POST


@pytest.mark.parametrize("params_fn", [
    lambda iid: {"Action": "DescribeInstances", "InstanceId.1": iid},
    lambda iid: {"Action": "DescribeInstances", "Filter.1.Name": "instance-id",
                 "Filter.1.Value.1": iid},
    lambda iid: {"Action": "DescribeImages", "ImageId.1": AMI_AL2023},
    lambda iid: {"Action": "GetInstanceMetadataDefaults"},
    lambda iid: {"Action": "ModifyInstanceMetadataOptions", "InstanceId": "i-0123456789abcdef9"},
], ids=["describe-by-id", "describe-filter", "images", "defaults", "error"])
def test_get_is_like_post(server, ec2, params_fn):
    iid = running_instance(ec2)
    params = params_fn(iid)
    post = raw(server.endpoint, params, method="POST")
    get = raw(server.endpoint, params, method="GET")
    assert post.status == get.status
    if post.status == 200:
        assert without_request_id(post.body) == without_request_id(get.body)
    else:
        assert post.error[:2] == get.error[:2]


def test_get_can_modify(server, ec2):
    iid = running_instance(ec2)
    resp = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptions", "InstanceId": iid,
                                 "HttpTokens": "required"}, method="GET")
    assert resp.status == 200, resp
    assert resp.text("instanceMetadataOptions/httpTokens") == "required"
    assert wait_applied(ec2, iid)["HttpTokens"] == "required"


def test_presigned_query_auth(server, ec2):
    iid = run_one(ec2)
    ok = raw(server.endpoint, {"Action": "DescribeInstances", "InstanceId.1": iid},
             method="GET", query_auth=True)
    assert ok.status == 200, ok
    assert ok.text("reservationSet/item/instancesSet/item/instanceId") == iid
    expired = raw(server.endpoint, {"Action": "DescribeInstances"}, method="GET",
                  query_auth=True, expires=300,
                  when=utcnow() - datetime.timedelta(minutes=20))
    expect_raw_error(expired, "RequestExpired", 400, "Request has expired.")


def test_unsigned_request_is_accepted(server):
    resp = raw(server.endpoint, {"Action": "DescribeImages", "ImageId.1": AMI_AL2},
               sign_request=False)
    assert resp.status == 200, resp
    assert resp.text("imagesSet/item/imageId") == AMI_AL2


def test_region_comes_from_signature_scope(server):
    iid = run_one(server.client("ap-southeast-1"))
    here = raw(server.endpoint, {"Action": "DescribeInstances", "InstanceId.1": iid},
               region="ap-southeast-1")
    assert here.status == 200, here
    elsewhere = raw(server.endpoint, {"Action": "DescribeInstances", "InstanceId.1": iid},
                    region="ap-southeast-2")
    expect_raw_error(elsewhere, "InvalidInstanceID.NotFound", 400)


# ----------------------------------------------------------------------------- element names


def test_metadata_options_wrappers_and_order(server, ec2):
    run_resp = raw(server.endpoint, {"Action": "RunInstances", "ImageId": AMI_AL2,
                                     "InstanceType": "m5.large", "MinCount": "1",
                                     "MaxCount": "1"})
    assert run_resp.status == 200, run_resp
    item = run_resp.find("instancesSet/item")
    iid = item.find(q("instanceId")).text
    assert item.find(q("instanceMetadataOptions")) is None
    assert [local(c.tag) for c in item.find(q("metadataOptions"))] == OPTION_ELEMENT_ORDER

    wait_state(ec2, iid, "running")
    mod = raw(server.endpoint, {"Action": "ModifyInstanceMetadataOptions", "InstanceId": iid,
                                "HttpProtocolIpv6": "enabled"})
    assert mod.status == 200, mod
    assert mod.find("metadataOptions") is None
    assert [local(c.tag) for c in mod.find("instanceMetadataOptions")] == OPTION_ELEMENT_ORDER
    assert mod.text("instanceMetadataOptions/httpProtocolIpv6") == "enabled"

    desc = raw(server.endpoint, {"Action": "DescribeInstances", "InstanceId.1": iid})
    item = desc.find("reservationSet/item/instancesSet/item")
    assert item.find(q("instanceMetadataOptions")) is None
    opts = item.find(q("metadataOptions"))
    assert [local(c.tag) for c in opts] == OPTION_ELEMENT_ORDER
    values = {local(c.tag): c.text for c in opts}
    assert values["httpProtocolIpv6"] == "enabled"
    assert values["httpPutResponseHopLimit"] == "1"


def test_describe_instances_item_names(server, ec2):
    iid = running_instance(ec2, tags={"Name": "wire"})
    desc = raw(server.endpoint, {"Action": "DescribeInstances", "InstanceId.1": iid})
    res = desc.find("reservationSet/item")
    assert re.match(r"^r-[0-9a-f]{17}$", res.find(q("reservationId")).text)
    assert res.find(q("ownerId")).text == "123456789012"
    inst = res.find(f"{q('instancesSet')}/{q('item')}")
    assert inst.find(q("instanceId")).text == iid
    assert inst.find(q("imageId")).text == AMI_AL2
    assert inst.find(f"{q('instanceState')}/{q('code')}").text == "16"
    assert inst.find(f"{q('instanceState')}/{q('name')}").text == "running"
    assert inst.find(q("instanceType")).text == "t3.micro"
    assert inst.find(f"{q('placement')}/{q('availabilityZone')}").text.startswith(REGION)
    tag = inst.find(f"{q('tagSet')}/{q('item')}")
    assert (tag.find(q("key")).text, tag.find(q("value")).text) == ("Name", "wire")


def test_defaults_wire_names(fresh_server):
    ok = raw(fresh_server.endpoint, {"Action": "ModifyInstanceMetadataDefaults",
                                     "HttpTokens": "required", "HttpPutResponseHopLimit": "2",
                                     "HttpEndpoint": "enabled",
                                     "InstanceMetadataTags": "disabled",
                                     "HttpTokensEnforced": "enabled"})
    assert ok.status == 200, ok
    assert [local(c.tag) for c in ok.xml] == ["requestId", "return"]
    assert ok.text("return") == "true"
    get = raw(fresh_server.endpoint, {"Action": "GetInstanceMetadataDefaults"})
    level = get.find("accountLevel")
    values = {local(c.tag): c.text for c in level}
    assert values == {"httpTokens": "required", "httpPutResponseHopLimit": "2",
                      "httpEndpoint": "enabled", "instanceMetadataTags": "disabled",
                      "managedBy": "account", "httpTokensEnforced": "enabled"}
    # `managedBy` lives inside accountLevel
    assert get.find("managedBy") is None


def test_describe_images_imds_support_element(server):
    resp = raw(server.endpoint, {"Action": "DescribeImages", "ImageId.1": AMI_AL2023,
                                 "ImageId.2": AMI_AL2})
    by_id = {i.find(q("imageId")).text: i for i in resp.find("imagesSet")}
    assert by_id[AMI_AL2023].find(q("imdsSupport")).text == "v2.0"
    assert by_id[AMI_AL2].find(q("imdsSupport")) is None


# ----------------------------------------------------------------------------- seed 004 samples


def _seed004_sample_1(server, ec2) -> str:
    # https://ec2.amazonaws.com/?Action=ModifyInstanceMetadataOptions&InstanceId=...&HttpTokens=required&AUTHPARAMS
    # The sample response on the reference page names its elements MetadataOptions/HttpTokens
    # under a root without "Response"; the service (and botocore) use the names of spec §3.4.
    iid = running_instance(ec2)
    resp = raw(server.endpoint, [("Action", "ModifyInstanceMetadataOptions"),
                                 ("InstanceId", iid), ("HttpTokens", "required")], method="GET")
    assert resp.status == 200, resp
    assert resp.xml.tag == q("ModifyInstanceMetadataOptionsResponse")
    assert resp.text("instanceId") == iid
    assert resp.find("MetadataOptions") is None
    got = {local(c.tag): c.text for c in resp.find("instanceMetadataOptions")}
    assert (got["state"], got["httpTokens"], got["httpPutResponseHopLimit"],
            got["httpEndpoint"]) == ("pending", "required", "1", "enabled")
    return iid


def test_seed004_sample_request_1_turn_on_token_requirement(server, ec2):
    _seed004_sample_1(server, ec2)


def test_seed004_sample_request_2_turn_off_access(server, ec2):
    # Sample 2 follows sample 1 on the same instance (its response shows HttpTokens required).
    iid = _seed004_sample_1(server, ec2)
    wait_applied(ec2, iid)
    resp = raw(server.endpoint, [("Action", "ModifyInstanceMetadataOptions"),
                                 ("InstanceId", iid), ("HttpEndpoint", "disabled")], method="GET")
    assert resp.status == 200, resp
    got = {local(c.tag): c.text for c in resp.find("instanceMetadataOptions")}
    assert (got["state"], got["httpTokens"], got["httpPutResponseHopLimit"],
            got["httpEndpoint"]) == ("pending", "required", "1", "disabled")


# ----------------------------------------------------------------------------- model check


ACTIONS_CHECKED = [
    "RunInstances", "DescribeInstances", "ModifyInstanceMetadataOptions", "StartInstances",
    "StopInstances", "RebootInstances", "TerminateInstances", "CreateTags", "DeleteTags",
    "DescribeTags", "RegisterImage", "DescribeImages", "ModifyImageAttribute",
    "DescribeImageAttribute", "GetInstanceMetadataDefaults", "ModifyInstanceMetadataDefaults",
    "CreateLaunchTemplate", "CreateLaunchTemplateVersion", "ModifyLaunchTemplate",
    "DescribeLaunchTemplates", "DescribeLaunchTemplateVersions", "DeleteLaunchTemplate",
]


@pytest.fixture(scope="module")
def captured(server):
    """Drive every action once through boto3 and keep each raw response."""
    got: dict[str, list[tuple[int, bytes]]] = {}

    def keep(http_response, model, **_):
        got.setdefault(model.name, []).append((http_response.status_code, http_response.content))

    ec2 = make_client(server.endpoint, "ap-south-1", check_model=False)
    ec2.meta.events.register("after-call.ec2", keep)
    iid = ec2.run_instances(ImageId=AMI_AL2023, InstanceType="m5.large", MinCount=2, MaxCount=2,
                            MetadataOptions={"HttpPutResponseHopLimit": 3},
                            TagSpecifications=[{"ResourceType": "instance",
                                                "Tags": [{"Key": "a", "Value": "b"}]}]
                            )["Instances"][0]["InstanceId"]
    wait_state(ec2, iid, "running")
    ec2.describe_instances()
    ec2.describe_instances(MaxResults=5)
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required",
                                         InstanceMetadataTags="enabled")
    ec2.reboot_instances(InstanceIds=[iid])
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    ec2.describe_instances(InstanceIds=[iid])  # stopped: stateReason etc.
    ec2.start_instances(InstanceIds=[iid])
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "x", "Value": "y"}])
    ec2.describe_tags()
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "x"}])
    image = ec2.register_image(Name=f"wire-{uuid.uuid4().hex[:6]}")["ImageId"]
    ec2.describe_images()
    ec2.describe_images(Owners=["self"])
    ec2.describe_image_attribute(ImageId=image, Attribute="imdsSupport")
    ec2.modify_image_attribute(ImageId=image, ImdsSupport={"Value": "v2.0"})
    ec2.describe_image_attribute(ImageId=image, Attribute="imdsSupport")
    ec2.get_instance_metadata_defaults()
    ec2.modify_instance_metadata_defaults(HttpTokens="required", HttpPutResponseHopLimit=2,
                                          HttpTokensEnforced="disabled")
    ec2.get_instance_metadata_defaults()
    lt = ec2.create_launch_template(
        LaunchTemplateName=f"wire-{uuid.uuid4().hex[:6]}",
        LaunchTemplateData={"ImageId": AMI_AL2, "InstanceType": "t3.micro",
                            "MetadataOptions": {"HttpTokens": "required",
                                                "HttpPutResponseHopLimit": 2,
                                                "HttpEndpoint": "enabled",
                                                "HttpProtocolIpv6": "disabled",
                                                "InstanceMetadataTags": "disabled"}},
    )["LaunchTemplate"]
    ec2.create_launch_template_version(LaunchTemplateId=lt["LaunchTemplateId"],
                                       LaunchTemplateData={"ImageId": AMI_AL2,
                                                           "InstanceType": "c5.large"})
    ec2.modify_launch_template(LaunchTemplateId=lt["LaunchTemplateId"], DefaultVersion="2")
    ec2.describe_launch_templates()
    ec2.describe_launch_template_versions(LaunchTemplateId=lt["LaunchTemplateId"])
    ec2.run_instances(MinCount=1, MaxCount=1,
                      LaunchTemplate={"LaunchTemplateId": lt["LaunchTemplateId"]})
    ec2.delete_launch_template(LaunchTemplateId=lt["LaunchTemplateId"])
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    ec2.describe_instances(InstanceIds=[iid])
    return got


@pytest.mark.parametrize("action", ACTIONS_CHECKED)
def test_response_matches_botocore_model(captured, action):
    responses = captured.get(action)
    assert responses, f"{action} was not called"
    for status, body in responses:
        assert status == 200, body[:500]
        problems = model_violations(action, status, body)
        assert not problems, "\n".join(problems)


def test_model_check_catches_misnamed_elements(captured):
    # The checker is not vacuous: the same real response with one element renamed fails.
    status, body = captured["ModifyInstanceMetadataOptions"][0]
    assert not model_violations("ModifyInstanceMetadataOptions", status, body)
    root = ET.fromstring(body)
    wrong = copy.deepcopy(root)
    wrong.find(q("instanceMetadataOptions")).tag = q("metadataOptions")
    assert model_violations("ModifyInstanceMetadataOptions", 200, ET.tostring(wrong))
    wrong = copy.deepcopy(root)
    wrong.find(f"{q('instanceMetadataOptions')}/{q('httpTokens')}").tag = q("HttpTokens")
    assert model_violations("ModifyInstanceMetadataOptions", 200, ET.tostring(wrong))
    status, body = captured["DescribeInstances"][0]
    root = ET.fromstring(body)
    root.find(f"{q('reservationSet')}/{q('item')}").tag = q("member")
    assert model_violations("DescribeInstances", 200, ET.tostring(root))
