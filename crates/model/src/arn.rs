//! Amazon Resource Names: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
//!
//! One type for every ARN imds builds (instances, images, launch templates, VPCs, subnets,
//! instance profiles, roles, users, role sessions, policies) and takes apart (a role named in
//! AssumeRole, the principal of a policy simulation, the principals a trust policy names), so
//! the layout is written once. imds serves the `aws` partition; IAM and STS ARNs have no
//! Region, and images none account (they are the Region's public catalogue).

use std::fmt;

/// The partition imds serves.
pub const PARTITION: &str = "aws";

/// An ARN in its six fields. `resource` keeps everything after the fifth colon (it may hold
/// colons itself) and, for IAM, the resource type, path and name (`role/team/dev`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

/// A string that is not `arn:` followed by five colon-separated fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ARN {0} is not valid.")]
pub struct NotAnArn(pub String);

impl Arn {
    fn new(service: &str, region: &str, account: &str, resource: String) -> Arn {
        Arn {
            partition: PARTITION.to_string(),
            service: service.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            resource,
        }
    }

    /// Take an ARN apart. Only the shape is checked (`arn:` and six fields, the last taking
    /// the rest); what a field must hold is its user's business.
    pub fn parse(s: &str) -> Result<Arn, NotAnArn> {
        let mut parts = s.splitn(6, ':');
        let mut next = || parts.next().map(str::to_string);
        match (next(), next(), next(), next(), next(), next()) {
            (
                Some(arn),
                Some(partition),
                Some(service),
                Some(region),
                Some(account),
                Some(resource),
            ) if arn == "arn" => Ok(Arn {
                partition,
                service,
                region,
                account,
                resource,
            }),
            _ => Err(NotAnArn(s.to_string())),
        }
    }

    // ---- EC2: regional, per account (images: the Region's, no account) ----

    /// `arn:aws:ec2:REGION:ACCOUNT:TYPE/ID`, the ARN of any EC2 resource of an account.
    pub fn ec2(region: &str, account: &str, resource_type: &str, id: &str) -> Arn {
        Arn::new("ec2", region, account, format!("{resource_type}/{id}"))
    }

    pub fn instance(region: &str, account: &str, id: &str) -> Arn {
        Arn::ec2(region, account, "instance", id)
    }

    /// Images belong to the Region's catalogue, not to an account.
    pub fn image(region: &str, id: &str) -> Arn {
        Arn::ec2(region, "", "image", id)
    }

    pub fn launch_template(region: &str, account: &str, id: &str) -> Arn {
        Arn::ec2(region, account, "launch-template", id)
    }

    pub fn vpc(region: &str, account: &str, id: &str) -> Arn {
        Arn::ec2(region, account, "vpc", id)
    }

    pub fn subnet(region: &str, account: &str, id: &str) -> Arn {
        Arn::ec2(region, account, "subnet", id)
    }

    pub fn security_group(region: &str, account: &str, id: &str) -> Arn {
        Arn::ec2(region, account, "security-group", id)
    }

    // ---- IAM and STS: global, per account ----

    /// `arn:aws:iam::ACCOUNT:TYPE{path}{name}`; `path` begins and ends with `/`.
    fn iam(account: &str, resource_type: &str, path: &str, name: &str) -> Arn {
        Arn::new("iam", "", account, format!("{resource_type}{path}{name}"))
    }

    /// The account itself (`arn:aws:iam::ACCOUNT:root`).
    pub fn root(account: &str) -> Arn {
        Arn::new("iam", "", account, "root".to_string())
    }

    pub fn user(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam(account, "user", path, name)
    }

    pub fn role(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam(account, "role", path, name)
    }

    pub fn group(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam(account, "group", path, name)
    }

    pub fn instance_profile(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam(account, "instance-profile", path, name)
    }

    /// A managed policy of `account`; AWS's own are in the account `aws`.
    pub fn policy(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam(account, "policy", path, name)
    }

    /// A role session (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`): the role by name,
    /// without its path, as STS writes it.
    pub fn assumed_role(account: &str, role: &str, session: &str) -> Arn {
        Arn::new("sts", "", account, format!("assumed-role/{role}/{session}"))
    }

    /// The name of an IAM `resource_type` (`user`, `role`, …) this ARN names: the last
    /// segment of its path. None when the ARN is not one of IAM's in the `aws` partition
    /// (global: no Region) or names another type.
    pub fn iam_name(&self, resource_type: &str) -> Option<&str> {
        if self.partition != PARTITION || self.service != "iam" || !self.region.is_empty() {
            return None;
        }
        let rest = self
            .resource
            .strip_prefix(resource_type)?
            .strip_prefix('/')?;
        Some(rest.rsplit('/').next().unwrap_or(rest))
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

impl From<Arn> for String {
    fn from(a: Arn) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arns_imds_builds() {
        let cases = [
            (
                Arn::instance("us-east-1", "111122223333", "i-0abc"),
                "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
            ),
            (
                Arn::image("eu-west-1", "ami-1"),
                "arn:aws:ec2:eu-west-1::image/ami-1",
            ),
            (
                Arn::launch_template("us-east-1", "1", "lt-1"),
                "arn:aws:ec2:us-east-1:1:launch-template/lt-1",
            ),
            (
                Arn::vpc("us-east-1", "1", "vpc-1"),
                "arn:aws:ec2:us-east-1:1:vpc/vpc-1",
            ),
            (
                Arn::subnet("us-east-1", "1", "subnet-1"),
                "arn:aws:ec2:us-east-1:1:subnet/subnet-1",
            ),
            (
                Arn::security_group("us-east-1", "1", "sg-1"),
                "arn:aws:ec2:us-east-1:1:security-group/sg-1",
            ),
            (Arn::root("1"), "arn:aws:iam::1:root"),
            (Arn::user("1", "/", "alice"), "arn:aws:iam::1:user/alice"),
            (
                Arn::role("1", "/team/", "dev"),
                "arn:aws:iam::1:role/team/dev",
            ),
            (
                Arn::instance_profile("1", "/", "web"),
                "arn:aws:iam::1:instance-profile/web",
            ),
            (
                Arn::policy("aws", "/", "ReadOnly"),
                "arn:aws:iam::aws:policy/ReadOnly",
            ),
            (
                Arn::assumed_role("1", "dev", "s1"),
                "arn:aws:sts::1:assumed-role/dev/s1",
            ),
        ];
        for (arn, text) in cases {
            assert_eq!(arn.to_string(), text);
            assert_eq!(Arn::parse(text), Ok(arn), "{text}");
        }
    }

    #[test]
    fn parse_checks_the_shape_only() {
        let a = Arn::parse("arn:aws:s3:::bucket/key:with:colons").unwrap();
        assert_eq!(a.service, "s3");
        assert_eq!(a.resource, "bucket/key:with:colons");
        assert_eq!(
            Arn::parse("arn::::").map(|_| ()),
            Err(NotAnArn("arn::::".into()))
        );
        assert!(Arn::parse("arn:::::").is_ok());
        assert!(Arn::parse("urn:aws:iam::1:root").is_err());
        assert!(Arn::parse("*").is_err());
    }

    #[test]
    fn iam_names() {
        let role = Arn::parse("arn:aws:iam::1:role/team/dev").unwrap();
        assert_eq!(role.iam_name("role"), Some("dev"));
        assert_eq!(role.iam_name("user"), None);
        assert_eq!(
            Arn::parse("arn:aws:iam::1:role/").unwrap().iam_name("role"),
            Some("")
        );
        assert_eq!(
            Arn::parse("arn:aws:iam::1:roles/x")
                .unwrap()
                .iam_name("role"),
            None
        );
        // Regional, another partition, another service: not an IAM ARN.
        for other in [
            "arn:aws:iam:us-east-1:1:role/x",
            "arn:aws-cn:iam::1:role/x",
            "arn:aws:sts::1:role/x",
        ] {
            assert_eq!(Arn::parse(other).unwrap().iam_name("role"), None, "{other}");
        }
    }
}
