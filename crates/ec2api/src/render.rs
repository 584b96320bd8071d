//! Domain records as the EC2 model's output members (the names boto3 shows), ready for the
//! XML encoder; lists of instances as outputs made item by item (`protocol::output`).

use crate::protocol::output::Output;
use model::catalogue;
use model::image::Image;
use model::instance::Instance;
use model::options::MetadataOptions;
use model::tags::Tag;
use model::OptionsState;
use serde_json::{json, Value};

mod written;

/// `2026-11-22T17:00:00.000Z`, as EC2 writes timestamps.
pub fn timestamp(ms: i64) -> String {
    model::time::iso8601(ms, true)
}

pub fn tags(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"Key": t.key, "Value": t.value}))
            .collect(),
    )
}

/// `InstanceMetadataOptionsResponse`.
pub fn metadata_options(m: &MetadataOptions, state: OptionsState) -> Value {
    json!({
        "State": state.as_str(),
        "HttpTokens": m.http_tokens.as_str(),
        "HttpPutResponseHopLimit": m.hop_limit.get(),
        "HttpEndpoint": m.http_endpoint.as_str(),
        "HttpProtocolIpv6": m.http_protocol_ipv6.as_str(),
        "InstanceMetadataTags": m.instance_metadata_tags.as_str(),
    })
}

fn private_dns_name(i: &Instance) -> String {
    model::instance::private_dns_name(i.private_ip, &i.scope.region)
}

/// The primary interface's attachment id, from the interface's own.
fn attachment_id(i: &Instance) -> String {
    i.network_interface_id.replace("eni-", "eni-attach-")
}

/// `CpuOptions`' core count and threads per core, from the type's vCPUs.
fn cpu_options(i: &Instance) -> (u32, u32) {
    let vcpus = catalogue::instance_type(&i.instance_type)
        .map(|t| t.vcpus)
        .unwrap_or(1);
    (vcpus.div_ceil(2).max(1), if vcpus > 1 { 2 } else { 1 })
}

/// The device of every instance's root volume.
pub const ROOT_DEVICE: &str = "/dev/xvda";

/// `InstanceBlockDeviceMappingList`: the root volume, attached at launch.
pub fn block_device_mappings(i: &Instance) -> Value {
    json!([{"DeviceName": ROOT_DEVICE, "Ebs": {
        "AttachTime": timestamp(i.launch_time_ms), "DeleteOnTermination": true, "Status": "attached", "VolumeId": i.root_volume_id
    }}])
}

/// `GroupIdentifierList`: the instance's security groups.
pub fn groups(i: &Instance) -> Value {
    i.security_groups
        .iter()
        .map(|(id, name)| json!({"GroupId": id, "GroupName": name}))
        .collect()
}

/// An instance's primary network interface, as its `NetworkInterfaces` item shows it (and
/// DescribeNetworkInterfaces, which adds the members only it has).
pub fn primary_interface(i: &Instance) -> Value {
    let launch = timestamp(i.launch_time_ms);
    let dns = private_dns_name(i);
    json!({
        "Attachment": {"AttachTime": launch, "AttachmentId": attachment_id(i),
            "DeleteOnTermination": true, "DeviceIndex": 0, "Status": "attached", "NetworkCardIndex": 0},
        "Description": "",
        "Groups": groups(i),
        "Ipv6Addresses": [],
        "MacAddress": i.mac_address,
        "NetworkInterfaceId": i.network_interface_id,
        "OwnerId": i.scope.account,
        "PrivateDnsName": dns,
        "PrivateIpAddress": i.private_ip.to_string(),
        "PrivateIpAddresses": [{"Primary": true, "PrivateDnsName": dns, "PrivateIpAddress": i.private_ip.to_string()}],
        "SourceDestCheck": i.source_dest_check,
        "Status": "in-use",
        "SubnetId": i.subnet_id,
        "VpcId": i.vpc_id,
        "InterfaceType": "interface",
    })
}

/// The `Instance` structure of DescribeInstances and RunInstances.
pub fn instance(i: &Instance) -> Value {
    let launch = timestamp(i.launch_time_ms);
    let dns = private_dns_name(i);
    let groups = groups(i);
    let (cores, threads) = cpu_options(i);
    let mut v = json!({
        "InstanceId": i.instance_id,
        "ImageId": i.image_id,
        "State": {"Code": i.state.code(), "Name": i.state.as_str()},
        "PrivateDnsName": if i.state == model::InstanceState::Terminated { String::new() } else { dns.clone() },
        "PublicDnsName": "",
        "StateTransitionReason": i.state_transition_reason,
        "AmiLaunchIndex": i.ami_launch_index,
        "ProductCodes": [],
        "InstanceType": i.instance_type,
        "LaunchTime": launch,
        "Placement": {"AvailabilityZone": i.availability_zone, "GroupName": "", "Tenancy": "default"},
        "Monitoring": {"State": if i.monitoring { "enabled" } else { "disabled" }},
        "Architecture": i.architecture(),
        "ClientToken": i.client_token.clone().unwrap_or_default(),
        "EbsOptimized": i.ebs_optimized,
        "EnaSupport": true,
        "Hypervisor": "xen",
        "RootDeviceName": ROOT_DEVICE,
        "RootDeviceType": "ebs",
        "SecurityGroups": groups.clone(),
        "SourceDestCheck": i.source_dest_check,
        "Tags": tags(&i.tags),
        "VirtualizationType": "hvm",
        "CpuOptions": {"CoreCount": cores, "ThreadsPerCore": threads},
        "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
        "HibernationOptions": {"Configured": i.hibernation},
        "MetadataOptions": metadata_options(&i.metadata, i.options_state()),
        "EnclaveOptions": {"Enabled": false},
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "UsageOperationUpdateTime": launch,
        "PrivateDnsNameOptions": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": false, "EnableResourceNameDnsAAAARecord": false},
        "MaintenanceOptions": {"AutoRecovery": "default"},
        "CurrentInstanceBootMode": "legacy-bios",
    });
    let obj = v.as_object_mut().expect("object literal");
    if i.state != model::InstanceState::Terminated {
        obj.insert("SubnetId".into(), json!(i.subnet_id));
        obj.insert("VpcId".into(), json!(i.vpc_id));
        obj.insert("PrivateIpAddress".into(), json!(i.private_ip.to_string()));
        obj.insert("BlockDeviceMappings".into(), block_device_mappings(i));
        obj.insert("NetworkInterfaces".into(), json!([primary_interface(i)]));
    } else {
        obj.insert("BlockDeviceMappings".into(), json!([]));
        obj.insert("NetworkInterfaces".into(), json!([]));
    }
    if let Some(k) = &i.key_name {
        obj.insert("KeyName".into(), json!(k));
    }
    if let Some(p) = &i.iam_instance_profile {
        obj.insert(
            "IamInstanceProfile".into(),
            json!({"Arn": p.arn, "Id": p.id}),
        );
    }
    if let Some(r) = &i.state_reason {
        obj.insert(
            "StateReason".into(),
            json!({"Code": r.code, "Message": r.message}),
        );
    }
    if let Some(m) = &i.market {
        // A Spot instance (EC2 API reference samples; on-demand omits both).
        obj.insert("InstanceLifecycle".into(), json!("spot"));
        obj.insert("SpotInstanceRequestId".into(), json!(m.request_id));
    }
    if i.tags.is_empty() {
        obj.remove("Tags");
    }
    v
}

/// DescribeInstances groups instances by reservation, in the order they come. Each
/// reservation, and each of its instances, is rendered only when the encoder writes it.
pub fn reservations(instances: Vec<Instance>) -> Output {
    Output::items(by_reservation(instances), reservation)
}

/// One `Reservation` (RunInstances answers one) of instances launched together; its
/// instances rendered one at a time. `None` without instances.
pub fn reservation(instances: Vec<Instance>) -> Output {
    let (id, owner) = match instances.first() {
        Some(i) => (json!(i.reservation_id), json!(i.scope.account)),
        None => (Value::Null, Value::Null),
    };
    Output::Struct(vec![
        ("ReservationId", id.into()),
        ("OwnerId", owner.into()),
        ("Groups", json!([]).into()),
        (
            "Instances",
            Output::items(instances, |i| {
                Output::Written(Box::new(written::Described(i)))
            }),
        ),
    ])
}

/// Runs of instances of the same reservation, in the order they come.
fn by_reservation(instances: Vec<Instance>) -> Vec<Vec<Instance>> {
    let mut out: Vec<Vec<Instance>> = Vec::new();
    for i in instances {
        match out.last_mut() {
            Some(run) if run[0].reservation_id == i.reservation_id => run.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

/// The `Image` structure of DescribeImages.
pub fn image(img: &Image) -> Value {
    let mut v = json!({
        "ImageId": img.image_id,
        "ImageLocation": format!("{}/{}", img.owner_alias.as_deref().unwrap_or(&img.owner_id), img.name),
        "State": "available",
        "OwnerId": img.owner_id,
        "CreationDate": img.creation_date,
        "Public": img.public,
        "Architecture": img.architecture,
        "ImageType": "machine",
        "PlatformDetails": img.platform_details,
        "UsageOperation": "RunInstances",
        "EnaSupport": img.ena_support,
        "Hypervisor": "xen",
        "Name": img.name,
        "RootDeviceName": img.root_device_name,
        "RootDeviceType": "ebs",
        "VirtualizationType": img.virtualization_type,
        "BootMode": "uefi-preferred",
        "BlockDeviceMappings": [{"DeviceName": img.root_device_name, "Ebs": {
            "DeleteOnTermination": true, "SnapshotId": format!("snap-{}", &img.image_id[4..]), "VolumeSize": 8, "VolumeType": "gp3", "Encrypted": false
        }}],
    });
    let obj = v.as_object_mut().expect("object literal");
    if let Some(d) = &img.description {
        obj.insert("Description".into(), json!(d));
    }
    if let Some(a) = &img.owner_alias {
        obj.insert("ImageOwnerAlias".into(), json!(a));
    }
    if let Some(s) = img.imds_support {
        obj.insert("ImdsSupport".into(), json!(s.as_str()));
    }
    if !img.tags.is_empty() {
        obj.insert("Tags".into(), tags(&img.tags));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::xml::{encode, encode_output};
    use model::instance::{IamProfileRef, InstanceState};
    use model::tags::Tag;

    /// The reservations as the encoder took them before it streamed: the whole page as one
    /// value. The streaming encoder must write the same bytes.
    fn whole_reservations(instances: &[Instance]) -> Value {
        let mut out: Vec<Value> = Vec::new();
        let mut current: Option<String> = None;
        for i in instances {
            if current.as_deref() != Some(&i.reservation_id) {
                out.push(json!({
                    "ReservationId": i.reservation_id,
                    "OwnerId": i.scope.account,
                    "Groups": [],
                    "Instances": [],
                }));
                current = Some(i.reservation_id.clone());
            }
            if let Some(Value::Array(list)) = out.last_mut().and_then(|r| r.get_mut("Instances")) {
                list.push(instance(i));
            }
        }
        Value::Array(out)
    }

    /// Instances of two reservations, in every shape the renderer knows: running with tags,
    /// a key, groups and a profile; the model's pending and stopping records; terminated.
    fn sample() -> Vec<Instance> {
        let pending: Instance = serde_json::from_str(include_str!(
            "../../model/src/instance/testdata/pending.json"
        ))
        .unwrap();
        let stopping: Instance = serde_json::from_str(include_str!(
            "../../model/src/instance/testdata/stopping.json"
        ))
        .unwrap();
        let mut out = vec![pending, stopping];
        for n in 0..5u8 {
            let mut i = model::testing::instance(if n % 2 == 0 { "t3.micro" } else { "m5.large" });
            i.instance_id = format!("i-0123456789abcde{n:02}");
            i.reservation_id = "r-0fedcba9876543210".into();
            i.ami_launch_index = u32::from(n);
            i.tags = vec![Tag {
                key: "Name".into(),
                value: format!("web <{n}> & co"),
            }];
            i.key_name = Some("k".into());
            i.security_groups = vec![("sg-0123456789abcdef0".into(), "default".into())];
            if n == 1 {
                i.iam_instance_profile = Some(IamProfileRef {
                    arn: "arn:aws:iam::123456789012:instance-profile/p".into(),
                    id: "AIPAEXAMPLE".into(),
                    role: None,
                });
            }
            if n == 2 {
                // Every member a launch may set, and text that needs escaping or replacing.
                i.client_token = Some("tok\"en'1".into());
                i.monitoring = true;
                i.hibernation = true;
                i.ebs_optimized = true;
                i.source_dest_check = false;
                i.metadata.http_tokens = model::options::HttpTokens::Required;
                i.tags.push(Tag {
                    key: "ctl".into(),
                    value: "a\u{1}b\u{FFFE}".into(),
                });
                i.security_groups
                    .push(("sg-0123456789abcdef1".into(), "db & <web>".into()));
                i.state_transition_reason = "User initiated (2026-12-05 10:00:00 GMT)".into();
            }
            if n == 3 {
                // A Spot instance, shut down by its interruption.
                i.market = Some(model::testing::spot_market(
                    model::events::InterruptionBehavior::Terminate,
                ));
                i.schedule_interruption(model::events::Interruption::planned("EXP", 0, 0, 0))
                    .unwrap();
                i.take_due_events(0, 10);
            }
            if n == 4 {
                i.state = InstanceState::Terminated;
                i.tags.clear();
            }
            out.push(i);
        }
        out
    }

    #[test]
    fn a_streamed_describe_page_is_the_whole_page_byte_for_byte() {
        let whole = json!({"Reservations": whole_reservations(&sample()), "NextToken": "bmV4dA=="});
        let streamed = Output::Struct(vec![
            ("Reservations", reservations(sample())),
            ("NextToken", json!("bmV4dA==").into()),
        ]);
        let want = encode("DescribeInstances", "rid", &whole).unwrap();
        let got = encode_output("DescribeInstances", "rid", streamed).unwrap();
        assert_eq!(got, want);
        assert_eq!(got.matches("<reservationId>").count(), 2);
        assert_eq!(got.matches("<instanceId>").count(), 7);
        let last = Output::Struct(vec![
            ("Reservations", reservations(sample())),
            ("NextToken", Value::Null.into()),
        ]);
        let whole = json!({"Reservations": whole_reservations(&sample())});
        assert_eq!(
            encode_output("DescribeInstances", "rid", last).unwrap(),
            encode("DescribeInstances", "rid", &whole).unwrap()
        );
        let empty = Output::Struct(vec![("Reservations", reservations(vec![]))]);
        assert_eq!(
            encode_output("DescribeInstances", "rid", empty).unwrap(),
            encode("DescribeInstances", "rid", &json!({"Reservations": []})).unwrap()
        );
    }

    /// The shape that keeps a page's cost to its text: every instance of a page is written
    /// straight to text, none built as a JSON value first.
    #[test]
    fn a_page_writes_its_instances_without_values() {
        let Output::Items(reservations) = reservations(sample()) else {
            panic!("reservations are a list made item by item");
        };
        let mut written = 0;
        for r in reservations {
            let Output::Struct(members) = r else {
                panic!("a reservation is a structure of outputs");
            };
            for (name, member) in members {
                if name == "Instances" {
                    let Output::Items(items) = member else {
                        panic!("instances are a list made item by item");
                    };
                    for item in items {
                        assert!(matches!(item, Output::Written(_)), "{item:?}");
                        written += 1;
                    }
                }
            }
        }
        assert_eq!(written, 7);
    }

    #[test]
    fn a_streamed_launch_is_the_whole_reservation_byte_for_byte() {
        let launched: Vec<Instance> = sample().into_iter().skip(2).collect();
        let mut whole = whole_reservations(&launched);
        let whole = whole.as_array_mut().and_then(|a| a.pop()).unwrap();
        let want = encode("RunInstances", "rid", &whole).unwrap();
        let got = encode_output("RunInstances", "rid", reservation(launched)).unwrap();
        assert_eq!(got, want);
        assert_eq!(got.matches("<instanceId>").count(), 5);
    }

    #[test]
    fn a_streamed_answer_refuses_keys_the_model_lacks() {
        let bogus = Output::Struct(vec![("Bogus", json!(1).into())]);
        assert!(encode_output("DescribeInstances", "r", bogus).is_err());
        let item = Output::Struct(vec![(
            "Reservations",
            Output::items(
                vec![json!({"ReservationId": "r-1", "Bogus": 1})],
                Output::from,
            ),
        )]);
        assert!(encode_output("DescribeInstances", "r", item).is_err());
        let not_a_list = Output::Struct(vec![("Reservations", json!({}).into())]);
        assert!(encode_output("DescribeInstances", "r", not_a_list).is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_763_830_800_123), "2025-11-22T17:00:00.123Z");
    }
}
