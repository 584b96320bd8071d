//! What DescribeInstances filters an instance by: its values of each filter attribute.

use super::{Instance, InstanceState, ASSOCIATION_ATTRIBUTE};

impl InstanceState {
    /// The filter attributes of an instance in this state (a step of the lifecycle changes
    /// these and no other).
    pub fn filter_attributes(self) -> [(&'static str, String); 2] {
        [
            ("instance-state-name", self.as_str().to_string()),
            ("instance-state-code", self.code().to_string()),
        ]
    }
}

impl Instance {
    /// The values of a DescribeInstances filter attribute for this instance (see
    /// `filter::INSTANCE_FILTERS`). Tags are `tag:KEY` = value and `tag-key` = key.
    pub fn filter_attributes(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = [
            ("instance-id", self.instance_id.clone()),
            ("instance-type", self.instance_type.clone()),
            ("image-id", self.image_id.clone()),
            ("availability-zone", self.availability_zone.clone()),
            ("subnet-id", self.subnet_id.clone()),
            ("vpc-id", self.vpc_id.clone()),
            ("private-ip-address", self.private_ip.to_string()),
            ("reservation-id", self.reservation_id.clone()),
            ("owner-id", self.scope.account.clone()),
            ("architecture", self.architecture().to_string()),
            (
                "metadata-options.state",
                self.options_state().as_str().to_string(),
            ),
        ]
        .into_iter()
        .chain(self.state.filter_attributes())
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        out.extend(
            self.metadata
                .filter_attributes()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
        if let Some(k) = &self.key_name {
            out.push(("key-name".into(), k.clone()));
        }
        if let Some(p) = &self.iam_instance_profile {
            out.push(("iam-instance-profile.arn".into(), p.arn.clone()));
        }
        if let Some(a) = &self.profile_association {
            // Not a DescribeInstances filter: how Replace and Disassociate find the instance
            // of an association id (an indexed lookup).
            out.push((ASSOCIATION_ATTRIBUTE.into(), a.association_id.clone()));
        }
        if let Some(m) = &self.market {
            // On-demand instances have no lifecycle (EC2's filter takes spot, scheduled,
            // capacity-block).
            out.push(("instance-lifecycle".into(), "spot".into()));
            out.push(("spot-instance-request-id".into(), m.request_id.clone()));
        }
        if let Some(c) = &self.client_token {
            out.push(("client-token".into(), c.clone()));
        }
        for t in &self.tags {
            out.push((format!("tag:{}", t.key), t.value.clone()));
            out.push(("tag-key".into(), t.key.clone()));
            out.push(("tag-value".into(), t.value.clone()));
        }
        out
    }
}
