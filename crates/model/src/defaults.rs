//! Account-level defaults for the metadata options of new instances, one record per account
//! and Region (`ModifyInstanceMetadataDefaults` / `GetInstanceMetadataDefaults`).

use crate::error::Ec2Error;
use crate::options::{HopLimit, HttpEndpoint, HttpTokens, InstanceMetadataTags};
use serde::{Deserialize, Serialize};

/// A value of ModifyInstanceMetadataDefaults: a choice, or `no-preference` (hop limit `-1`),
/// which clears the account's choice so that the next step of the precedence decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preference<T> {
    NoPreference,
    Value(T),
}

impl<T: Copy> Preference<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Preference::NoPreference => None,
            Preference::Value(v) => Some(v),
        }
    }
}

/// `HttpTokensEnforced`: when enabled, nothing may launch or be modified to allow IMDSv1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpTokensEnforced {
    Enabled,
    Disabled,
}

impl HttpTokensEnforced {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpTokensEnforced::Enabled => "enabled",
            HttpTokensEnforced::Disabled => "disabled",
        }
    }
}

/// Who sets the defaults: the account itself, or a declarative policy (which locks them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ManagedBy {
    #[default]
    Account,
    DeclarativePolicy,
}

impl ManagedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedBy::Account => "account",
            ManagedBy::DeclarativePolicy => "declarative-policy",
        }
    }
}

/// The stored defaults of one account in one Region. `None` is "no preference".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDefaults {
    #[serde(default)]
    pub http_tokens: Option<HttpTokens>,
    #[serde(default)]
    pub hop_limit: Option<HopLimit>,
    #[serde(default)]
    pub http_endpoint: Option<HttpEndpoint>,
    #[serde(default)]
    pub instance_metadata_tags: Option<InstanceMetadataTags>,
    #[serde(default)]
    pub http_tokens_enforced: Option<HttpTokensEnforced>,
    #[serde(default)]
    pub managed_by: ManagedBy,
    #[serde(default)]
    pub managed_exception_message: Option<String>,
}

impl AccountDefaults {
    pub(crate) fn enforces_tokens(&self) -> bool {
        self.http_tokens_enforced == Some(HttpTokensEnforced::Enabled)
    }

    /// Whether the account may change these defaults: not while a declarative policy manages
    /// them (Organizations UG: the account cannot change what the policy sets), refused with
    /// the policy's message, else the Organizations' default text (spec wave2.md §2.3; the
    /// code, `UnsupportedOperation`, is UNCONFIRMED). Any change is refused, also of a field
    /// the policy leaves at no preference.
    pub fn may_change(&self) -> Result<(), Ec2Error> {
        if self.managed_by == ManagedBy::DeclarativePolicy {
            return Err(Ec2Error::UnsupportedOperation(
                self.managed_exception_message.clone().unwrap_or_else(|| {
                    "This action is denied due to an organizational policy in effect".to_string()
                }),
            ));
        }
        Ok(())
    }

    /// Apply a ModifyInstanceMetadataDefaults request: omitted fields keep their value.
    pub fn apply(&mut self, patch: &DefaultsPatch) -> Result<(), Ec2Error> {
        self.may_change()?;
        if let Some(p) = patch.http_tokens {
            self.http_tokens = p.value();
        }
        if let Some(p) = patch.hop_limit {
            self.hop_limit = p.value();
        }
        if let Some(p) = patch.http_endpoint {
            self.http_endpoint = p.value();
        }
        if let Some(p) = patch.instance_metadata_tags {
            self.instance_metadata_tags = p.value();
        }
        if let Some(p) = patch.http_tokens_enforced {
            self.http_tokens_enforced = p.value();
        }
        Ok(())
    }
}

/// A ModifyInstanceMetadataDefaults request: `None` leaves the field alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultsPatch {
    pub http_tokens: Option<Preference<HttpTokens>>,
    pub hop_limit: Option<Preference<HopLimit>>,
    pub http_endpoint: Option<Preference<HttpEndpoint>>,
    pub instance_metadata_tags: Option<Preference<InstanceMetadataTags>>,
    pub http_tokens_enforced: Option<Preference<HttpTokensEnforced>>,
}

const NO_PREFERENCE: &str = "no-preference";

fn pref<T>(
    value: &str,
    param: &str,
    allowed: &[&str],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Preference<T>, Ec2Error> {
    if value == NO_PREFERENCE {
        return Ok(Preference::NoPreference);
    }
    parse(value).map(Preference::Value).ok_or_else(|| {
        let mut all: Vec<&str> = allowed.to_vec();
        all.push(NO_PREFERENCE);
        Ec2Error::invalid_enum(value, param, &all)
    })
}

impl DefaultsPatch {
    /// Parse the request members as sent (enum strings, hop limit as an integer).
    pub fn parse(
        http_tokens: Option<&str>,
        hop_limit: Option<i64>,
        http_endpoint: Option<&str>,
        instance_metadata_tags: Option<&str>,
        http_tokens_enforced: Option<&str>,
    ) -> Result<Self, Ec2Error> {
        let toggle = |v: &str| match v {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        };
        Ok(DefaultsPatch {
            http_tokens: http_tokens
                .map(|v| {
                    pref(v, "HttpTokens", &["optional", "required"], |s| {
                        HttpTokens::parse(s).ok()
                    })
                })
                .transpose()?,
            hop_limit: hop_limit
                .map(|v| match v {
                    -1 => Ok(Preference::NoPreference),
                    v => HopLimit::new(v).map(Preference::Value).map_err(|_| {
                        Ec2Error::InvalidParameterValue(format!(
                            "The value {v} for HttpPutResponseHopLimit is not valid. Specify a value between 1 and 64, or -1 for no preference, and try again."
                        ))
                    }),
                })
                .transpose()?,
            http_endpoint: http_endpoint
                .map(|v| {
                    pref(v, "HttpEndpoint", &["enabled", "disabled"], |s| {
                        HttpEndpoint::parse(s).ok()
                    })
                })
                .transpose()?,
            instance_metadata_tags: instance_metadata_tags
                .map(|v| {
                    pref(v, "InstanceMetadataTags", &["enabled", "disabled"], |s| {
                        InstanceMetadataTags::parse(s).ok()
                    })
                })
                .transpose()?,
            http_tokens_enforced: http_tokens_enforced
                .map(|v| {
                    pref(v, "HttpTokensEnforced", &["enabled", "disabled"], |s| {
                        toggle(s).map(|on| {
                            if on {
                                HttpTokensEnforced::Enabled
                            } else {
                                HttpTokensEnforced::Disabled
                            }
                        })
                    })
                })
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_preference_clears_and_omitted_keeps() {
        let mut d = AccountDefaults::default();
        d.apply(&DefaultsPatch::parse(Some("required"), Some(2), None, None, None).unwrap())
            .unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
        assert_eq!(d.hop_limit, Some(HopLimit::TWO));
        d.apply(&DefaultsPatch::parse(None, Some(-1), None, None, None).unwrap())
            .unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
        assert_eq!(d.hop_limit, None);
        d.apply(&DefaultsPatch::parse(Some("no-preference"), None, None, None, None).unwrap())
            .unwrap();
        assert_eq!(d.http_tokens, None);
    }

    #[test]
    fn invalid_values() {
        assert!(DefaultsPatch::parse(None, Some(0), None, None, None).is_err());
        assert!(DefaultsPatch::parse(None, Some(65), None, None, None).is_err());
        assert!(DefaultsPatch::parse(None, Some(-2), None, None, None).is_err());
        assert!(DefaultsPatch::parse(Some("Required"), None, None, None, None).is_err());
        assert!(DefaultsPatch::parse(None, None, None, None, Some("on")).is_err());
    }
}
