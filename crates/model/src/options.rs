//! The instance metadata options of one instance, and a partial set of them as a request
//! carries it.
//!
//! Enum values are the exact, case-sensitive strings of botocore's EC2 model
//! (`HttpTokensState`, `InstanceMetadataEndpointState`, …).

use crate::error::Ec2Error;
use serde::{Deserialize, Serialize};

/// A two-valued option whose wire values are `enabled`/`disabled`.
macro_rules! toggle {
    ($(#[$doc:meta])* $name:ident, $param:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            Enabled,
            Disabled,
        }

        impl $name {
            pub(crate) const PARAM: &'static str = $param;
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::Enabled => "enabled",
                    $name::Disabled => "disabled",
                }
            }
            /// Parse a request value; `param` names the parameter in the error.
            pub(crate) fn parse_as(value: &str, param: &str) -> Result<Self, Ec2Error> {
                match value {
                    "enabled" => Ok($name::Enabled),
                    "disabled" => Ok($name::Disabled),
                    other => Err(Ec2Error::invalid_enum(other, param, &["enabled", "disabled"])),
                }
            }
            pub fn parse(value: &str) -> Result<Self, Ec2Error> {
                Self::parse_as(value, Self::PARAM)
            }
            pub fn is_enabled(self) -> bool {
                self == $name::Enabled
            }
        }
    };
}

toggle!(
    /// Whether the metadata service answers at all.
    HttpEndpoint,
    "HttpEndpoint"
);
toggle!(
    /// Whether the metadata service also answers on `fd00:ec2::254` (Nitro only).
    HttpProtocolIpv6,
    "HttpProtocolIpv6"
);
toggle!(
    /// Whether the instance's tags are readable under `meta-data/tags/instance/`.
    InstanceMetadataTags,
    "InstanceMetadataTags"
);

/// Whether IMDSv2 (a session token) is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpTokens {
    Optional,
    Required,
}

impl HttpTokens {
    pub(crate) const PARAM: &'static str = "HttpTokens";
    pub fn as_str(self) -> &'static str {
        match self {
            HttpTokens::Optional => "optional",
            HttpTokens::Required => "required",
        }
    }
    pub(crate) fn parse_as(value: &str, param: &str) -> Result<Self, Ec2Error> {
        match value {
            "optional" => Ok(HttpTokens::Optional),
            "required" => Ok(HttpTokens::Required),
            other => Err(Ec2Error::invalid_enum(
                other,
                param,
                &["optional", "required"],
            )),
        }
    }
    pub fn parse(value: &str) -> Result<Self, Ec2Error> {
        Self::parse_as(value, Self::PARAM)
    }
}

/// The IP TTL of the packets that carry a token reply: 1..=64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct HopLimit(u8);

impl HopLimit {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 64;
    pub(crate) const ONE: HopLimit = HopLimit(1);
    pub(crate) const TWO: HopLimit = HopLimit(2);

    pub fn new(value: i64) -> Result<Self, Ec2Error> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(HopLimit(value as u8))
        } else {
            Err(Ec2Error::InvalidParameterValue(format!(
                "The value {value} for HttpPutResponseHopLimit is not valid. Specify a value between 1 and 64 and try again."
            )))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for HopLimit {
    type Error = Ec2Error;
    fn try_from(v: i64) -> Result<Self, Ec2Error> {
        HopLimit::new(v)
    }
}

impl From<HopLimit> for i64 {
    fn from(h: HopLimit) -> i64 {
        h.0 as i64
    }
}

/// Whether the metadata host serving the instance has switched to the desired options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionsState {
    Pending,
    Applied,
}

impl OptionsState {
    pub fn as_str(self) -> &'static str {
        match self {
            OptionsState::Pending => "pending",
            OptionsState::Applied => "applied",
        }
    }
}

/// The five options of one instance (its desired state; see `Instance::options_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetadataOptions {
    pub http_tokens: HttpTokens,
    pub hop_limit: HopLimit,
    pub http_endpoint: HttpEndpoint,
    pub http_protocol_ipv6: HttpProtocolIpv6,
    pub instance_metadata_tags: InstanceMetadataTags,
}

impl MetadataOptions {
    /// The values of the DescribeInstances filters on these options (all the
    /// `metadata-options.*` filters but `state`, which is the instance's).
    pub fn filter_attributes(&self) -> [(&'static str, String); 6] {
        [
            (
                "metadata-options.http-tokens",
                self.http_tokens.as_str().into(),
            ),
            (
                "metadata-options.http-put-response-hop-limit",
                self.hop_limit.get().to_string(),
            ),
            (
                "metadata-options.http-endpoint",
                self.http_endpoint.as_str().into(),
            ),
            // IPv4 endpoint is on whenever the endpoint is (there is no separate option).
            (
                "metadata-options.http-protocol-ipv4",
                self.http_endpoint.as_str().into(),
            ),
            (
                "metadata-options.http-protocol-ipv6",
                self.http_protocol_ipv6.as_str().into(),
            ),
            (
                "metadata-options.instance-metadata-tags",
                self.instance_metadata_tags.as_str().into(),
            ),
        ]
    }

    /// EC2's built-in defaults (the last step of the order of precedence).
    pub const BUILT_IN: MetadataOptions = MetadataOptions {
        http_tokens: HttpTokens::Optional,
        hop_limit: HopLimit::ONE,
        http_endpoint: HttpEndpoint::Enabled,
        http_protocol_ipv6: HttpProtocolIpv6::Disabled,
        instance_metadata_tags: InstanceMetadataTags::Disabled,
    };

    /// Options omitted from the patch keep their current value (never reset to defaults).
    pub fn apply(&self, patch: &OptionsPatch) -> MetadataOptions {
        MetadataOptions {
            http_tokens: patch.http_tokens.unwrap_or(self.http_tokens),
            hop_limit: patch.hop_limit.unwrap_or(self.hop_limit),
            http_endpoint: patch.http_endpoint.unwrap_or(self.http_endpoint),
            http_protocol_ipv6: patch.http_protocol_ipv6.unwrap_or(self.http_protocol_ipv6),
            instance_metadata_tags: patch
                .instance_metadata_tags
                .unwrap_or(self.instance_metadata_tags),
        }
    }
}

/// Options as a request gives them: each may be absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tokens: Option<HttpTokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_limit: Option<HopLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_endpoint: Option<HttpEndpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_protocol_ipv6: Option<HttpProtocolIpv6>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_metadata_tags: Option<InstanceMetadataTags>,
}

impl OptionsPatch {
    /// Parse the five request members (strings as sent; `None` when absent).
    /// `name` maps a member (`HttpEndpoint`, …) to the name used in error messages.
    pub fn parse(
        http_tokens: Option<&str>,
        hop_limit: Option<i64>,
        http_endpoint: Option<&str>,
        http_protocol_ipv6: Option<&str>,
        instance_metadata_tags: Option<&str>,
        name: impl Fn(&'static str) -> String,
    ) -> Result<Self, Ec2Error> {
        Ok(OptionsPatch {
            http_tokens: http_tokens
                .map(|v| HttpTokens::parse_as(v, &name(HttpTokens::PARAM)))
                .transpose()?,
            hop_limit: hop_limit.map(HopLimit::new).transpose()?,
            http_endpoint: http_endpoint
                .map(|v| HttpEndpoint::parse_as(v, &name(HttpEndpoint::PARAM)))
                .transpose()?,
            http_protocol_ipv6: http_protocol_ipv6
                .map(|v| HttpProtocolIpv6::parse_as(v, &name(HttpProtocolIpv6::PARAM)))
                .transpose()?,
            instance_metadata_tags: instance_metadata_tags
                .map(|v| InstanceMetadataTags::parse_as(v, &name(InstanceMetadataTags::PARAM)))
                .transpose()?,
        })
    }

    /// Request values override template values, field by field.
    pub fn over(&self, base: &OptionsPatch) -> OptionsPatch {
        OptionsPatch {
            http_tokens: self.http_tokens.or(base.http_tokens),
            hop_limit: self.hop_limit.or(base.hop_limit),
            http_endpoint: self.http_endpoint.or(base.http_endpoint),
            http_protocol_ipv6: self.http_protocol_ipv6.or(base.http_protocol_ipv6),
            instance_metadata_tags: self.instance_metadata_tags.or(base.instance_metadata_tags),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == OptionsPatch::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_are_case_sensitive() {
        assert!(HttpTokens::parse("REQUIRED").is_err());
        assert_eq!(HttpTokens::parse("required").unwrap(), HttpTokens::Required);
        let err = HttpEndpoint::parse("").unwrap_err();
        // spec ec2-api.md case 33
        assert_eq!(
            err.to_string(),
            "A value of '' is not valid for HttpEndpoint. Specify either 'enabled' or 'disabled' and try again."
        );
    }

    #[test]
    fn hop_limit_range() {
        assert!(HopLimit::new(0).is_err());
        assert!(HopLimit::new(65).is_err());
        assert!(HopLimit::new(-1).is_err());
        assert_eq!(HopLimit::new(64).unwrap().get(), 64);
        assert_eq!(HopLimit::new(1).unwrap().get(), 1);
    }

    #[test]
    fn omitted_options_keep_their_value() {
        let current = MetadataOptions {
            http_tokens: HttpTokens::Required,
            ..MetadataOptions::BUILT_IN
        };
        let next = current.apply(&OptionsPatch {
            hop_limit: Some(HopLimit::new(3).unwrap()),
            ..Default::default()
        });
        assert_eq!(next.http_tokens, HttpTokens::Required);
        assert_eq!(next.hop_limit.get(), 3);
        assert_eq!(next.http_endpoint, HttpEndpoint::Enabled);
    }

    #[test]
    fn request_overrides_template_per_field() {
        let template = OptionsPatch {
            http_tokens: Some(HttpTokens::Required),
            hop_limit: Some(HopLimit::new(3).unwrap()),
            ..Default::default()
        };
        let request = OptionsPatch {
            hop_limit: Some(HopLimit::TWO),
            ..Default::default()
        };
        let merged = request.over(&template);
        assert_eq!(merged.http_tokens, Some(HttpTokens::Required));
        assert_eq!(merged.hop_limit, Some(HopLimit::TWO));
    }
}
