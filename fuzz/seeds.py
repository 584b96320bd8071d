"""Write the seed inputs of the fuzz targets into fuzz/corpus/<target>/.

Realistic inputs the fuzzer starts from: Query bodies as botocore serializes them, requests
signed by botocore's SigV4 signer (header and presigned forms), the reference policies of
spec iam.md, the metadata paths of spec imds.md, and response bodies of the EC2 model. Run
once with a Python that has botocore (the e2e venv):

    .venv/bin/python fuzz/seeds.py

then `scripts/fuzz --minimise TARGET` keeps the inputs that add coverage. Seeds are named by
content (sha1), so rerunning adds nothing twice.
"""

import hashlib
import json
import pathlib
import urllib.parse

import botocore.session
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
# The example key pair of the AWS documentation; the sigv4 target verifies with this secret.
KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENDPOINT = "http://127.0.0.1:8080/"


def put(target: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def ec2_model():
    return botocore.session.get_session().get_service_model("ec2")


META = {"HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "enabled"}
TAGS = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"},
                                                {"Key": "team", "Value": "a b&c=d%"}]}]
FILTERS = [{"Name": "instance-state-name", "Values": ["running", "pending"]},
           {"Name": "tag:Name", "Values": ["web*"]}]
IDS = ["i-0123456789abcdef0", "i-0fedcba9876543210"]

# Operation → parameters, as a boto3 caller passes them.
QUERY_CALLS = {
    "RunInstances": {"ImageId": "ami-0abcdef1234567890", "MinCount": 1, "MaxCount": 2,
                     "InstanceType": "t3.micro", "MetadataOptions": META, "TagSpecifications": TAGS,
                     "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                              "Ebs": {"VolumeSize": 8, "DeleteOnTermination": True}}],
                     "UserData": "IyEvYmluL3NoCg==", "IamInstanceProfile": {"Name": "web"},
                     "SecurityGroupIds": ["sg-1"], "ClientToken": "tok",
                     "LaunchTemplate": {"LaunchTemplateName": "lt", "Version": "$Latest"}},
    "DescribeInstances": {"InstanceIds": IDS, "Filters": FILTERS, "MaxResults": 5, "NextToken": "x"},
    "ModifyInstanceMetadataOptions": {"InstanceId": IDS[0], **META, "DryRun": True},
    "ModifyInstanceMetadataDefaults": {"HttpTokens": "no-preference", "HttpPutResponseHopLimit": -1,
                                       "HttpEndpoint": "enabled", "InstanceMetadataTags": "disabled"},
    "GetInstanceMetadataDefaults": {},
    "StartInstances": {"InstanceIds": IDS},
    "StopInstances": {"InstanceIds": IDS, "Force": True, "Hibernate": False},
    "TerminateInstances": {"InstanceIds": IDS},
    "RebootInstances": {"InstanceIds": IDS},
    "CreateTags": {"Resources": IDS, "Tags": [{"Key": "Name", "Value": "web"}]},
    "DeleteTags": {"Resources": IDS, "Tags": [{"Key": "Name"}]},
    "DescribeTags": {"Filters": FILTERS},
    "RegisterImage": {"Name": "img", "RootDeviceName": "/dev/xvda", "ImdsSupport": "v2.0",
                      "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                               "Ebs": {"SnapshotId": "snap-1"}}]},
    "DescribeImages": {"Owners": ["self"], "ImageIds": ["ami-0abcdef1234567890"]},
    "ModifyImageAttribute": {"ImageId": "ami-1", "ImdsSupport": {"Value": "v2.0"}},
    "DescribeImageAttribute": {"ImageId": "ami-1", "Attribute": "imdsSupport"},
    "DescribeInstanceStatus": {"InstanceIds": IDS, "IncludeAllInstances": True},
    "CreateLaunchTemplate": {"LaunchTemplateName": "lt", "VersionDescription": "v1",
                             "LaunchTemplateData": {"ImageId": "ami-1", "MetadataOptions": META,
                                                    "TagSpecifications": TAGS,
                                                    "NetworkInterfaces": [{"DeviceIndex": 0,
                                                                           "Groups": ["sg-1"]}]}},
    "CreateLaunchTemplateVersion": {"LaunchTemplateId": "lt-1", "SourceVersion": "1",
                                    "LaunchTemplateData": {"MetadataOptions": {"HttpTokens": "optional"}}},
    "ModifyLaunchTemplate": {"LaunchTemplateId": "lt-1", "DefaultVersion": "2"},
    "DescribeLaunchTemplates": {"LaunchTemplateNames": ["lt"], "Filters": FILTERS},
    "DescribeLaunchTemplateVersions": {"LaunchTemplateId": "lt-1", "Versions": ["$Latest", "1"]},
    "DeleteLaunchTemplate": {"LaunchTemplateName": "lt"},
    "DescribeInstanceTypes": {"InstanceTypes": ["t3.micro"]},
    "DescribeInstanceAttribute": {"InstanceId": IDS[0], "Attribute": "userData"},
    "ModifyInstanceAttribute": {"InstanceId": IDS[0], "DisableApiTermination": {"Value": True}},
    "DescribeVolumes": {"VolumeIds": ["vol-1"]},
    "DescribeInstanceCreditSpecifications": {"InstanceIds": IDS},
    "ModifyInstanceCreditSpecification": {"InstanceCreditSpecifications": [
        {"InstanceId": IDS[0], "CpuCredits": "unlimited"}]},
    "DescribeVpcs": {"Filters": FILTERS},
    "DescribeSubnets": {"SubnetIds": ["subnet-1"]},
    "DescribeAvailabilityZones": {"AllAvailabilityZones": True},
    "DescribeRegions": {"RegionNames": ["us-east-1"]},
    "DescribeAccountAttributes": {"AttributeNames": ["default-vpc"]},
    "DescribeSecurityGroups": {"GroupNames": ["default"]},
    "DescribeKeyPairs": {"KeyNames": ["k"]},
    "DescribeVpcAttribute": {"VpcId": "vpc-1", "Attribute": "enableDnsSupport"},
    "DescribeRouteTables": {"Filters": FILTERS},
}


def query_seeds(model) -> None:
    from botocore.serialize import create_serializer
    ser = create_serializer("ec2", include_validation=False)
    for op, params in QUERY_CALLS.items():
        body = ser.serialize_to_request(params, model.operation_model(op))["body"]
        put("query_decode", urllib.parse.urlencode(body).encode())
    # Hand-shaped: an unknown member, a list index gap, a bad number, an empty body.
    put("query_decode", b"Action=DescribeInstances&Version=2016-11-15&InstanceId.3=i-1&Nope=1")
    put("query_decode", b"Action=RunInstances&MinCount=x&MaxCount=1&ImageId=%ZZ")
    put("query_decode", b"Action=ModifyInstanceMetadataOptions&InstanceId=i-1&HttpPutResponseHopLimit=99999999999999999999")
    put("query_decode", b"")


def http_text(req: AWSRequest) -> bytes:
    parts = urllib.parse.urlsplit(req.url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    # The signer signs `host` from the URL; the wire request carries it as a header.
    head = [f"{req.method} {target}", f"Host: {parts.netloc}"]
    head += [f"{k}: {v}" for k, v in req.headers.items()]
    body = req.body if isinstance(req.body, bytes) else (req.body or "").encode()
    return ("\n".join(head) + "\n\n").encode() + body


def sigv4_seeds() -> None:
    body = "Action=DescribeInstances&Version=2016-11-15"
    for token in (None, "FwoGZXIvYXdzEXAMPLETOKEN"):
        creds = Credentials(KEY, SECRET, token)
        req = AWSRequest(method="POST", url=ENDPOINT, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(creds, "ec2", "us-east-1").add_auth(req)
        put("sigv4", http_text(req))
        req = AWSRequest(method="GET", url=ENDPOINT + "?" + body)
        SigV4QueryAuth(creds, "ec2", "us-east-1", expires=300).add_auth(req)
        put("sigv4", http_text(req))
    # Hand-shaped: a Date header instead of X-Amz-Date, a wrong scope, a bad signed-header list.
    put("sigv4", b"POST /\nHost: 127.0.0.1:8080\nDate: Sun, 22 Nov 2026 18:03:18 GMT\n"
                 b"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122/eu-west-1/sts/aws4_request, "
                 b"SignedHeaders=date;host, Signature=00\n\nAction=DescribeInstances")
    put("sigv4", b"GET /a/./b/../%2F?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261122%2Fus-east-1%2Fec2%2Faws4_request"
                 b"&X-Amz-Date=20261122T180318Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host%3B%3BHOST&X-Amz-Signature=ab\nHost: h\n\n")


POLICIES = [
    # spec iam.md §3, reference policies A–E.
    {"Version": "2012-10-17", "Statement": [{"Sid": "RequireImdsV2", "Effect": "Deny", "Action": "ec2:RunInstances",
     "Resource": "arn:aws:ec2:*:*:instance/*",
     "Condition": {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}}]},
    {"Statement": {"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*:*:instance/*",
     "Condition": {"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": "3"}}}},
    {"Statement": [{"Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions", "Resource": "arn:aws:ec2:*:*:instance/*",
     "Condition": {"StringNotEquals": {"ec2:Attribute/HttpTokens": "required"},
                   "Null": {"ec2:Attribute/HttpTokens": "false"}}}]},
    {"Statement": [{"Effect": "Deny", "Action": "ec2:ModifyInstanceMetadataOptions", "Resource": "*",
     "Condition": {"StringNotLike": {"aws:PrincipalARN": "arn:aws:iam::*:role/ec2-imds-admins"}}}]},
    {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}}]},
    # Allows with the other operators, qualifiers and shapes the evaluator knows.
    {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:RunInstances"], "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:ec2:*:*:image/*",
         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["Name", "team"]},
                       "ForAnyValue:StringLike": {"aws:RequestTag/team": "a*"},
                       "BoolIfExists": {"aws:SecureTransport": "true"},
                       "IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]},
                       "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                       "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:user/*"},
                       "StringEqualsIgnoreCase": {"ec2:Region": "US-EAST-1"}}}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root",
     "Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"sts:ExternalId": "x"}}}]},
]
CONTEXT = ("ec2:MetadataHttpTokens=optional\nec2:MetadataHttpPutResponseHopLimit=4\n"
           "ec2:Attribute/HttpTokens=required\naws:PrincipalArn=arn:aws:iam::123456789012:user/alice\n"
           "aws:PrincipalAccount=123456789012\naws:TagKeys=Name\naws:TagKeys=team\naws:SourceIp=127.0.0.1\n"
           "aws:CurrentTime=2026-11-22T18:03:18Z\naws:SecureTransport=false\nec2:Region=us-east-1")


def iam_seeds() -> None:
    checks = [("ec2:RunInstances", "arn:aws:ec2:us-east-1:123456789012:instance/*"),
              ("ec2:ModifyInstanceMetadataOptions", "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"),
              ("sts:AssumeRole", "*")]
    for i, p in enumerate(POLICIES):
        action, resource = checks[i % len(checks)]
        put("iam_policy", "\0".join([json.dumps(p), action, resource, CONTEXT]).encode())


# spec imds.md §1–§16: the paths its request-case and conformance tables use, and categories.
METADATA_PATHS = [
    "/", "/latest", "/latest/", "/latest/meta-data", "/latest/meta-data/", "/latest/meta-data/instance-id",
    "/latest/meta-data/nope", "/latest/meta-data/iam/security-credentials", "/latest/meta-data/iam/security-credentials/web-role",
    "/latest/meta-data/iam/info", "/latest/meta-data/identity-credentials/ec2/info",
    "/latest/meta-data/placement/availability-zone/", "/latest/meta-data/public-keys/", "/latest/meta-data/public-keys/0/openssh-key",
    "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/security-group-ids", "/latest/meta-data/tags/instance/Name",
    "/latest/meta-data/block-device-mapping/root", "/latest/meta-data/services/partition", "/latest/user-data",
    "/latest/dynamic/", "/latest/dynamic/instance-identity/", "/latest/dynamic/instance-identity/document",
    "/latest/dynamic/instance-identity/pkcs7", "/latest/dynamic/instance-identity/signature",
    "/2016-09-02/meta-data/instance-id", "/1.0/meta-data/", "/2021-03-23/api/token", "/latest/api/token/",
    "/latest/meta-data/../meta-data//instance-id", "/latest/UserGuide/",
]


def iam_request_seeds() -> None:
    """IAM Query bodies as botocore serializes them (the iam_request target)."""
    from botocore.serialize import create_serializer
    model = botocore.session.get_session().get_service_model("iam")
    ser = create_serializer("query", include_validation=False)
    arn = "arn:aws:iam::111122223333:"
    calls = {
        "CreateGroup": {"GroupName": "ops", "Path": "/teams/"},
        "GetGroup": {"GroupName": "ops", "MaxItems": 1000, "Marker": "alice"},
        "AddUserToGroup": {"GroupName": "ops", "UserName": "alice"},
        "ListGroups": {"PathPrefix": "/teams/", "MaxItems": 5},
        "ListGroupsForUser": {"UserName": "alice", "Marker": "ops"},
        "ListAttachedGroupPolicies": {"GroupName": "ops", "PathPrefix": "/a/", "MaxItems": 2},
        "ListUserPolicies": {"UserName": "alice", "MaxItems": 1},
        "CreatePolicyVersion": {"PolicyArn": arn + "policy/p", "SetAsDefault": True,
                                "PolicyDocument": '{"Version":"2012-10-17","Statement":[]}'},
        "ListPolicyVersions": {"PolicyArn": arn + "policy/p", "MaxItems": 2,
                               "Marker": "4294967293"},
        "ListPolicies": {"Scope": "Local", "OnlyAttached": True,
                         "PolicyUsageFilter": "PermissionsBoundary", "PathPrefix": "/a/b/"},
        "PutGroupPolicy": {"GroupName": "ops", "PolicyName": "p",
                           "PolicyDocument": '{"Version":"2012-10-17","Statement":[]}'},
        "CreateRole": {"RoleName": "r", "Path": "/x/", "AssumeRolePolicyDocument": "{}",
                       "MaxSessionDuration": 3600, "Tags": [{"Key": "k", "Value": "v"}],
                       "PermissionsBoundary": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "SimulatePrincipalPolicy": {
            "PolicySourceArn": arn + "group/ops", "ActionNames": ["ec2:RunInstances"],
            "ResourceArns": ["*"],
            "ContextEntries": [
                {"ContextKeyName": "ec2:MetadataHttpTokens", "ContextKeyValues": ["required"],
                 "ContextKeyType": "string"},
                {"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": ["2026-12-07T00:00:00Z"],
                 "ContextKeyType": "date"},
                {"ContextKeyName": "ec2:MetadataHttpPutResponseHopLimit",
                 "ContextKeyValues": ["1", "2"], "ContextKeyType": "numericList"}]},
    }
    for op, params in calls.items():
        body = ser.serialize_to_request(params, model.operation_model(op))["body"]
        put("iam_request", urllib.parse.urlencode(body).encode())
    put("iam_request", b"Action=ListUsers&MaxItems=0&Marker=&PathPrefix=nope")


def sts_request_seeds() -> None:
    """STS Query bodies as botocore serializes them (the sts_request target)."""
    from botocore.serialize import create_serializer
    model = botocore.session.get_session().get_service_model("sts")
    ser = create_serializer("query", include_validation=False)
    calls = [
        ("GetCallerIdentity", {}),
        ("AssumeRole", {"RoleArn": "arn:aws:iam::111122223333:role/dev", "RoleSessionName": "s1",
                        "DurationSeconds": 900, "ExternalId": "ext-1",
                        "Policy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
                        "Tags": [{"Key": "team", "Value": "blue"}, {"Key": "cost-center", "Value": "41200"}],
                        "TransitiveTagKeys": ["team"]}),
        ("DecodeAuthorizationMessage", {"EncodedMessage": "eyJhIjoxfQ"}),
    ]
    for op, params in calls:
        body = ser.serialize_to_request(params, model.operation_model(op))["body"]
        put("sts_request", urllib.parse.urlencode(body).encode())


def metadata_seeds() -> None:
    for i, path in enumerate(METADATA_PATHS):
        for method, headers in (("GET", ""), ("GET", "\nX-aws-ec2-metadata-token: VALID"),
                                ("HEAD", "\nx-aws-ec2-metadata-token: EXPIRED")):
            put("metadata_request", bytes([i % 6]) + f"{method} {path}{headers}".encode())
    for fixture, req in enumerate([
        "PUT /latest/api/token\nX-aws-ec2-metadata-token-ttl-seconds: 21600",
        "PUT /latest/api/token\nX-aws-ec2-metadata-token-ttl-seconds: 0",
        "PUT /latest/api/token\nX-aws-ec2-metadata-token-ttl-seconds: 60\nX-Forwarded-For: 1.2.3.4",
        "GET /latest/api/token", "POST /latest/meta-data/", "PUT /latest/api/token/",
    ]):
        put("metadata_request", bytes([fixture]) + req.encode())


def xml_seeds() -> None:
    bodies = {
        "ModifyInstanceMetadataOptions": {"InstanceId": IDS[0], "InstanceMetadataOptions": {
            "State": "pending", "HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled",
            "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "enabled"}},
        "GetInstanceMetadataDefaults": {"AccountLevel": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}},
        "DescribeTags": {"Tags": [{"Key": "Name", "Value": "a<b>&\u0001\"'", "ResourceId": IDS[0],
                                   "ResourceType": "instance"}], "NextToken": None},
        "CreateTags": {},
        "DescribeRegions": {"Regions": [{"RegionName": "us-east-1", "Endpoint": "ec2.us-east-1.amazonaws.com",
                                         "OptInStatus": "opt-in-not-required"}]},
    }
    # The fuzz target sorts the operations of the server's model; the first byte is an index there.
    subset = sorted(json.loads((CORPUS.parent.parent / "crates/ec2api/model/ec2-subset.json").read_text())["operations"])
    for op, body in bodies.items():
        put("xml_encode", bytes([subset.index(op), 1]) + json.dumps(body).encode())
    for i in range(len(subset)):
        put("xml_encode", bytes([i, 0, 3, ord("a"), ord("b"), ord("c")]) + bytes([0xFF] * 24) + bytes(range(64)))


if __name__ == "__main__":
    m = ec2_model()
    query_seeds(m)
    sigv4_seeds()
    iam_seeds()
    iam_request_seeds()
    sts_request_seeds()
    metadata_seeds()
    xml_seeds()
    for d in sorted(CORPUS.iterdir()):
        print(d.name, len(list(d.iterdir())))
