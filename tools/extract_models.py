#!/usr/bin/env python3
"""Extract the part of botocore's EC2, IAM, STS, CloudWatch and FIS service models that imds serves.

The API layer of imds is driven by botocore's own models: the wire names of
request parameters, their scalar types, the XML element names and their order in
responses, which members are lists and how they are wrapped. Rather than
hand-typing those names, this script copies the operations imds implements (and
every shape they reach) out of the installed botocore into
crates/ec2api/model/{ec2,iam,sts,cloudwatch,fis}-subset.json, without documentation strings.
Run it with the venv's python after bumping botocore:

    .venv/bin/python tools/extract_models.py

botocore is Apache-2.0; the extracted model keeps its notice (see NOTICE).
"""
import json
import os
import sys

import botocore
from botocore.loaders import Loader

EC2 = [
    # issue 2: metadata options, instances, images, defaults, launch templates, tags
    "RunInstances", "DescribeInstances", "ModifyInstanceMetadataOptions",
    "StartInstances", "StopInstances", "RebootInstances", "TerminateInstances",
    "CreateTags", "DeleteTags", "DescribeTags",
    "RegisterImage", "DescribeImages", "ModifyImageAttribute", "DescribeImageAttribute",
    "GetInstanceMetadataDefaults", "ModifyInstanceMetadataDefaults",
    "DescribeInstanceStatus", "ModifyInstanceEventStartTime",
    "DescribeSpotInstanceRequests", "CancelSpotInstanceRequests",
    "CreateLaunchTemplate", "CreateLaunchTemplateVersion", "ModifyLaunchTemplate",
    "DescribeLaunchTemplates", "DescribeLaunchTemplateVersions", "DeleteLaunchTemplate",
    # what Terraform and the CLI call around them
    "DescribeInstanceTypes", "DescribeInstanceAttribute", "ModifyInstanceAttribute",
    "DescribeVolumes", "DescribeInstanceCreditSpecifications", "DescribeVpcs",
    "DescribeSubnets", "DescribeAvailabilityZones", "DescribeRegions",
    "DescribeAccountAttributes", "DescribeSecurityGroups", "DescribeKeyPairs",
    "ModifyInstanceCreditSpecification", "DescribeVpcAttribute", "DescribeRouteTables",
    # issue 11: roles given to running instances; VPCs and subnets of one's own
    "AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation",
    "DisassociateIamInstanceProfile", "DescribeIamInstanceProfileAssociations",
    "CreateVpc", "DeleteVpc", "CreateSubnet", "DeleteSubnet",
    # what Terraform's aws_vpc and aws_subnet read besides them (issue 11)
    "DescribeNetworkAcls", "DescribeNetworkInterfaces",
]

# The IAM API subset (iam_api): users and keys, groups, managed, inline and boundary
# policies, roles and instance profiles, the listings, and the policy simulator.
IAM = [
    "CreateUser", "GetUser", "DeleteUser",
    "CreateAccessKey", "DeleteAccessKey", "ListAccessKeys",
    "CreatePolicy", "GetPolicy", "GetPolicyVersion", "DeletePolicy",
    "CreatePolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion", "ListPolicyVersions",
    "AttachUserPolicy", "AttachRolePolicy", "DetachUserPolicy", "DetachRolePolicy",
    "ListAttachedUserPolicies", "ListAttachedRolePolicies",
    "PutUserPolicy", "PutRolePolicy", "GetUserPolicy", "GetRolePolicy",
    "DeleteUserPolicy", "DeleteRolePolicy", "ListUserPolicies", "ListRolePolicies",
    "PutUserPermissionsBoundary", "PutRolePermissionsBoundary",
    "DeleteUserPermissionsBoundary", "DeleteRolePermissionsBoundary",
    "CreateRole", "GetRole", "DeleteRole",
    "CreateInstanceProfile", "GetInstanceProfile", "AddRoleToInstanceProfile",
    "RemoveRoleFromInstanceProfile", "DeleteInstanceProfile",
    "SimulateCustomPolicy", "SimulatePrincipalPolicy",
    # the listings of an account's entities
    "ListUsers", "ListRoles", "ListInstanceProfiles", "ListPolicies",
    "ListInstanceProfilesForRole", "ListEntitiesForPolicy", "GetAccountAuthorizationDetails",
    # groups: their users, and their inline and managed policies
    "CreateGroup", "GetGroup", "DeleteGroup", "ListGroups",
    "AddUserToGroup", "RemoveUserFromGroup", "ListGroupsForUser",
    "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy", "ListGroupPolicies",
    "AttachGroupPolicy", "DetachGroupPolicy", "ListAttachedGroupPolicies",
    # tags of users and roles (aws:PrincipalTag)
    "TagUser", "UntagUser", "ListUserTags", "TagRole", "UntagRole", "ListRoleTags",
]

# The STS subset (sts).
STS = ["GetCallerIdentity", "AssumeRole", "DecodeAuthorizationMessage"]

# The CloudWatch subset (cloudwatch, issue 15): the reads of EC2's IMDS metrics.
CLOUDWATCH = ["GetMetricStatistics", "GetMetricData", "ListMetrics"]

# The AWS Fault Injection Service subset (fis, rest-json): experiment templates and
# experiments that send Spot interruptions, and the actions they may name.
FIS = [
    "CreateExperimentTemplate", "GetExperimentTemplate", "ListExperimentTemplates",
    "DeleteExperimentTemplate", "UpdateExperimentTemplate",
    "StartExperiment", "GetExperiment", "ListExperiments", "StopExperiment",
    "GetAction", "ListActions",
]

SERVICES = [("ec2", "2016-11-15", EC2), ("iam", "2010-05-08", IAM), ("sts", "2011-06-15", STS),
            ("cloudwatch", "2010-08-01", CLOUDWATCH), ("fis", "2020-12-01", FIS)]

DROP = {"documentation", "deprecatedMessage", "examples", "documentationUrl"}


def strip(obj):
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in DROP}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def extract(service, version, operations):
    model = Loader().load_service_model(service, "service-2")
    shapes = model["shapes"]
    keep, todo = set(), []
    ops = {}
    for name in operations:
        op = model["operations"][name]
        ops[name] = strip({k: op[k] for k in ("name", "http", "input", "output", "errors")
                           if k in op})
        for io in ("input", "output"):
            if io in op:
                todo.append(op[io]["shape"])
        todo.extend(e["shape"] for e in op.get("errors", []))
    while todo:
        s = todo.pop()
        if s in keep:
            continue
        keep.add(s)
        shape = shapes[s]
        for m in shape.get("members", {}).values():
            todo.append(m["shape"])
        for k in ("member", "key", "value"):
            if k in shape:
                todo.append(shape[k]["shape"])
    out = {
        "source": f"botocore {botocore.__version__} data/{service}/{version}/service-2.json",
        "metadata": strip(model["metadata"]),
        "operations": ops,
        "shapes": {s: strip(shapes[s]) for s in sorted(keep)},
    }
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "crates", "ec2api", "model", f"{service}-subset.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"{len(ops)} operations, {len(keep)} shapes -> {os.path.normpath(path)}", file=sys.stderr)


def main():
    for service, version, operations in SERVICES:
        extract(service, version, operations)


if __name__ == "__main__":
    main()
