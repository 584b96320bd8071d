//! Which API a request is for. AWS serves EC2, IAM, STS, CloudWatch and FIS on five hosts;
//! imds on one endpoint, told apart by the API version a Query request names (or, for
//! CloudWatch in AWS JSON 1.0, its `X-Amz-Target`; for FIS, its rest-json paths). The
//! service decides
//! the signing name the credential must be scoped to, the handler, and the envelope of every
//! answer, an authentication failure included.

use crate::protocol::query::Params;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ec2,
    Iam,
    Sts,
    CloudWatch,
    /// AWS Fault Injection Service (rest-json, by path: `crate::fis`).
    Fis,
}

impl Service {
    /// The service a request's parameters name: `Version=2011-06-15` is STS,
    /// `Version=2010-05-08` IAM, `Version=2010-08-01` CloudWatch, anything else (no version
    /// included) EC2.
    pub fn of(params: &Params) -> Service {
        match params.get("Version") {
            Some(crate::sts::VERSION) => Service::Sts,
            Some(crate::iam_api::VERSION) => Service::Iam,
            Some(crate::cloudwatch::VERSION) => Service::CloudWatch,
            _ => Service::Ec2,
        }
    }

    /// The signing name of the service (botocore's `signingName`), which a credential scope
    /// must name.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2",
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::CloudWatch => "monitoring",
            Service::Fis => "fis",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_names_the_service() {
        let of = |q: &str| Service::of(&Params::parse(q.as_bytes()).unwrap());
        assert_eq!(of("Action=AssumeRole&Version=2011-06-15"), Service::Sts);
        assert_eq!(of("Action=CreateUser&Version=2010-05-08"), Service::Iam);
        assert_eq!(
            of("Action=DescribeInstances&Version=2016-11-15"),
            Service::Ec2
        );
        assert_eq!(of("Action=DescribeInstances"), Service::Ec2);
        assert_eq!(Service::Sts.as_str(), "sts");
        assert_eq!(
            of("Action=ListMetrics&Version=2010-08-01"),
            Service::CloudWatch
        );
        assert_eq!(Service::CloudWatch.as_str(), "monitoring");
        assert_eq!(Service::Fis.as_str(), "fis");
    }
}
