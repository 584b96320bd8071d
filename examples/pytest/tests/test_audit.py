"""The example project's tests: only the imds plugin's fixtures."""
from __future__ import annotations

import os
import urllib.error

import pytest

import audit


def test_instances_allowing_imdsv1_are_found(imds_server):
    ec2 = imds_server.client("ec2")
    loose = imds_server.launch()
    strict = imds_server.launch(MetadataOptions={"HttpTokens": "required"})
    try:
        found = audit.instances_allowing_imdsv1(ec2)
        assert loose.id in found and strict.id not in found
        loose.modify_metadata_options(HttpTokens="required")
        assert loose.id not in audit.instances_allowing_imdsv1(ec2)
    finally:
        loose.terminate()
        strict.terminate()


def test_my_instance_id_with_imdsv2(imds_instance, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT",
                       imds_instance.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"])
    assert audit.my_instance_id(v1_fallback=False) == imds_instance.id


@pytest.mark.parametrize("imds_instance",
                         [{"MetadataOptions": {"HttpPutResponseHopLimit": 1,
                                               "HttpTokens": "required"}}], indirect=True)
def test_what_breaks_when_imdsv2_is_required(imds_instance, monkeypatch):
    """Tokens required: IMDSv1 alone is refused (401), the token path still works."""
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT",
                       imds_instance.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"])
    assert imds_instance.get("/latest/meta-data/instance-id")[0] == 401
    assert audit.my_instance_id() == imds_instance.id


def test_code_that_builds_its_own_clients(imds_env):
    import botocore.session

    ec2 = botocore.session.get_session().create_client("ec2")
    assert os.environ["AWS_ENDPOINT_URL"] == imds_env["AWS_ENDPOINT_URL"]
    assert isinstance(audit.instances_allowing_imdsv1(ec2), list)
