//! The catalogue as the Describe calls show it: DescribeInstanceTypes, and DescribeVolumes
//! (the root volume every instance gets). VPCs and subnets are in `vpcs`.

use super::listing::{states_where, InstanceListing};
use super::{dry_run, filters, ids_without_max, max_results_up_to, page_in_memory, FilterIn};
use crate::context::Ctx;
use crate::render;
use model::catalogue::{self, Hypervisor, InstanceType};
use model::filter::{self, Filter};
use model::instance::{Instance, InstanceState};
use model::{ids, Ec2Error};
use serde::Deserialize;
use serde_json::{json, Value};

/// Keep the items whose attributes pass every filter (names checked against `known` first).
pub(super) fn filtered<T>(
    items: impl IntoIterator<Item = T>,
    input: Vec<FilterIn>,
    known: &[&str],
    attributes: impl Fn(&T) -> Vec<(String, String)>,
) -> Result<Vec<T>, Ec2Error> {
    let filters: Vec<Filter> = filters(input)?;
    filter::validate(&filters, known)?;
    Ok(items
        .into_iter()
        .filter(|t| filter::passes(&filters, &attributes(t)))
        .collect())
}

pub(super) fn attrs(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

// ------------------------------------------------------------------- instance types

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInstanceTypesIn {
    #[serde(default)]
    instance_types: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const INSTANCE_TYPE_FILTERS: &[&str] = &[
    "instance-type",
    "current-generation",
    "free-tier-eligible",
    "burstable-performance-supported",
    "bare-metal",
    "hypervisor",
    "hibernation-supported",
    "processor-info.supported-architecture",
    "vcpu-info.default-vcpus",
    "memory-info.size-in-mib",
    "supported-usage-class",
    "supported-root-device-type",
    "supported-virtualization-type",
    "instance-storage-supported",
    "network-info.ipv6-supported",
    "network-info.ena-support",
    "ebs-info.nvme-support",
];

fn family(t: &InstanceType) -> &'static str {
    t.name.split('.').next().unwrap_or(t.name)
}

/// Families of the previous generation (EC2's "Previous generation instances" page).
fn current_generation(t: &InstanceType) -> bool {
    !matches!(family(t), "m1" | "c3")
}

fn free_tier(t: &InstanceType) -> bool {
    matches!(t.name, "t2.micro" | "t3.micro")
}

/// Local disks: m1.small (one 160 GB HDD) and c3.large (two 16 GB SSDs) have them.
fn instance_storage(t: &InstanceType) -> Option<(i64, i64, &'static str)> {
    match t.name {
        "m1.small" => Some((160, 1, "hdd")),
        "c3.large" => Some((16, 2, "ssd")),
        _ => None,
    }
}

fn ena_support(t: &InstanceType) -> &'static str {
    match (t.hypervisor, family(t)) {
        (Hypervisor::Nitro, _) => "required",
        (_, "m4") => "supported",
        _ => "unsupported",
    }
}

fn threads_per_core(t: &InstanceType) -> u32 {
    if t.vcpus > 1 && t.architecture != "arm64" {
        2
    } else {
        1
    }
}

fn instance_type_attributes(t: &InstanceType) -> Vec<(String, String)> {
    let arm = t.architecture == "arm64";
    let mut a = attrs(&[
        ("instance-type", t.name.to_string()),
        ("current-generation", current_generation(t).to_string()),
        ("free-tier-eligible", free_tier(t).to_string()),
        ("burstable-performance-supported", t.burstable.to_string()),
        ("bare-metal", "false".into()),
        ("hypervisor", t.hypervisor.as_str().into()),
        ("hibernation-supported", (t.name != "m1.small").to_string()),
        (
            "processor-info.supported-architecture",
            t.architecture.into(),
        ),
        ("vcpu-info.default-vcpus", t.vcpus.to_string()),
        ("memory-info.size-in-mib", t.memory_mib.to_string()),
        ("supported-usage-class", "on-demand".into()),
        ("supported-usage-class", "spot".into()),
        ("supported-root-device-type", "ebs".into()),
        ("supported-virtualization-type", "hvm".into()),
        (
            "instance-storage-supported",
            instance_storage(t).is_some().to_string(),
        ),
        (
            "network-info.ipv6-supported",
            (t.name != "m1.small").to_string(),
        ),
        ("network-info.ena-support", ena_support(t).into()),
        (
            "ebs-info.nvme-support",
            if t.hypervisor == Hypervisor::Nitro {
                "required"
            } else {
                "unsupported"
            }
            .into(),
        ),
    ]);
    if !arm && t.hypervisor == Hypervisor::Xen {
        a.push((
            "processor-info.supported-architecture".into(),
            "i386".into(),
        ));
    }
    a
}

/// `InstanceTypeInfo`, from the catalogue's facts about the type.
fn instance_type_info(t: &InstanceType) -> Value {
    let nitro = t.hypervisor == Hypervisor::Nitro;
    let arm = t.architecture == "arm64";
    let threads = threads_per_core(t);
    let mut architectures = vec![t.architecture];
    if !arm && !nitro {
        architectures.insert(0, "i386");
    }
    let network = if t.burstable {
        "Up to 5 Gigabit"
    } else if nitro {
        "Up to 10 Gigabit"
    } else {
        "Moderate"
    };
    let interfaces = if t.vcpus > 1 { 3 } else { 2 };
    let mut v = json!({
        "InstanceType": t.name,
        "CurrentGeneration": current_generation(t),
        "FreeTierEligible": free_tier(t),
        "SupportedUsageClasses": ["on-demand", "spot"],
        "SupportedRootDeviceTypes": if instance_storage(t).is_some() { json!(["ebs", "instance-store"]) } else { json!(["ebs"]) },
        "SupportedVirtualizationTypes": ["hvm"],
        "BareMetal": false,
        "Hypervisor": t.hypervisor.as_str(),
        "ProcessorInfo": {
            "SupportedArchitectures": architectures,
            "SustainedClockSpeedInGhz": if arm { 2.5 } else if nitro { 3.1 } else { 2.4 },
            "Manufacturer": if arm { "AWS" } else { "Intel" },
        },
        "VCpuInfo": {
            "DefaultVCpus": t.vcpus,
            "DefaultCores": (t.vcpus / threads).max(1),
            "DefaultThreadsPerCore": threads,
        },
        "MemoryInfo": {"SizeInMiB": t.memory_mib},
        "InstanceStorageSupported": instance_storage(t).is_some(),
        "EbsInfo": {
            "EbsOptimizedSupport": if nitro || matches!(family(t), "m4" | "c4") { "default" } else if t.burstable { "unsupported" } else { "supported" },
            "EncryptionSupport": "supported",
            "NvmeSupport": if nitro { "required" } else { "unsupported" },
        },
        "NetworkInfo": {
            "NetworkPerformance": network,
            "MaximumNetworkInterfaces": interfaces,
            "MaximumNetworkCards": 1,
            "DefaultNetworkCardIndex": 0,
            "NetworkCards": [{"NetworkCardIndex": 0, "NetworkPerformance": network, "MaximumNetworkInterfaces": interfaces}],
            "Ipv4AddressesPerInterface": if t.vcpus > 1 { 12 } else { 2 },
            "Ipv6AddressesPerInterface": if t.name == "m1.small" { 0 } else if t.vcpus > 1 { 12 } else { 2 },
            "Ipv6Supported": t.name != "m1.small",
            "EnaSupport": ena_support(t),
            "EfaSupported": false,
            "EncryptionInTransitSupported": false,
            "EnaSrdSupported": false,
        },
        "PlacementGroupInfo": {"SupportedStrategies": if t.burstable { json!(["partition", "spread"]) } else { json!(["cluster", "partition", "spread"]) }},
        "HibernationSupported": t.name != "m1.small",
        "BurstablePerformanceSupported": t.burstable,
        "DedicatedHostsSupported": !t.burstable || family(t) == "t3",
        "AutoRecoverySupported": instance_storage(t).is_none(),
        "SupportedBootModes": if arm { json!(["uefi"]) } else if nitro { json!(["legacy-bios", "uefi"]) } else { json!(["legacy-bios"]) },
        "NitroEnclavesSupport": "unsupported",
        "NitroTpmSupport": if nitro { "supported" } else { "unsupported" },
        "PhcSupport": "unsupported",
    });
    if let Some((size, count, kind)) = instance_storage(t) {
        v["InstanceStorageInfo"] = json!({
            "TotalSizeInGB": size * count,
            "Disks": [{"SizeInGB": size, "Count": count, "Type": kind}],
            "NvmeSupport": "unsupported",
        });
    }
    if nitro {
        v["NitroTpmInfo"] = json!({"SupportedVersions": ["2.0"]});
    }
    v
}

/// DescribeInstanceTypes over the catalogue: named types must exist
/// (`InvalidInstanceType`), MaxResults is 5..100 (the model's `DITMaxResults`).
pub async fn describe_instance_types(
    _ctx: &Ctx<'_>,
    req: DescribeInstanceTypesIn,
) -> Result<Value, Ec2Error> {
    let limit = max_results_up_to(req.max_results, 100)?;
    super::page_after("types", &req.next_token)?;
    let unknown: Vec<&str> = req
        .instance_types
        .iter()
        .map(String::as_str)
        .filter(|n| catalogue::instance_type(n).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(Ec2Error::InvalidInstanceType(format!(
            "The following supplied instance types do not exist: [{}]",
            unknown.join(", ")
        )));
    }
    let named = |t: &&InstanceType| {
        req.instance_types.is_empty() || req.instance_types.iter().any(|n| n == t.name)
    };
    let types = filtered(
        catalogue::INSTANCE_TYPES.iter().filter(named),
        req.filters,
        INSTANCE_TYPE_FILTERS,
        |t| instance_type_attributes(t),
    )?;
    dry_run(req.dry_run)?;
    let items = types.into_iter().map(instance_type_info).collect();
    page_in_memory("InstanceTypes", "types", items, &req.next_token, limit)
}

// ------------------------------------------------------------------- volumes

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVolumesIn {
    #[serde(default)]
    volume_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const VOLUME_FILTERS: &[&str] = &[
    "volume-id",
    "attachment.instance-id",
    "attachment.device",
    "attachment.status",
    "attachment.delete-on-termination",
    "availability-zone",
    "status",
    "size",
    "volume-type",
    "encrypted",
    "snapshot-id",
    "multi-attach-enabled",
    "tag-key",
];

/// Every instance's root volume: 8 GiB gp3 from its image's snapshot, attached at launch as
/// `/dev/xvda`, deleted on termination (so a terminated instance has none).
fn root_volume(i: &Instance) -> Value {
    let attached = render::timestamp(i.launch_time_ms);
    json!({
        "VolumeId": i.root_volume_id,
        "Size": 8,
        "SnapshotId": format!("snap-{}", &i.image_id[4..]),
        "AvailabilityZone": i.availability_zone,
        "State": "in-use",
        "CreateTime": attached,
        "Attachments": [{
            "AttachTime": attached,
            "Device": render::ROOT_DEVICE,
            "InstanceId": i.instance_id,
            "State": "attached",
            "VolumeId": i.root_volume_id,
            "DeleteOnTermination": true,
        }],
        "Encrypted": false,
        "VolumeType": "gp3",
        "Iops": 3000,
        "Throughput": 125,
        "MultiAttachEnabled": false,
    })
}

fn volume_attributes(i: &Instance) -> Vec<(String, String)> {
    attrs(&[
        ("volume-id", i.root_volume_id.clone()),
        ("attachment.instance-id", i.instance_id.clone()),
        ("attachment.device", render::ROOT_DEVICE.into()),
        ("attachment.status", "attached".into()),
        ("attachment.delete-on-termination", "true".into()),
        ("availability-zone", i.availability_zone.clone()),
        ("status", "in-use".into()),
        ("size", "8".into()),
        ("volume-type", "gp3".into()),
        ("encrypted", "false".into()),
        ("snapshot-id", format!("snap-{}", &i.image_id[4..])),
        ("multi-attach-enabled", "false".into()),
    ])
}

/// One resource per instance not terminated (its root volume, its primary interface), read
/// from the store a page at a time ([`InstanceListing`]). Without ids, the filters on the
/// instance's own attributes (`on_instance`: the listing's name, the store's) are the
/// store's; every filter is also checked here on the resource's `attributes`. Ids named
/// (never with `MaxResults`) are looked for among every instance, a chunk at a time, and
/// the first that names none is `not_found`. Filter names are checked after the ids, as EC2
/// reports them.
#[allow(clippy::too_many_arguments)]
async fn per_instance(
    ctx: &Ctx<'_>,
    (kind, member): (&str, &str),
    token: &Option<String>,
    limit: Option<u32>,
    named: &[String],
    input: Vec<FilterIn>,
    (known, on_instance): (&[&str], &[(&str, &str)]),
    resource: Resource,
    not_found: fn(String) -> Ec2Error,
) -> Result<Value, Ec2Error> {
    let filters: Vec<Filter> = filters(input)?;
    let mut on_instances = vec![states_where(|s| s != InstanceState::Terminated)];
    if named.is_empty() {
        for f in &filters {
            if let Some((_, store_name)) = on_instance.iter().find(|(n, _)| *n == f.name) {
                on_instances.push(Filter {
                    name: store_name.to_string(),
                    values: f.values.clone(),
                });
            }
        }
    }
    let listing = InstanceListing {
        kind,
        ids: None,
        filters: on_instances,
        limit,
    };
    let mut found: Vec<String> = Vec::new();
    let out = listing
        .page(ctx, member, token, |i| {
            let id = (resource.id)(i);
            if !named.is_empty() {
                if !named.contains(id) {
                    return None;
                }
                found.push(id.clone());
            }
            filter::passes(&filters, &(resource.attributes)(i)).then(|| (resource.render)(i))
        })
        .await?;
    if let Some(missing) = named.iter().find(|v| !found.contains(v)) {
        return Err(not_found(missing.clone()));
    }
    filter::validate(&filters, known)?;
    Ok(out)
}

/// What a per-instance resource is: its id, its filter attributes, its answer.
struct Resource {
    id: fn(&Instance) -> &String,
    attributes: fn(&Instance) -> Vec<(String, String)>,
    render: fn(&Instance) -> Value,
}

/// DescribeVolumes over the root volumes of the caller's instances that are not terminated.
/// MaxResults is 5..500 and not with VolumeId.N.
pub async fn describe_volumes(ctx: &Ctx<'_>, req: DescribeVolumesIn) -> Result<Value, Ec2Error> {
    ids_without_max(&req.volume_ids, req.max_results, "volumeSet")?;
    let limit = max_results_up_to(req.max_results, 500)?;
    super::page_after("volumes", &req.next_token)?;
    for id in &req.volume_ids {
        if !ids::is_well_formed(id, ids::VOLUME) {
            return Err(Ec2Error::InvalidVolumeIdMalformed(id.clone()));
        }
    }
    let out = per_instance(
        ctx,
        ("volumes", "Volumes"),
        &req.next_token,
        limit,
        &req.volume_ids,
        req.filters,
        (
            VOLUME_FILTERS,
            &[
                ("attachment.instance-id", "instance-id"),
                ("availability-zone", "availability-zone"),
            ],
        ),
        Resource {
            id: |i| &i.root_volume_id,
            attributes: volume_attributes,
            render: root_volume,
        },
        Ec2Error::InvalidVolumeNotFound,
    )
    .await?;
    dry_run(req.dry_run)?;
    Ok(out)
}

// ------------------------------------------------------------------- network interfaces

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNetworkInterfacesIn {
    #[serde(default)]
    network_interface_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<FilterIn>,
    max_results: Option<i64>,
    next_token: Option<String>,
    dry_run: Option<bool>,
}

const NETWORK_INTERFACE_FILTERS: &[&str] = &[
    "network-interface-id",
    "subnet-id",
    "vpc-id",
    "availability-zone",
    "attachment.instance-id",
    "attachment.status",
    "status",
    "private-ip-address",
    "mac-address",
    "owner-id",
    "interface-type",
    "requester-managed",
    "group-id",
    "description",
    "tag-key",
];

fn interface_attributes(i: &Instance) -> Vec<(String, String)> {
    let mut a = attrs(&[
        ("network-interface-id", i.network_interface_id.clone()),
        ("subnet-id", i.subnet_id.clone()),
        ("vpc-id", i.vpc_id.clone()),
        ("availability-zone", i.availability_zone.clone()),
        ("attachment.instance-id", i.instance_id.clone()),
        ("attachment.status", "attached".into()),
        ("status", "in-use".into()),
        ("private-ip-address", i.private_ip.to_string()),
        ("mac-address", i.mac_address.clone()),
        ("owner-id", i.scope.account.clone()),
        ("interface-type", "interface".into()),
        ("requester-managed", "false".into()),
        ("description", String::new()),
    ]);
    for (g, _) in &i.security_groups {
        a.push(("group-id".into(), g.clone()));
    }
    a
}

/// DescribeNetworkInterfaces over the primary interface of each instance not terminated (it
/// goes with its instance, as on EC2 with `DeleteOnTermination`): Terraform lists a subnet's
/// interfaces before it deletes the subnet, to clean up the ones left behind.
pub async fn describe_network_interfaces(
    ctx: &Ctx<'_>,
    req: DescribeNetworkInterfacesIn,
) -> Result<Value, Ec2Error> {
    ids_without_max(
        &req.network_interface_ids,
        req.max_results,
        "networkInterfaceIdSet",
    )?;
    let limit = max_results_up_to(req.max_results, 1000)?;
    super::page_after("interfaces", &req.next_token)?;
    for id in &req.network_interface_ids {
        if !ids::is_well_formed(id, ids::NETWORK_INTERFACE) {
            return Err(Ec2Error::InvalidParameterValue(format!(
                "Invalid id: \"{id}\" (expecting \"eni-...\")"
            )));
        }
    }
    let out = per_instance(
        ctx,
        ("interfaces", "NetworkInterfaces"),
        &req.next_token,
        limit,
        &req.network_interface_ids,
        req.filters,
        (
            NETWORK_INTERFACE_FILTERS,
            &[
                ("subnet-id", "subnet-id"),
                ("vpc-id", "vpc-id"),
                ("availability-zone", "availability-zone"),
                ("attachment.instance-id", "instance-id"),
                ("private-ip-address", "private-ip-address"),
                ("owner-id", "owner-id"),
            ],
        ),
        Resource {
            id: |i| &i.network_interface_id,
            attributes: interface_attributes,
            render: interface,
        },
        Ec2Error::InvalidNetworkInterfaceIdNotFound,
    )
    .await?;
    dry_run(req.dry_run)?;
    Ok(out)
}

/// An instance's primary interface as DescribeNetworkInterfaces answers it.
fn interface(i: &Instance) -> Value {
    let mut eni = render::primary_interface(i);
    if let Some(o) = eni.as_object_mut() {
        o.insert("AvailabilityZone".into(), json!(i.availability_zone));
        o.insert("RequesterManaged".into(), json!(false));
        if let Some(a) = o.get_mut("Attachment").and_then(Value::as_object_mut) {
            a.insert("InstanceId".into(), json!(i.instance_id));
            a.insert("InstanceOwnerId".into(), json!(i.scope.account));
        }
        o.insert("TagSet".into(), json!([]));
    }
    eni
}
