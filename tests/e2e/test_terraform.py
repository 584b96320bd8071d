"""Terraform's AWS provider (hashicorp/aws 5.100.0, from the filesystem mirror), unmodified,
against one imds server: whole workflows, each apply and plan checked by exit code
(`plan -detailed-exitcode` must say "no changes") and by reading the server's state back with
boto3.

The provider waits by itself: for `running` after RunInstances, for `applied` after
ModifyInstanceMetadataOptions, for `terminated` after TerminateInstances. So what boto3 reads
right after an apply or destroy returns is what the provider waited for.

Each scenario works in a Region of its own, so that account defaults set by one do not
change the launches of another. Skipped loudly without terraform or the mirror (a failure
under IMDS_REQUIRE_ALL=1).
"""
from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

import helpers
from helpers import AMI_AL2, ImdsServer, ec2_error, instance, options, raw, state
from tf_helpers import Workspace, find_terraform

pytestmark = [pytest.mark.slow, pytest.mark.store_neutral, pytest.mark.timeout(900)]

TOOLING, WHY = find_terraform()


# Longer than the 10 s the provider waits before it first polls a new instance, changed
# options or a terminating instance: it sees `pending` / `shutting-down` and has to wait for
# the end state, so reading `running` / `applied` / `terminated` right after an apply shows
# that it did.
APPLY_DELAY = "11s"
TRANSITION_DELAY = "11s"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from helpers.running(ImdsServer(tmp_path_factory.mktemp("imds-terraform"), apply_delay=APPLY_DELAY,
                     transition_delay=TRANSITION_DELAY))


@pytest.fixture(scope="module")
def tooling():
    if TOOLING is None:
        pytest.skip(f"Terraform suite SKIPPED: {WHY}")
    return TOOLING


def scenario(fn):
    """A scenario runs in its own thread, all at once (see `scenarios`)."""
    SCENARIOS[fn.__name__] = fn
    return fn


SCENARIOS: dict = {}


@pytest.fixture(scope="module")
def scenarios(tooling, server, tmp_path_factory, request):
    """Every scenario starts at once against the module's one server, each in its own
    working directory and Region: most of a scenario is the provider waiting (10 s before it
    first polls a new instance or changed options), so together they take about as long as
    the longest. Each test waits for its scenario and reports its failure."""
    root = tmp_path_factory.mktemp("terraform")

    def workspace_factory(name):
        made = []

        def make(region: str) -> Workspace:
            ws = Workspace(tooling, root / f"{name}-{len(made)}", server.endpoint, region)
            made.append(ws)
            return ws
        return make

    # Only the scenarios whose tests were selected (`-k`).
    selected = {item.name for item in request.session.items}
    chosen = {name: fn for name, fn in SCENARIOS.items() if f"test_{name}" in selected}
    pool = ThreadPoolExecutor(max_workers=max(1, len(chosen)))
    futures = {name: pool.submit(fn, workspace_factory(name), server)
               for name, fn in chosen.items()}
    try:
        yield futures
    finally:
        pool.shutdown(wait=True)


def outcome(scenarios, fn):
    scenarios[fn.__name__].result(timeout=840)


def instance_tf(tokens: str, hop: int, tags: str, endpoint: str) -> str:
    return f"""
        resource "aws_instance" "web" {{
          ami           = "{AMI_AL2}"
          instance_type = "t3.micro"
          metadata_options {{
            http_endpoint               = "{endpoint}"
            http_tokens                 = "{tokens}"
            http_put_response_hop_limit = {hop}
            instance_metadata_tags      = "{tags}"
          }}
          tags = {{
            Name = "tf-web"
            Team = "platform"
          }}
        }}

        output "id" {{ value = aws_instance.web.id }}
        """


@scenario
def aws_instance_metadata_options_lifecycle(workspace, server):
    """aws_instance with metadata_options and tags: create; plan clean; change http_tokens,
    the hop limit, instance_metadata_tags, turn http_endpoint off and on (each applied, the
    provider waiting for `applied`, then a clean plan); destroy (the provider waiting for
    `terminated`)."""
    region = "us-east-1"
    ec2 = server.client(region)
    ws = workspace(region)
    ws.write(instance_tf("required", 2, "enabled", "enabled"))
    ws.init()
    ws.apply()
    iid = ws.outputs()["id"]
    got = instance(ec2, iid)
    assert got["State"]["Name"] == "running", "the provider waits for running"
    assert {t["Key"]: t["Value"] for t in got["Tags"]} == {"Name": "tf-web", "Team": "platform"}
    assert got["ImageId"] == AMI_AL2 and got["InstanceType"] == "t3.micro"
    helpers.assert_options(got["MetadataOptions"], HttpTokens="required",
                           HttpPutResponseHopLimit=2, InstanceMetadataTags="enabled",
                           HttpEndpoint="enabled", HttpProtocolIpv6="disabled")
    # The provider's RunInstances carried a ClientToken: EC2 keeps it on the instance, and
    # the same token with other parameters is refused without launching anything.
    token = got["ClientToken"]
    assert token.startswith("terraform-"), token
    before = helpers.describe_ids(ec2)
    with ec2_error("IdempotentParameterMismatch"):
        ec2.run_instances(ImageId=AMI_AL2, InstanceType="m5.large", MinCount=1, MaxCount=1,
                          ClientToken=token)
    assert helpers.describe_ids(ec2) == before
    ws.plan_is_clean()

    # (step, http_tokens, hop limit, instance_metadata_tags, http_endpoint)
    steps = [
        ("http_tokens optional", "optional", 2, "enabled", "enabled"),
        ("hop limit 5", "optional", 5, "enabled", "enabled"),
        ("tags in metadata off", "optional", 5, "disabled", "enabled"),
        ("endpoint off", "optional", 5, "disabled", "disabled"),
        ("endpoint on again", "optional", 5, "disabled", "enabled"),
    ]
    for name, tokens, hop, tags, endpoint in steps:
        ws.write(instance_tf(tokens, hop, tags, endpoint))
        ws.apply()
        opts = options(ec2, iid)
        assert opts["State"] == "applied", f"{name}: the provider waits for applied: {opts}"
        helpers.assert_options(opts, HttpTokens=tokens, HttpPutResponseHopLimit=hop,
                               InstanceMetadataTags=tags, HttpEndpoint=endpoint)
        assert ws.outputs()["id"] == iid, f"{name}: changed in place, not replaced"
        ws.plan_is_clean()

    ws.destroy()
    assert state(ec2, iid) == "terminated", "the provider waits for terminated"


@scenario
def aws_instance_attributes_change_in_place(workspace, server):
    """What else the provider reads and writes on an instance: DisableApiTermination and
    InstanceInitiatedShutdownBehavior (ModifyInstanceAttribute), a burstable type's credit
    option (ModifyInstanceCreditSpecification); destroy turns termination protection off
    before TerminateInstances, as the provider does."""
    region = "us-east-2"
    ec2 = server.client(region)
    ws = workspace(region)

    def body(protect: bool, behavior: str, credits: str) -> str:
        return f"""
            resource "aws_instance" "app" {{
              ami                                  = "{AMI_AL2}"
              instance_type                        = "t3.small"
              disable_api_termination              = {str(protect).lower()}
              instance_initiated_shutdown_behavior = "{behavior}"
              credit_specification {{
                cpu_credits = "{credits}"
              }}
              metadata_options {{
                http_tokens = "required"
              }}
            }}
            output "id" {{ value = aws_instance.app.id }}
            """

    def attr(name):
        return ec2.describe_instance_attribute(InstanceId=iid, Attribute=name)

    def credits():
        spec = ec2.describe_instance_credit_specifications(InstanceIds=[iid])
        return [c["CpuCredits"] for c in spec["InstanceCreditSpecifications"]]

    ws.write(body(True, "terminate", "standard"))
    ws.init()
    ws.apply()
    iid = ws.outputs()["id"]
    assert attr("disableApiTermination")["DisableApiTermination"]["Value"] is True
    assert attr("instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    assert credits() == ["standard"]
    with ec2_error("OperationNotPermitted"):
        ec2.terminate_instances(InstanceIds=[iid])
    ws.plan_is_clean()

    ws.write(body(True, "stop", "unlimited"))
    ws.apply()
    assert attr("instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"]["Value"] == "stop"
    assert credits() == ["unlimited"]
    assert ws.outputs()["id"] == iid
    ws.plan_is_clean()

    ws.destroy()
    assert attr("disableApiTermination")["DisableApiTermination"]["Value"] is False
    assert state(ec2, iid) == "terminated"


@scenario
def default_vpc_and_changes_that_need_a_stop(workspace, server):
    """The default VPC through the data sources (DescribeVpcs with `isDefault`,
    DescribeVpcAttribute, DescribeRouteTables, DescribeSubnets), an instance in its first
    subnet; changing user_data and instance_type makes the provider stop the instance, wait
    for `stopped`, ModifyInstanceAttribute, start it and wait for `running`."""
    region = "ca-central-1"
    ec2 = server.client(region)
    ws = workspace(region)

    def body(itype: str, script: str) -> str:
        return f"""
            data "aws_vpc" "default" {{
              default = true
            }}
            data "aws_subnets" "default" {{
              filter {{
                name   = "vpc-id"
                values = [data.aws_vpc.default.id]
              }}
              filter {{
                name   = "default-for-az"
                values = ["true"]
              }}
            }}
            data "aws_subnet" "first" {{
              id = sort(data.aws_subnets.default.ids)[0]
            }}
            resource "aws_instance" "app" {{
              ami           = "{AMI_AL2}"
              instance_type = "{itype}"
              subnet_id     = data.aws_subnet.first.id
              user_data     = "#!/bin/sh\\necho {script}\\n"
              metadata_options {{
                http_tokens = "required"
              }}
            }}
            output "id" {{ value = aws_instance.app.id }}
            output "vpc" {{ value = data.aws_vpc.default.id }}
            output "cidr" {{ value = data.aws_vpc.default.cidr_block }}
            output "subnets" {{ value = data.aws_subnets.default.ids }}
            output "subnet" {{ value = data.aws_subnet.first.id }}
            """

    def user_data(iid):
        value = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
        return base64.b64decode(value["UserData"]["Value"]).decode()

    ws.write(body("t3.micro", "one"))
    ws.init()
    ws.apply()
    out = ws.outputs()
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert (out["vpc"], out["cidr"]) == (vpcs[0]["VpcId"], vpcs[0]["CidrBlock"])
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [out["vpc"]]}])
    assert sorted(out["subnets"]) == sorted(s["SubnetId"] for s in subnets["Subnets"])
    iid = out["id"]
    got = instance(ec2, iid)
    assert (got["SubnetId"], got["VpcId"]) == (out["subnet"], out["vpc"])
    assert user_data(iid) == "#!/bin/sh\necho one\n"
    ws.plan_is_clean()

    ws.write(body("t3.small", "two"))
    ws.apply()
    got = instance(ec2, iid)
    assert ws.outputs()["id"] == iid, "changed in place"
    assert (got["InstanceType"], got["State"]["Name"]) == ("t3.small", "running")
    assert user_data(iid) == "#!/bin/sh\necho two\n"
    ws.plan_is_clean()
    ws.destroy()
    assert state(ec2, iid) == "terminated"


@scenario
def instance_metadata_defaults_resource(workspace, server):
    """aws_ec2_instance_metadata_defaults: create, plan clean, update, plan clean, destroy
    (back to no preference)."""
    region = "us-west-1"
    ec2 = server.client(region)
    ws = workspace(region)

    def body(**fields) -> str:
        lines = "\n".join(f'  {k} = {v!r}'.replace("'", '"') for k, v in fields.items())
        return f'resource "aws_ec2_instance_metadata_defaults" "this" {{\n{lines}\n}}\n'

    def account_level():
        level = dict(ec2.get_instance_metadata_defaults()["AccountLevel"])
        assert level.pop("ManagedBy", "account") == "account"
        return level

    ws.write(body(http_tokens="required", http_put_response_hop_limit=2))
    ws.init()
    ws.apply()
    assert account_level() == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}
    ws.plan_is_clean()
    # The defaults decide launches in this Region (spec ec2-api.md §5).
    iid = helpers.run_one(ec2)
    helpers.assert_options(options(ec2, iid), HttpTokens="required", HttpPutResponseHopLimit=2)

    ws.write(body(http_tokens="optional", http_put_response_hop_limit=4,
                  http_endpoint="enabled", instance_metadata_tags="enabled"))
    ws.apply()
    assert account_level() == {"HttpTokens": "optional", "HttpPutResponseHopLimit": 4,
                               "HttpEndpoint": "enabled", "InstanceMetadataTags": "enabled"}
    ws.plan_is_clean()

    ws.destroy()
    assert account_level() == {}, "destroy puts every field back to no-preference"


@scenario
def launch_template_precedence(workspace, server):
    """aws_launch_template with metadata_options, and an aws_instance launched from it that
    sets only the hop limit: the instance gets the template's tokens and tags setting and its
    own hop limit (spec ec2-api.md §5, case 34); the provider reads the template back from
    the instance (aws:ec2launchtemplate:* tags), so the plan stays clean. The Region's
    account defaults (optional, hop 5, tags off) lose to both."""
    region = "eu-west-1"
    ec2 = server.client(region)
    ec2.modify_instance_metadata_defaults(HttpTokens="optional", HttpPutResponseHopLimit=5,
                                          InstanceMetadataTags="disabled")
    ws = workspace(region)
    ws.write(f"""
        resource "aws_launch_template" "lt" {{
          name          = "tf-imdsv2"
          image_id      = "{AMI_AL2}"
          instance_type = "t3.micro"
          metadata_options {{
            http_endpoint               = "enabled"
            http_tokens                 = "required"
            http_put_response_hop_limit = 3
            instance_metadata_tags      = "enabled"
          }}
        }}

        resource "aws_instance" "from_lt" {{
          launch_template {{
            id      = aws_launch_template.lt.id
            version = aws_launch_template.lt.latest_version
          }}
          metadata_options {{
            http_put_response_hop_limit = 2
          }}
          tags = {{ Name = "from-template" }}
        }}

        output "id" {{ value = aws_instance.from_lt.id }}
        output "template" {{ value = aws_launch_template.lt.id }}
        """)
    ws.init()
    ws.apply()
    out = ws.outputs()
    got = instance(ec2, out["id"])
    helpers.assert_options(got["MetadataOptions"], HttpTokens="required",
                           HttpPutResponseHopLimit=2, InstanceMetadataTags="enabled",
                           HttpEndpoint="enabled")
    tags = {t["Key"]: t["Value"] for t in got["Tags"]}
    assert tags == {"Name": "from-template", "aws:ec2launchtemplate:id": out["template"],
                    "aws:ec2launchtemplate:version": "1"}
    data = ec2.describe_launch_template_versions(LaunchTemplateId=out["template"])
    tpl_opts = data["LaunchTemplateVersions"][0]["LaunchTemplateData"]["MetadataOptions"]
    assert (tpl_opts["HttpTokens"], tpl_opts["HttpPutResponseHopLimit"]) == ("required", 3)
    assert ws.state("aws_instance.from_lt")["launch_template"][0]["id"] == out["template"]
    ws.plan_is_clean()
    ws.destroy()
    assert state(ec2, out["id"]) == "terminated"
    assert ec2.describe_launch_templates(
        Filters=[{"Name": "launch-template-name", "Values": ["tf-imdsv2"]}]
    )["LaunchTemplates"] == []


@scenario
def data_sources_filter_on_http_tokens(workspace, server):
    """data "aws_instances" and data "aws_instance" with a metadata-options.http-tokens
    filter find exactly the instances the server has with that setting."""
    region = "ap-northeast-1"
    ec2 = server.client(region)
    required = helpers.run_ids(ec2, 2, metadata={"HttpTokens": "required"})
    optional = helpers.run_ids(ec2, 1, metadata={"HttpTokens": "optional"})
    ec2.create_tags(Resources=optional, Tags=[{"Key": "Name", "Value": "legacy"}])
    for iid in required + optional:
        helpers.wait_state(ec2, iid, "running", timeout=30)
    ws = workspace(region)
    ws.write("""
        data "aws_instances" "v2" {
          filter {
            name   = "metadata-options.http-tokens"
            values = ["required"]
          }
          instance_state_names = ["running"]
        }

        data "aws_instance" "legacy" {
          filter {
            name   = "metadata-options.http-tokens"
            values = ["optional"]
          }
          filter {
            name   = "tag:Name"
            values = ["legacy"]
          }
        }

        output "v2_ids" { value = data.aws_instances.v2.ids }
        output "legacy_id" { value = data.aws_instance.legacy.id }
        output "legacy_tokens" { value = data.aws_instance.legacy.metadata_options[0].http_tokens }
        output "legacy_state" { value = data.aws_instance.legacy.instance_state }
        """)
    ws.init()
    ws.apply()
    out = ws.outputs()
    assert sorted(out["v2_ids"]) == sorted(required)
    assert out["legacy_id"] == optional[0]
    assert (out["legacy_tokens"], out["legacy_state"]) == ("optional", "running")
    ws.plan_is_clean()
    # Requiring IMDSv2 on the legacy instance moves it into the first set on the next read.
    ec2.modify_instance_metadata_options(InstanceId=optional[0], HttpTokens="required")
    ws.write("""
        data "aws_instances" "v2" {
          filter {
            name   = "metadata-options.http-tokens"
            values = ["required"]
          }
        }
        output "v2_ids" { value = data.aws_instances.v2.ids }
        """)
    ws.apply()
    assert sorted(ws.outputs()["v2_ids"]) == sorted(required + optional)


@scenario
def vpc_subnet_and_instance_in_it(workspace, server):
    """aws_vpc + aws_subnet (a /28) + aws_instance in that subnet (issue 11): apply (the
    provider also reads DescribeVpcAttribute, the main route table, the default network ACL
    and security group), a clean plan, then destroy (it lists the subnet's network interfaces
    before DeleteSubnet, and DeleteVpc comes after the subnet is gone)."""
    region = "eu-west-3"
    ec2 = server.client(region)
    ws = workspace(region)
    ws.write(f"""
        resource "aws_vpc" "main" {{
          cidr_block = "10.60.0.0/16"
          tags = {{ Name = "tf-vpc" }}
        }}
        resource "aws_subnet" "small" {{
          vpc_id            = aws_vpc.main.id
          cidr_block        = "10.60.1.0/28"
          availability_zone = "eu-west-3b"
          tags = {{ Name = "tf-subnet" }}
        }}
        resource "aws_instance" "app" {{
          ami           = "{AMI_AL2}"
          instance_type = "t3.micro"
          subnet_id     = aws_subnet.small.id
        }}
        output "vpc" {{ value = aws_vpc.main.id }}
        output "subnet" {{ value = aws_subnet.small.id }}
        output "sg" {{ value = aws_vpc.main.default_security_group_id }}
        output "id" {{ value = aws_instance.app.id }}
        """)
    ws.init()
    ws.apply()
    out = ws.outputs()
    vpc = ec2.describe_vpcs(VpcIds=[out["vpc"]])["Vpcs"][0]
    assert (vpc["CidrBlock"], vpc["Tags"]) == ("10.60.0.0/16", [{"Key": "Name", "Value": "tf-vpc"}])
    sub = ec2.describe_subnets(SubnetIds=[out["subnet"]])["Subnets"][0]
    assert (sub["CidrBlock"], sub["AvailabilityZone"], sub["VpcId"]) == \
        ("10.60.1.0/28", "eu-west-3b", out["vpc"])
    assert sub["AvailableIpAddressCount"] == 10  # 16 − 5 reserved − the instance's
    got = instance(ec2, out["id"])
    assert (got["SubnetId"], got["VpcId"]) == (out["subnet"], out["vpc"])
    assert got["PrivateIpAddress"] == "10.60.1.4"
    assert got["SecurityGroups"][0]["GroupId"] == out["sg"]
    ws.plan_is_clean()
    ws.destroy()
    assert state(ec2, out["id"]) == "terminated"
    with ec2_error("InvalidVpcID.NotFound"):
        ec2.describe_vpcs(VpcIds=[out["vpc"]])
    with ec2_error("InvalidSubnetID.NotFound"):
        ec2.describe_subnets(SubnetIds=[out["subnet"]])


@scenario
def spot_instance_with_market_options(workspace, server):
    """aws_instance with instance_market_options (issue 16): the launch is a Spot instance;
    the provider reads its Spot request (DescribeSpotInstanceRequests) on every refresh, so
    the plan after the apply is clean and destroy works (it failed with InvalidAction before
    imds served the request)."""
    region = "ap-northeast-2"
    ec2 = server.client(region)
    ws = workspace(region)
    ws.write(f"""
        resource "aws_instance" "spot" {{
          ami           = "{AMI_AL2}"
          instance_type = "t3.micro"
          instance_market_options {{
            market_type = "spot"
            spot_options {{
              instance_interruption_behavior = "terminate"
              spot_instance_type             = "one-time"
            }}
          }}
          metadata_options {{ http_tokens = "required" }}
        }}
        output "id" {{ value = aws_instance.spot.id }}
        output "lifecycle" {{ value = aws_instance.spot.instance_lifecycle }}
        output "request" {{ value = aws_instance.spot.spot_instance_request_id }}
        """)
    ws.init()
    ws.apply()
    out = ws.outputs()
    assert out["lifecycle"] == "spot"
    got = instance(ec2, out["id"])
    assert (got["InstanceLifecycle"], got["SpotInstanceRequestId"]) == ("spot", out["request"])
    ws.plan_is_clean()
    ws.destroy()
    assert state(ec2, out["id"]) == "terminated"


@scenario
def iam_group_with_policies_and_members(workspace, server):
    """aws_iam_group, its inline and managed policies and its members (aws_iam_user_group_
    membership), and a policy attached to a user and a group at once (aws_iam_policy_
    attachment) with the provider's iam endpoint at imds: apply, a clean plan (the provider
    reads each back: GetGroup, GetGroupPolicy, ListAttachedGroupPolicies, ListGroupsForUser,
    ListEntitiesForPolicy), then destroy. imds had no groups before (InvalidAction)."""
    iam = boto3.session.Session(
        aws_access_key_id=helpers.ACCESS_KEY, aws_secret_access_key=helpers.SECRET_KEY,
        region_name="us-east-1").client("iam", endpoint_url=server.endpoint)
    ws = workspace("eu-north-1")
    ws.write("""
        resource "aws_iam_user" "dev" {
          name = "tf-dev"
        }
        resource "aws_iam_group" "readers" {
          name = "tf-readers"
          path = "/teams/"
        }
        resource "aws_iam_group_policy" "describe" {
          name   = "describe"
          group  = aws_iam_group.readers.name
          policy = jsonencode({
            Version   = "2012-10-17"
            Statement = [{ Effect = "Allow", Action = "ec2:Describe*", Resource = "*" }]
          })
        }
        resource "aws_iam_group_policy_attachment" "ro" {
          group      = aws_iam_group.readers.name
          policy_arn = "arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess"
        }
        resource "aws_iam_user_group_membership" "dev" {
          user   = aws_iam_user.dev.name
          groups = [aws_iam_group.readers.name]
        }
        resource "aws_iam_policy" "shared" {
          name   = "tf-shared"
          policy = jsonencode({
            Version   = "2012-10-17"
            Statement = [{ Effect = "Allow", Action = "ec2:DescribeTags", Resource = "*" }]
          })
        }
        resource "aws_iam_policy_attachment" "shared" {
          name       = "tf-shared"
          policy_arn = aws_iam_policy.shared.arn
          users      = [aws_iam_user.dev.name]
          groups     = [aws_iam_group.readers.name]
        }
        output "group_arn" { value = aws_iam_group.readers.arn }
        output "shared_arn" { value = aws_iam_policy.shared.arn }
        """, services=("ec2", "sts", "iam"))
    ws.init()
    ws.apply()
    out = ws.outputs()
    got = iam.get_group(GroupName="tf-readers")
    assert got["Group"]["Arn"] == out["group_arn"]
    assert out["group_arn"].endswith(":group/teams/tf-readers")
    assert [u["UserName"] for u in got["Users"]] == ["tf-dev"]
    assert iam.list_group_policies(GroupName="tf-readers")["PolicyNames"] == ["describe"]
    assert sorted(p["PolicyName"] for p in iam.list_attached_group_policies(
        GroupName="tf-readers")["AttachedPolicies"]) == ["AmazonEC2ReadOnlyAccess", "tf-shared"]
    # aws_iam_policy_attachment reads its attachments with ListEntitiesForPolicy.
    entities = iam.list_entities_for_policy(PolicyArn=out["shared_arn"])
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["tf-readers"]
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["tf-dev"]
    assert entities["PolicyRoles"] == []
    ws.plan_is_clean()
    ws.destroy()
    assert iam.list_groups(PathPrefix="/teams/")["Groups"] == []
    assert "tf-dev" not in [u["UserName"] for u in iam.list_users()["Users"]]


@scenario
def iam_policy_document_changes_in_place(workspace, server):
    """aws_iam_policy whose document changes: the provider makes a new default version
    (CreatePolicyVersion, SetAsDefault) rather than a new policy, reads it back
    (GetPolicyVersion), and on destroy deletes the other versions first
    (ListPolicyVersions, DeletePolicyVersion); an aws_iam_role whose tags change in place
    (TagRole, UntagRole). imds had one version per policy and no tagging before
    (InvalidAction)."""
    iam = boto3.session.Session(
        aws_access_key_id=helpers.ACCESS_KEY, aws_secret_access_key=helpers.SECRET_KEY,
        region_name="us-east-1").client("iam", endpoint_url=server.endpoint)
    ws = workspace("eu-west-2")

    def config(action: str, tags: str) -> str:
        return f"""
            resource "aws_iam_role" "tagged" {{
              name = "tf-tagged"
              assume_role_policy = jsonencode({{
                Version   = "2012-10-17"
                Statement = [{{ Effect = "Allow", Action = "sts:AssumeRole",
                               Principal = {{ AWS = "arn:aws:iam::123456789012:root" }} }}]
              }})
              tags = {{ {tags} }}
            }}
            resource "aws_iam_policy" "guard" {{
              name   = "tf-guard"
              policy = jsonencode({{
                Version   = "2012-10-17"
                Statement = [{{ Effect = "Allow", Action = "{action}", Resource = "*" }}]
              }})
            }}
            output "arn" {{ value = aws_iam_policy.guard.arn }}
            output "id" {{ value = aws_iam_policy.guard.policy_id }}
            """
    ws.write(config("ec2:DescribeInstances", 'team = "blue", keep = "yes"'),
             services=("ec2", "sts", "iam"))
    ws.init()
    ws.apply()
    first = ws.outputs()
    ws.write(config("ec2:Describe*", 'team = "red"'), services=("ec2", "sts", "iam"))
    ws.apply()
    second = ws.outputs()
    assert second == first  # the same policy, changed in place
    p = iam.get_policy(PolicyArn=first["arn"])["Policy"]
    assert p["DefaultVersionId"] == "v2"
    doc = iam.get_policy_version(PolicyArn=first["arn"], VersionId="v2")["PolicyVersion"]["Document"]
    assert doc["Statement"][0]["Action"] == "ec2:Describe*"
    # The role's tags changed in place too (TagRole, UntagRole).
    assert iam.list_role_tags(RoleName="tf-tagged")["Tags"] == [{"Key": "team", "Value": "red"}]
    ws.plan_is_clean()
    ws.destroy()
    assert "tf-guard" not in [x["PolicyName"] for x in iam.list_policies(Scope="Local")["Policies"]]


@scenario
def unimplemented_action_fails_fast(workspace, server):
    """A resource whose API imds does not serve (aws_ebs_volume: CreateVolume) gets
    InvalidAction, a 400 that no client retries: terraform fails at once instead of retrying
    for minutes, and nothing is left half-made."""
    resp = raw(server.endpoint, {"Action": "CreateVolume", "AvailabilityZone": "us-east-1a",
                                 "Size": "8"})
    assert (resp.status, resp.error[0]) == (400, "InvalidAction")
    ws = workspace("sa-east-1")
    ws.write("""
        resource "aws_ebs_volume" "data" {
          availability_zone = "sa-east-1a"
          size              = 8
        }
        """)
    ws.init()
    r = ws.run("apply", "-auto-approve", "-input=false", "-no-color", timeout=120)
    assert r.returncode == 1, r.describe()
    assert "InvalidAction" in r.stderr and "StatusCode: 400" in r.stderr, r.describe()
    # Not retried: the AWS SDK for Go v2 names a retried error "exceeded maximum number of
    # attempts" (the provider retries up to 25 times, minutes, past the 120 s timeout above). A
    # shape, not a wall-clock figure: on a loaded machine one attempt can take a minute.
    assert "exceeded maximum number of attempts" not in r.stderr, r.describe()


# ----------------------------------------------------------------------------- tests

def test_aws_instance_metadata_options_lifecycle(scenarios):
    outcome(scenarios, aws_instance_metadata_options_lifecycle)


def test_aws_instance_attributes_change_in_place(scenarios):
    outcome(scenarios, aws_instance_attributes_change_in_place)


def test_instance_metadata_defaults_resource(scenarios):
    outcome(scenarios, instance_metadata_defaults_resource)


def test_launch_template_precedence(scenarios):
    outcome(scenarios, launch_template_precedence)


def test_data_sources_filter_on_http_tokens(scenarios):
    outcome(scenarios, data_sources_filter_on_http_tokens)


def test_unimplemented_action_fails_fast(scenarios):
    outcome(scenarios, unimplemented_action_fails_fast)


def test_default_vpc_and_changes_that_need_a_stop(scenarios):
    outcome(scenarios, default_vpc_and_changes_that_need_a_stop)


def test_vpc_subnet_and_instance_in_it(scenarios):
    outcome(scenarios, vpc_subnet_and_instance_in_it)


def test_iam_group_with_policies_and_members(scenarios):
    outcome(scenarios, iam_group_with_policies_and_members)


def test_iam_policy_document_changes_in_place(scenarios):
    outcome(scenarios, iam_policy_document_changes_in_place)


def test_spot_instance_with_market_options(scenarios):
    outcome(scenarios, spot_instance_with_market_options)
