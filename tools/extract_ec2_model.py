#!/usr/bin/env python3
"""Extract the part of botocore's EC2 service model that imds serves.

The EC2 API layer of imds is driven by botocore's own model: the wire names of
request parameters, the XML element names and their order in responses, which
members are lists and how they are wrapped. Rather than hand-typing those names,
this script copies the operations imds implements (and every shape they reach)
out of the installed botocore into crates/ec2api/model/ec2-subset.json, without
documentation strings. Run it with the venv's python after bumping botocore:

    .venv/bin/python tools/extract_ec2_model.py

botocore is Apache-2.0; the extracted model keeps its notice (see NOTICE).
"""
import json
import os
import sys

import botocore
from botocore.loaders import Loader

OPERATIONS = [
    # issue 2: metadata options, instances, images, defaults, launch templates, tags
    "RunInstances", "DescribeInstances", "ModifyInstanceMetadataOptions",
    "StartInstances", "StopInstances", "RebootInstances", "TerminateInstances",
    "CreateTags", "DeleteTags", "DescribeTags",
    "RegisterImage", "DescribeImages", "ModifyImageAttribute", "DescribeImageAttribute",
    "GetInstanceMetadataDefaults", "ModifyInstanceMetadataDefaults",
    "DescribeInstanceStatus",
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

DROP = {"documentation", "deprecatedMessage", "examples", "documentationUrl"}


def strip(obj):
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in DROP}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def main():
    model = Loader().load_service_model("ec2", "service-2")
    shapes = model["shapes"]
    keep, todo = set(), []
    ops = {}
    for name in OPERATIONS:
        op = model["operations"][name]
        ops[name] = strip({k: op[k] for k in ("name", "http", "input", "output") if k in op})
        for io in ("input", "output"):
            if io in op:
                todo.append(op[io]["shape"])
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
        "source": f"botocore {botocore.__version__} data/ec2/2016-11-15/service-2.json",
        "metadata": strip(model["metadata"]),
        "operations": ops,
        "shapes": {s: strip(shapes[s]) for s in sorted(keep)},
    }
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "crates", "ec2api", "model", "ec2-subset.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"{len(ops)} operations, {len(keep)} shapes -> {os.path.normpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
