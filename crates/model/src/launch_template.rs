//! Launch templates and their versions. The template data is kept as the API layer's JSON
//! (it is echoed back by DescribeLaunchTemplateVersions); the model reads only the parts that
//! take part in a launch, the metadata options above all.

use crate::error::Ec2Error;
use crate::options::OptionsPatch;
use crate::tags::Tag;
use crate::Scope;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplate {
    pub launch_template_id: String,
    pub name: String,
    pub scope: Scope,
    pub create_time_ms: i64,
    pub created_by: String,
    pub default_version: u64,
    pub latest_version: u64,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplateVersion {
    pub launch_template_id: String,
    pub version: u64,
    pub description: Option<String>,
    pub create_time_ms: i64,
    pub created_by: String,
    /// `RequestLaunchTemplateData` as decoded from the request (botocore member names).
    pub data_json: String,
    pub metadata: OptionsPatch,
}

/// `$Latest`, `$Default` or a version number, as RunInstances and the Describe calls take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Latest,
    Default,
    Number(u64),
}

impl VersionSelector {
    pub fn parse(s: Option<&str>, template_id: &str) -> Result<Self, Ec2Error> {
        match s {
            None | Some("$Default") => Ok(VersionSelector::Default),
            Some("$Latest") => Ok(VersionSelector::Latest),
            Some(n) => n
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(VersionSelector::Number)
                .ok_or_else(|| Ec2Error::InvalidLaunchTemplateIdVersionNotFound {
                    template: template_id.to_string(),
                    version: n.to_string(),
                }),
        }
    }

    pub fn resolve(self, t: &LaunchTemplate) -> u64 {
        match self {
            VersionSelector::Latest => t.latest_version,
            VersionSelector::Default => t.default_version,
            VersionSelector::Number(n) => n,
        }
    }
}

/// Launch template names: 3 to 128 characters of letters, digits and `( ) . - / _`.
pub fn validate_name(name: &str) -> Result<(), Ec2Error> {
    let ok = (3..=128).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "().-/_".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Ec2Error::InvalidLaunchTemplateNameMalformed(
            "A launch template name must be between 3 and 128 characters, and may contain only letters, numbers, and the following characters: - ( ) . / _.'".into(),
        ))
    }
}
