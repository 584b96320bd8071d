//! A running instance with every field filled, for the tests of this crate and of the crates
//! above it (feature `test-support`). Never used by the product itself.

use crate::instance::{Instance, InstanceState};
use crate::options::MetadataOptions;
use crate::Scope;
use std::net::Ipv4Addr;

pub fn instance(instance_type: &str) -> Instance {
    Instance {
        instance_id: "i-0123456789abcdef0".into(),
        scope: Scope::new("123456789012", "us-east-1"),
        reservation_id: "r-0123456789abcdef0".into(),
        image_id: "ami-0abcdef1234567890".into(),
        instance_type: instance_type.into(),
        state: InstanceState::Running,
        transition: None,
        state_transition_reason: String::new(),
        state_reason: None,
        launch_time_ms: 0,
        private_ip: Ipv4Addr::new(172, 31, 0, 4),
        subnet_id: "subnet-0123456789abcdef0".into(),
        vpc_id: "vpc-0123456789abcdef0".into(),
        availability_zone: "us-east-1a".into(),
        network: None,
        network_interface_id: "eni-0123456789abcdef0".into(),
        mac_address: "02:00:00:00:00:01".into(),
        root_volume_id: "vol-0123456789abcdef0".into(),
        ami_launch_index: 0,
        key_name: None,
        security_groups: vec![],
        iam_instance_profile: None,
        profile_association: None,
        user_data: None,
        client_token: None,
        launch_fingerprint: None,
        ebs_optimized: false,
        disable_api_termination: false,
        disable_api_stop: false,
        monitoring: false,
        shutdown_behavior: crate::launch::ShutdownBehavior::Stop,
        hibernation: false,
        cpu_credits: None,
        source_dest_check: true,
        launch_template: None,
        metadata: MetadataOptions::BUILT_IN,
        options_generation: 1,
        applied_generation: 1,
        applied_metadata: Some(MetadataOptions::BUILT_IN),
        tags: vec![],
        terminated_at_ms: None,
        market: None,
        events: Default::default(),
    }
}

/// A one-time Spot market with `behavior` (request `sir-abcdefgh`), for a sample Spot instance.
pub fn spot_market(behavior: crate::events::InterruptionBehavior) -> crate::events::SpotMarket {
    crate::events::SpotMarket {
        request_id: "sir-abcdefgh".into(),
        request_type: crate::events::SpotRequestType::OneTime,
        behavior,
        max_price: None,
        valid_until_ms: None,
        cancelled: false,
    }
}
