//! What a target names, in EC2's terms: its filter paths as DescribeInstances filters, an
//! instance's lifecycle (`spot`) for the `InstanceLifecycle` path, and the instance id of an
//! EC2 instance ARN. The API resolves targets with these against the instances it keeps.

/// The DescribeInstances filter a target filter's `path` stands for: the output paths of
/// DescribeInstances FIS documents for EC2 targets [S11][S20]. `None`: a path imds does not
/// resolve, refused at Create (UNCONFIRMED that FIS refuses it then).
pub fn filter_name(path: &str) -> Option<&'static str> {
    Some(match path {
        "State.Name" => "instance-state-name",
        "Placement.AvailabilityZone" => "availability-zone",
        "SubnetId" => "subnet-id",
        "InstanceId" => "instance-id",
        "VpcId" => "vpc-id",
        "InstanceType" => "instance-type",
        "InstanceLifecycle" => INSTANCE_LIFECYCLE,
        _ => return None,
    })
}

/// The DescribeInstances filter `InstanceLifecycle` stands for.
pub const INSTANCE_LIFECYCLE: &str = "instance-lifecycle";

/// An instance's `instanceLifecycle` as DescribeInstances shows it: `spot` for a Spot
/// instance, none for on-demand [S8].
pub fn instance_lifecycle(i: &crate::Instance) -> Option<&'static str> {
    i.market.as_ref().map(|_| "spot")
}

/// Whether `i` passes an `instance-lifecycle` filter with `values` (EC2's wildcards).
pub fn lifecycle_matches(i: &crate::Instance, values: &[String]) -> bool {
    instance_lifecycle(i).is_some_and(|l| values.iter().any(|v| crate::filter::matches(v, l)))
}

/// The instance id of an EC2 instance ARN in `region` and `account`
/// (`arn:aws:ec2:<region>:<account>:instance/<id>` [S13][S14]); `None` for any other.
pub fn instance_of_arn(arn: &str, region: &str, account: &str) -> Option<String> {
    let a = crate::Arn::parse(arn).ok()?;
    let id = a.resource.strip_prefix("instance/")?;
    (a.partition == crate::arn::PARTITION
        && a.service == "ec2"
        && a.region == region
        && a.account == account
        && !id.is_empty())
    .then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_paths_are_describe_instances_filters() {
        assert_eq!(filter_name("State.Name"), Some("instance-state-name"));
        assert_eq!(
            filter_name("Placement.AvailabilityZone"),
            Some("availability-zone")
        );
        assert_eq!(filter_name("InstanceLifecycle"), Some(INSTANCE_LIFECYCLE));
        assert_eq!(filter_name("State.Code"), None);
        assert_eq!(
            instance_of_arn(
                "arn:aws:ec2:us-west-2:123456789012:instance/i-0123",
                "us-west-2",
                "123456789012"
            ),
            Some("i-0123".into())
        );
        assert_eq!(
            instance_of_arn(
                "arn:aws:ec2:us-east-1:123456789012:instance/i-0123",
                "us-west-2",
                "123456789012"
            ),
            None
        );
        let mut i = crate::testing::instance("t3.micro");
        assert!(!lifecycle_matches(&i, &["spot".into()]));
        i.market = Some(crate::events::SpotMarket {
            request_id: "sir-12345678".into(),
            request_type: crate::events::SpotRequestType::OneTime,
            behavior: crate::events::InterruptionBehavior::Terminate,
            max_price: None,
            valid_until_ms: None,
            cancelled: false,
        });
        assert!(lifecycle_matches(&i, &["spot".into()]));
        assert!(lifecycle_matches(&i, &["sp*".into()]));
    }
}
