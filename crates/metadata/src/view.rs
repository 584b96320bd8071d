//! What the metadata service knows of one instance: a snapshot of the store's record with the
//! options in force (not the desired ones while a change is pending).

use base64::Engine;
use model::instance::{IamProfileRef, Instance, InstanceState};
use model::tags::Tag;
use model::MetadataOptions;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceView {
    pub instance_id: String,
    pub account: String,
    pub region: String,
    pub availability_zone: String,
    pub image_id: String,
    pub instance_type: String,
    pub architecture: &'static str,
    pub reservation_id: String,
    pub ami_launch_index: u32,
    pub private_ip: Ipv4Addr,
    pub mac: String,
    pub interface_id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub network: Option<model::instance::NetworkPlacement>,
    pub security_groups: Vec<(String, String)>,
    pub key_name: Option<String>,
    /// The instance profile whose role is served: that of the settled association (see
    /// `model::profile_association`), not a requested one still `associating`.
    pub iam_profile: Option<IamProfileRef>,
    pub user_data: Option<Vec<u8>>,
    pub tags: Vec<Tag>,
    pub launch_time_ms: i64,
    pub state: InstanceState,
    /// The options enforced now.
    pub options: MetadataOptions,
    /// The generation of `options`.
    pub generation: u64,
    /// The generation the API last asked for.
    pub desired_generation: u64,
    /// The options of that generation, which the host switches to once it applies them.
    pub desired: MetadataOptions,
    /// Whether the host may switch to the desired options now (`Instance::can_apply`).
    pub can_apply: bool,
    /// A Spot instance (`instance-life-cycle`).
    pub spot: bool,
    /// Its interruption notice, recommendation, maintenance events and Auto Scaling state.
    pub events: model::events::InstanceEvents,
}

impl InstanceView {
    pub fn of(i: &Instance) -> InstanceView {
        InstanceView {
            instance_id: i.instance_id.clone(),
            account: i.scope.account.clone(),
            region: i.scope.region.clone(),
            availability_zone: i.availability_zone.clone(),
            image_id: i.image_id.clone(),
            instance_type: i.instance_type.clone(),
            architecture: i.architecture(),
            reservation_id: i.reservation_id.clone(),
            ami_launch_index: i.ami_launch_index,
            private_ip: i.private_ip,
            mac: i.mac_address.clone(),
            interface_id: i.network_interface_id.clone(),
            subnet_id: i.subnet_id.clone(),
            vpc_id: i.vpc_id.clone(),
            network: i.network.clone(),
            security_groups: i.security_groups.clone(),
            key_name: i.key_name.clone(),
            iam_profile: i.served_profile().cloned(),
            user_data: i.user_data.as_deref().and_then(|u| {
                base64::engine::general_purpose::STANDARD
                    .decode(u.trim())
                    .ok()
            }),
            tags: i.tags.clone(),
            launch_time_ms: i.launch_time_ms,
            state: i.state,
            options: i.options_in_force(),
            generation: i.applied_generation,
            desired_generation: i.options_generation,
            desired: i.metadata,
            can_apply: i.can_apply(),
            spot: i.market.is_some(),
            events: i.events.clone(),
        }
    }

    /// `ip-172-31-0-4.ec2.internal` in us-east-1, `ip-….REGION.compute.internal` elsewhere.
    pub fn hostname(&self) -> String {
        model::instance::private_dns_name(self.private_ip, &self.region)
    }
}
