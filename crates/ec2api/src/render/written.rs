//! The `Instance` structure written straight to XML text (`xml::Fields`), as DescribeInstances
//! and RunInstances list it: a page writes 1,000 of them, and building each one's JSON value
//! first (`render::instance`, a map and a string per member) cost more than SQLite, decoding
//! and the text together. The members are written in the model's order (the writer refuses
//! any other); `render::instance` stays the reference, and `render::tests` holds the two to
//! the same bytes for every shape of instance the renderer knows.

use super::{attachment_id, cpu_options, instance, private_dns_name, timestamp, ROOT_DEVICE};
use crate::protocol::output::Written;
use crate::protocol::xml::{EncodeError, Fields};
use model::instance::Instance;
use model::InstanceState;
use serde_json::Value;

/// An instance as DescribeInstances' `Instance` structure.
pub(crate) struct Described(pub Instance);

impl Written for Described {
    fn write(&self, f: &mut Fields<'_>) -> Result<(), EncodeError> {
        write_instance(f, &self.0)
    }

    fn value(&self) -> Value {
        instance(&self.0)
    }
}

type R = Result<(), EncodeError>;

/// `GroupIdentifierList`: the instance's security groups.
fn groups(f: &mut Fields<'_>, member: &str, i: &Instance) -> R {
    f.list(member, |items| {
        for (id, name) in &i.security_groups {
            items.structure(|g| {
                g.str("GroupId", id)?;
                g.str("GroupName", name)
            })?;
        }
        Ok(())
    })
}

/// The primary network interface (`render::primary_interface`).
fn primary_interface(f: &mut Fields<'_>, i: &Instance, launch: &str, dns: &str) -> R {
    let ip = i.private_ip.to_string();
    f.structure("Attachment", |a| {
        a.str("AttachTime", launch)?;
        a.str("AttachmentId", &attachment_id(i))?;
        a.bool("DeleteOnTermination", true)?;
        a.int("DeviceIndex", 0)?;
        a.str("Status", "attached")?;
        a.int("NetworkCardIndex", 0)
    })?;
    f.str("Description", "")?;
    groups(f, "Groups", i)?;
    f.list("Ipv6Addresses", |_| Ok(()))?;
    f.str("MacAddress", &i.mac_address)?;
    f.str("NetworkInterfaceId", &i.network_interface_id)?;
    f.str("OwnerId", &i.scope.account)?;
    f.str("PrivateDnsName", dns)?;
    f.str("PrivateIpAddress", &ip)?;
    f.list("PrivateIpAddresses", |items| {
        items.structure(|p| {
            p.bool("Primary", true)?;
            p.str("PrivateDnsName", dns)?;
            p.str("PrivateIpAddress", &ip)
        })
    })?;
    f.bool("SourceDestCheck", i.source_dest_check)?;
    f.str("Status", "in-use")?;
    f.str("SubnetId", &i.subnet_id)?;
    f.str("VpcId", &i.vpc_id)?;
    f.str("InterfaceType", "interface")
}

/// The members of `render::instance`, in the model's order.
fn write_instance(f: &mut Fields<'_>, i: &Instance) -> R {
    let launch = timestamp(i.launch_time_ms);
    let dns = private_dns_name(i);
    let live = i.state != InstanceState::Terminated;
    f.str("Architecture", i.architecture())?;
    f.list("BlockDeviceMappings", |items| {
        if !live {
            return Ok(());
        }
        items.structure(|b| {
            b.str("DeviceName", ROOT_DEVICE)?;
            b.structure("Ebs", |e| {
                e.str("AttachTime", &launch)?;
                e.bool("DeleteOnTermination", true)?;
                e.str("Status", "attached")?;
                e.str("VolumeId", &i.root_volume_id)
            })
        })
    })?;
    f.str("ClientToken", i.client_token.as_deref().unwrap_or_default())?;
    f.bool("EbsOptimized", i.ebs_optimized)?;
    f.bool("EnaSupport", true)?;
    f.str("Hypervisor", "xen")?;
    if let Some(p) = &i.iam_instance_profile {
        f.structure("IamInstanceProfile", |pr| {
            pr.str("Arn", &p.arn)?;
            pr.str("Id", &p.id)
        })?;
    }
    if i.market.is_some() {
        f.str("InstanceLifecycle", "spot")?;
    }
    f.list("NetworkInterfaces", |items| {
        if !live {
            return Ok(());
        }
        items.structure(|n| primary_interface(n, i, &launch, &dns))
    })?;
    f.str("RootDeviceName", ROOT_DEVICE)?;
    f.str("RootDeviceType", "ebs")?;
    groups(f, "SecurityGroups", i)?;
    f.bool("SourceDestCheck", i.source_dest_check)?;
    if let Some(m) = &i.market {
        f.str("SpotInstanceRequestId", &m.request_id)?;
    }
    if let Some(r) = &i.state_reason {
        f.structure("StateReason", |s| {
            s.str("Code", r.code.as_str())?;
            s.str("Message", &r.message)
        })?;
    }
    if !i.tags.is_empty() {
        f.list("Tags", |items| {
            for t in &i.tags {
                items.structure(|tag| {
                    tag.str("Key", &t.key)?;
                    tag.str("Value", &t.value)
                })?;
            }
            Ok(())
        })?;
    }
    f.str("VirtualizationType", "hvm")?;
    let (cores, threads) = cpu_options(i);
    f.structure("CpuOptions", |c| {
        c.int("CoreCount", i64::from(cores))?;
        c.int("ThreadsPerCore", i64::from(threads))
    })?;
    f.structure("CapacityReservationSpecification", |c| {
        c.str("CapacityReservationPreference", "open")
    })?;
    f.structure("HibernationOptions", |h| {
        h.bool("Configured", i.hibernation)
    })?;
    let m = &i.metadata;
    f.structure("MetadataOptions", |o| {
        o.str("State", i.options_state().as_str())?;
        o.str("HttpTokens", m.http_tokens.as_str())?;
        o.int("HttpPutResponseHopLimit", i64::from(m.hop_limit.get()))?;
        o.str("HttpEndpoint", m.http_endpoint.as_str())?;
        o.str("HttpProtocolIpv6", m.http_protocol_ipv6.as_str())?;
        o.str("InstanceMetadataTags", m.instance_metadata_tags.as_str())
    })?;
    f.structure("EnclaveOptions", |e| e.bool("Enabled", false))?;
    f.str("PlatformDetails", "Linux/UNIX")?;
    f.str("UsageOperation", "RunInstances")?;
    f.str("UsageOperationUpdateTime", &launch)?;
    f.structure("PrivateDnsNameOptions", |p| {
        p.str("HostnameType", "ip-name")?;
        p.bool("EnableResourceNameDnsARecord", false)?;
        p.bool("EnableResourceNameDnsAAAARecord", false)
    })?;
    f.structure("MaintenanceOptions", |m| m.str("AutoRecovery", "default"))?;
    f.str("CurrentInstanceBootMode", "legacy-bios")?;
    f.str("InstanceId", &i.instance_id)?;
    f.str("ImageId", &i.image_id)?;
    f.structure("State", |s| {
        s.int("Code", i.state.code())?;
        s.str("Name", i.state.as_str())
    })?;
    f.str("PrivateDnsName", if live { &dns } else { "" })?;
    f.str("PublicDnsName", "")?;
    f.str("StateTransitionReason", &i.state_transition_reason)?;
    if let Some(k) = &i.key_name {
        f.str("KeyName", k)?;
    }
    f.int("AmiLaunchIndex", i64::from(i.ami_launch_index))?;
    f.list("ProductCodes", |_| Ok(()))?;
    f.str("InstanceType", &i.instance_type)?;
    f.str("LaunchTime", &launch)?;
    f.structure("Placement", |p| {
        p.str("GroupName", "")?;
        p.str("Tenancy", "default")?;
        p.str("AvailabilityZone", &i.availability_zone)
    })?;
    f.structure("Monitoring", |m| {
        m.str("State", if i.monitoring { "enabled" } else { "disabled" })
    })?;
    if live {
        f.str("SubnetId", &i.subnet_id)?;
        f.str("VpcId", &i.vpc_id)?;
        f.str("PrivateIpAddress", &i.private_ip.to_string())?;
    }
    Ok(())
}
