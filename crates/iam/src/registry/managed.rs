//! The AWS managed policies imds knows.

use super::*;
use model::Arn;

/// The AWS managed policies imds knows (a few that guardrail tests attach).
pub(crate) fn aws_managed(arn: &str) -> Option<&'static ManagedPolicy> {
    aws_managed_all().iter().find(|p| p.arn == arn)
}

pub(crate) fn aws_managed_all() -> &'static [ManagedPolicy] {
    static ALL: std::sync::OnceLock<Vec<ManagedPolicy>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        [
            (
                "AdministratorAccess",
                "ANPAIWMBCKSKIEE64ZLYK",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            ),
            (
                "AmazonEC2FullAccess",
                "ANPAI3VAJF5ZCRZ7MCQE6",
                r#"{"Version":"2012-10-17","Statement":[{"Action":"ec2:*","Effect":"Allow","Resource":"*"},{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"*"}]}"#,
            ),
            (
                "AmazonEC2ReadOnlyAccess",
                "ANPAIGDT4SV4GSETWTBZK",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","ec2:GetInstanceMetadataDefaults"],"Resource":"*"}]}"#,
            ),
        ]
        .into_iter()
        .map(|(name, id, doc)| ManagedPolicy {
            name: name.to_string(),
            path: "/".into(),
            id: id.to_string(),
            arn: Arn::policy("aws", "/", name).to_string(),
            description: None,
            created_ms: 1_423_000_000_000,
            updated_ms: 1_423_000_000_000,
            versions: vec![PolicyVersion {
                id: "v1".into(),
                doc: PolicyDoc::new(doc).expect("built-in policy parses"),
                created_ms: 1_423_000_000_000,
            }],
            default_version: "v1".into(),
            versions_made: 1,
        })
        .collect()
    })
}
