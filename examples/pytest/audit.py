"""What a project might test against EC2: which instances still allow IMDSv1, and what an
instance's code reads from its metadata service."""
from __future__ import annotations

import os
import urllib.error
import urllib.request

METADATA = "http://169.254.169.254/"


def instances_allowing_imdsv1(ec2) -> list[str]:
    """The running instances whose metadata options do not require tokens."""
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "metadata-options.http-tokens", "Values": ["optional"]},
                 {"Name": "instance-state-name", "Values": ["running"]}])
    return sorted(i["InstanceId"] for page in pages for r in page["Reservations"]
                  for i in r["Instances"])


def my_instance_id(v1_fallback: bool = True) -> str:
    """The instance's id, as an SDK reads it: a session token first (IMDSv2), and without one
    only if `v1_fallback`. The endpoint is the SDKs' `AWS_EC2_METADATA_SERVICE_ENDPOINT`."""
    base = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", METADATA)
    headers = {}
    try:
        put = urllib.request.Request(base + "latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with urllib.request.urlopen(put, timeout=2) as r:
            headers["X-aws-ec2-metadata-token"] = r.read().decode()
    except urllib.error.URLError:
        if not v1_fallback:
            raise
    get = urllib.request.Request(base + "latest/meta-data/instance-id", headers=headers)
    with urllib.request.urlopen(get, timeout=2) as r:
        return r.read().decode()
