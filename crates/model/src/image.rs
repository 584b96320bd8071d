//! Machine images (AMIs) and their `ImdsSupport`.

use crate::error::Ec2Error;
use serde::{Deserialize, Serialize};

/// `ImdsSupport`: the only value is `v2.0`; once set it cannot be unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImdsSupport {
    #[serde(rename = "v2.0")]
    V2_0,
}

impl ImdsSupport {
    pub fn as_str(self) -> &'static str {
        "v2.0"
    }
    pub fn parse(value: &str) -> Result<Self, Ec2Error> {
        match value {
            "v2.0" => Ok(ImdsSupport::V2_0),
            other => Err(Ec2Error::InvalidParameterValue(format!(
                "Value ({other}) for parameter ImdsSupport is invalid. The only supported value is v2.0."
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub image_id: String,
    pub owner_id: String,
    /// `amazon` for the catalogue's public images.
    pub owner_alias: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub architecture: String,
    pub platform_details: String,
    pub root_device_name: String,
    pub virtualization_type: String,
    pub ena_support: bool,
    pub public: bool,
    pub imds_support: Option<ImdsSupport>,
    pub creation_date: String,
    #[serde(default)]
    pub tags: Vec<crate::tags::Tag>,
}
