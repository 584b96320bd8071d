use super::checks::checks;
use super::*;
use crate::actions::AUTHORIZED_IN_WRITE;
use crate::protocol::query::{decode, Params};
use serde_json::Value;

fn caller() -> Caller {
    Caller::root(
        "123456789012",
        None,
        "us-east-1".into(),
        crate::Service::Ec2,
    )
}

/// The checks of `request` resolved on `instances`.
fn resolved(request: &Request, instances: &[Instance]) -> Vec<(String, Context)> {
    let caller = caller();
    checks(request, &caller, &Context::new())
        .iter()
        .map(|c| c.resolve(&caller, instances))
        .collect()
}

/// The request a query string makes, decoded and typed as the API does it.
fn request(action: Action, query: &str) -> Request {
    let params = Params::parse(query.as_bytes()).unwrap();
    let input = decode(action.name(), &params).unwrap();
    Request::parse(action, input).unwrap()
}

/// The checks that carry the named instance's keys are exactly those of the actions whose
/// decision is given the instances: inside the handler's write, or read before the handler
/// (the ids [`Authorization::instance_ids`] names). The store is read for these, and for no
/// other.
#[test]
fn instance_keys_only_where_the_instances_are_read() {
    let mut i = model::testing::instance("t3.micro");
    i.tags.push(model::tags::Tag {
        key: "env".into(),
        value: "dev".into(),
    });
    let id = i.instance_id.clone();
    for &action in Action::ALL {
        let input = serde_json::json!({
            "InstanceId": id, "InstanceIds": [id], "MinCount": 1, "MaxCount": 1,
            "ImageId": "ami-0123456789abcdef0", "Attribute": "description",
            "LaunchTemplateName": "t", "LaunchTemplateData": {},
        });
        let request = Request::parse(action, input).unwrap();
        let carries = resolved(&request, std::slice::from_ref(&i))
            .iter()
            .any(|(_, c)| c.get("ec2:ResourceTag/env").is_some());
        let read_before = !checks(&request, &caller(), &Context::new())
            .iter()
            .all(|c| !matches!(c.resource, checks::Resource::Instance(_)));
        let given = AUTHORIZED_IN_WRITE.contains(&action) || read_before;
        assert_eq!(carries, given, "{}", action.name());
    }
}

/// `ec2:Attribute` as it was read off the decoded parameters (before the typed inputs): the
/// `Attribute` parameter, or every member sent but InstanceId, DryRun and ImageId.
fn attribute_names_from_parameters(input: &Value) -> Option<Vec<String>> {
    if let Some(a) = input.get("Attribute").and_then(Value::as_str) {
        return Some(vec![a.to_string()]);
    }
    let names: Vec<String> = input
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !matches!(k.as_str(), "InstanceId" | "DryRun" | "ImageId"))
        .map(|(k, _)| k.clone())
        .collect();
    (!names.is_empty()).then_some(names)
}

/// `ec2:Attribute/<Member>` as it was read off the decoded parameters.
fn attribute_values_from_parameters(input: &Value, members: &[&str]) -> Vec<(String, String)> {
    members
        .iter()
        .filter_map(|m| {
            let v = match input.get(*m)? {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((format!("ec2:Attribute/{m}"), v))
        })
        .collect()
}

/// `ec2:Attribute` and `ec2:Attribute/<Member>` from the typed inputs are what they were
/// when read off the decoded parameters, for the same requests.
#[test]
fn attribute_keys_are_those_the_parameters_gave() {
    let options = [
        "HttpTokens",
        "HttpPutResponseHopLimit",
        "HttpEndpoint",
        "HttpProtocolIpv6",
        "InstanceMetadataTags",
    ];
    let defaults = [
        "HttpTokens",
        "HttpTokensEnforced",
        "HttpPutResponseHopLimit",
        "HttpEndpoint",
        "InstanceMetadataTags",
    ];
    let id = "InstanceId=i-0123456789abcdef0";
    let image = "ImageId=ami-0123456789abcdef0";
    let cases: Vec<(Action, String, &[&str])> = vec![
        (
            Action::ModifyInstanceMetadataOptions,
            id.to_string(),
            &options,
        ),
        (
            Action::ModifyInstanceMetadataOptions,
            format!("{id}&HttpTokens=required&HttpPutResponseHopLimit=3&DryRun=true"),
            &options,
        ),
        (
            Action::ModifyInstanceMetadataOptions,
            format!(
                "InstanceMetadataTags=enabled&HttpProtocolIpv6=enabled&HttpEndpoint=disabled&{id}"
            ),
            &options,
        ),
        (
            Action::ModifyInstanceMetadataDefaults,
            "HttpTokens=required&HttpTokensEnforced=enabled&HttpPutResponseHopLimit=2".into(),
            &defaults,
        ),
        (
            Action::ModifyInstanceMetadataDefaults,
            "InstanceMetadataTags=disabled&HttpEndpoint=enabled&DryRun=false".into(),
            &defaults,
        ),
        (
            Action::ModifyInstanceMetadataDefaults,
            String::new(),
            &defaults,
        ),
        (
            Action::ModifyInstanceAttribute,
            format!("{id}&Attribute=userData&Value=aGk="),
            &[],
        ),
        (
            Action::ModifyInstanceAttribute,
            format!("{id}&DisableApiTermination.Value=true"),
            &[],
        ),
        (
            Action::ModifyInstanceAttribute,
            format!("{id}&InstanceType.Value=t3.large&EbsOptimized.Value=true&DryRun=true"),
            &[],
        ),
        (
            Action::ModifyInstanceAttribute,
            format!(
                "{id}&GroupId.1=sg-0123456789abcdef0&SourceDestCheck.Value=false\
                 &Kernel.Value=k&Ramdisk.Value=r&SriovNetSupport.Value=simple\
                 &EnaSupport.Value=true&EnclaveOptions.Enabled=true&DisableApiStop.Value=true\
                 &InstanceInitiatedShutdownBehavior.Value=stop&UserData.Value=aGk=\
                 &BlockDeviceMapping.1.DeviceName=/dev/xvda"
            ),
            &[],
        ),
        (
            Action::DescribeInstanceAttribute,
            format!("{id}&Attribute=userData"),
            &[],
        ),
        (
            Action::ModifyImageAttribute,
            format!("{image}&ImdsSupport.Value=v2.0"),
            &[],
        ),
        (
            Action::ModifyImageAttribute,
            format!("{image}&Attribute=description&Value=d"),
            &[],
        ),
        (
            Action::ModifyImageAttribute,
            format!(
                "{image}&LaunchPermission.Add.1.Group=all&OperationType=add\
                 &UserId.1=123456789012&UserGroup.1=all&ProductCode.1=p\
                 &OrganizationArn.1=arn:o&OrganizationalUnitArn.1=arn:u&Description.Value=d"
            ),
            &[],
        ),
        (
            Action::DescribeImageAttribute,
            format!("{image}&Attribute=description&DryRun=true"),
            &[],
        ),
    ];
    for (action, query, members) in cases {
        let params = Params::parse(query.as_bytes()).unwrap();
        let input = decode(action.name(), &params).unwrap();
        let request = Request::parse(action, input.clone()).unwrap();
        let list = resolved(&request, &[]);
        let ctx = &list[0].1;
        assert_eq!(
            ctx.get("ec2:Attribute").map(<[String]>::to_vec),
            attribute_names_from_parameters(&input),
            "{query}"
        );
        let mut values: Vec<(String, String)> = ctx
            .iter()
            .filter(|(k, _)| k.starts_with("ec2:Attribute/"))
            .map(|(k, v)| (k.clone(), v.join(",")))
            .collect();
        values.sort();
        let mut want = attribute_values_from_parameters(&input, members);
        want.sort();
        assert_eq!(values, want, "{query}");
    }
}

/// A launch's checks read off the typed input: the image, the instance with the requested
/// options, type, profile and tags, the subnet and security groups named, the key pair;
/// tag-on-create on each resource type tagged.
#[test]
fn launch_checks_read_the_typed_input() {
    let launch = request(
        Action::RunInstances,
        "ImageId=ami-0123456789abcdef0&InstanceType=t3.micro&MinCount=1&MaxCount=1\
         &MetadataOptions.HttpTokens=required&MetadataOptions.HttpPutResponseHopLimit=2\
         &SubnetId=subnet-0123456789abcdef0&SecurityGroupId.1=sg-0123456789abcdef0\
         &KeyName=k&IamInstanceProfile.Name=p\
         &TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=team\
         &TagSpecification.1.Tag.1.Value=a&TagSpecification.2.ResourceType=volume\
         &TagSpecification.2.Tag.1.Key=v",
    );
    let list = resolved(&launch, &[]);
    let arns: Vec<&str> = list.iter().map(|(a, _)| a.as_str()).collect();
    let account = "arn:aws:ec2:us-east-1:123456789012";
    assert_eq!(
        arns,
        [
            "arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0".to_string(),
            format!("{account}:instance/*"),
            format!("{account}:network-interface/*"),
            format!("{account}:subnet/subnet-0123456789abcdef0"),
            format!("{account}:volume/*"),
            format!("{account}:security-group/sg-0123456789abcdef0"),
            format!("{account}:key-pair/k"),
        ]
    );
    let instance = &list[1].1;
    let get = |k: &str| instance.get(k).map(<[String]>::to_vec).unwrap_or_default();
    assert_eq!(get("ec2:MetadataHttpTokens"), ["required"]);
    assert_eq!(get("ec2:MetadataHttpPutResponseHopLimit"), ["2"]);
    assert_eq!(get("ec2:InstanceType"), ["t3.micro"]);
    assert_eq!(
        get("ec2:InstanceProfile"),
        ["arn:aws:iam::123456789012:instance-profile/p"]
    );
    assert_eq!(get("aws:RequestTag/team"), ["a"]);
    assert_eq!(get("aws:TagKeys"), ["team"]);
    let tagging = checks::tag_on_create_checks(&launch, &caller(), &Context::new());
    let tagged: Vec<&str> = tagging.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        tagged,
        [
            format!("{account}:instance/*"),
            format!("{account}:volume/*")
        ]
    );
    assert_eq!(
        tagging[1].1.get("aws:RequestTag/v").map(<[String]>::to_vec),
        Some(vec![String::new()])
    );
    assert_eq!(
        tagging[0].1.get("ec2:CreateAction").map(<[String]>::to_vec),
        Some(vec!["RunInstances".to_string()])
    );
}

/// Replace and Disassociate are checked on the instance of the association (with its keys)
/// when the store found it, else on `instance/*`.
#[test]
fn association_actions_are_checked_on_the_instance_found() {
    let i = model::testing::instance("t3.micro");
    let disassociate = request(
        Action::DisassociateIamInstanceProfile,
        "AssociationId=iip-assoc-0123456789abcdef0",
    );
    let found = resolved(&disassociate, std::slice::from_ref(&i));
    assert_eq!(
        found[0].0,
        format!(
            "arn:aws:ec2:us-east-1:123456789012:instance/{}",
            i.instance_id
        )
    );
    assert!(found[0].1.get("ec2:InstanceType").is_some());
    let none = resolved(&disassociate, &[]);
    assert_eq!(none[0].0, "arn:aws:ec2:us-east-1:123456789012:instance/*");
    assert!(none[0].1.get("ec2:InstanceID").is_none());
}
