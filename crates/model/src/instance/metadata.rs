//! The metadata options of one instance: the desired options and their generation, the
//! generation the serving metadata host has switched to (`pending` → `applied`),
//! ModifyInstanceMetadataOptions as far as the instance decides it, and tag keys that the
//! metadata service could not serve while tags in metadata are on.

use super::{Instance, InstanceState};
use crate::defaults::AccountDefaults;
use crate::error::Ec2Error;
use crate::options::{
    HttpTokens, InstanceMetadataTags, MetadataOptions, OptionsPatch, OptionsState,
};
use crate::precedence;
use crate::tags::{self, Tag};

/// What a metadata host's acknowledgement is decided on: the instance's state and its
/// options' two generations. A store decides acknowledgements on these alone, read from its
/// own columns, without reading (or rewriting) the rest of the instance: a host acknowledges
/// every modification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionsProgress {
    pub state: InstanceState,
    pub options_generation: u64,
    pub applied_generation: u64,
}

impl OptionsProgress {
    /// Whether the metadata host may switch the instance to its desired options now.
    pub fn can_apply(&self) -> bool {
        self.state == InstanceState::Running
    }

    pub fn of(i: &Instance) -> OptionsProgress {
        OptionsProgress {
            state: i.state,
            options_generation: i.options_generation,
            applied_generation: i.applied_generation,
        }
    }

    /// `pending` while the serving host has not switched to the latest generation.
    pub fn options_state(&self) -> OptionsState {
        if self.applied_generation >= self.options_generation {
            OptionsState::Applied
        } else {
            OptionsState::Pending
        }
    }

    /// The serving metadata host has switched to `generation`: acknowledged (and recorded
    /// here) when the instance is running and `generation` is its latest, not yet applied; an
    /// older one is ignored (the host will get to the newer one). When acknowledged, the
    /// options applied are the desired ones.
    pub fn acknowledge(&mut self, generation: u64) -> bool {
        let acknowledged = self.can_apply()
            && generation > self.applied_generation
            && generation == self.options_generation;
        if acknowledged {
            self.applied_generation = generation;
        }
        acknowledged
    }
}

impl Instance {
    pub fn options_state(&self) -> OptionsState {
        OptionsProgress::of(self).options_state()
    }

    /// Whether the metadata host may switch this instance to its desired options now.
    pub fn can_apply(&self) -> bool {
        OptionsProgress::of(self).can_apply()
    }

    /// The serving metadata host has switched to `generation`, which must be the latest: an
    /// older one is ignored (the host will get to the newer one).
    pub fn mark_applied(&mut self, generation: u64) -> bool {
        if OptionsProgress::of(self).acknowledge(generation) {
            self.applied_generation = generation;
            self.applied_metadata = Some(self.metadata);
            true
        } else {
            false
        }
    }

    /// The options the metadata service enforces now ([`in_force`]).
    pub fn options_in_force(&self) -> MetadataOptions {
        in_force(self.applied_metadata, self.metadata)
    }

    /// ModifyInstanceMetadataOptions, as far as the instance decides it.
    pub fn modify_metadata(
        &mut self,
        patch: &OptionsPatch,
        defaults: &AccountDefaults,
    ) -> Result<(), Ec2Error> {
        if self.state.is_gone() {
            return Err(Ec2Error::IncorrectInstanceState(format!(
                "The instance '{}' is not in a valid state for this operation.",
                self.instance_id
            )));
        }
        if patch.http_tokens == Some(HttpTokens::Optional) {
            precedence::check_enforcement(&self.metadata.apply(patch), defaults)?;
        }
        if let Some(ipv6) = patch.http_protocol_ipv6 {
            self.hypervisor().allows(ipv6)?;
        }
        if patch.instance_metadata_tags == Some(InstanceMetadataTags::Enabled) {
            if let Some(bad) = self.tags.iter().find(|t| !tags::is_metadata_safe(&t.key)) {
                return Err(tags::metadata_unsafe_error(&bad.key));
            }
        }
        if !patch.is_empty() {
            self.metadata = self.metadata.apply(patch);
            self.options_generation += 1;
        }
        Ok(())
    }

    /// CreateTags on this instance.
    pub fn set_tags(&mut self, new: &[Tag]) -> Result<(), Ec2Error> {
        if self.metadata.instance_metadata_tags.is_enabled() {
            if let Some(bad) = new.iter().find(|t| !tags::is_metadata_safe(&t.key)) {
                return Err(tags::metadata_unsafe_error(&bad.key));
            }
        }
        tags::upsert(&mut self.tags, new)
    }
}

/// The options a metadata service enforces: those a host last applied, else (none applied
/// yet) the desired ones. One rule for a whole instance and for a metadata host's record.
pub fn in_force(applied: Option<MetadataOptions>, desired: MetadataOptions) -> MetadataOptions {
    applied.unwrap_or(desired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Hypervisor;
    use crate::defaults::HttpTokensEnforced;
    use crate::options::{HopLimit, HttpEndpoint, HttpProtocolIpv6};
    use crate::testing::instance as sample;

    #[test]
    fn modify_goes_pending_until_applied() {
        let mut i = sample("m5.large");
        assert_eq!(i.options_state(), OptionsState::Applied);
        let patch = OptionsPatch {
            http_tokens: Some(HttpTokens::Required),
            ..Default::default()
        };
        i.modify_metadata(&patch, &AccountDefaults::default())
            .unwrap();
        assert_eq!(i.options_state(), OptionsState::Pending);
        assert_eq!(i.metadata.hop_limit, HopLimit::ONE);
        assert!(i.mark_applied(2));
        assert_eq!(i.options_state(), OptionsState::Applied);
        assert!(!i.mark_applied(2), "applying twice is a no-op");
    }

    #[test]
    fn stopped_instance_stays_pending_until_started() {
        let mut i = sample("m5.large");
        i.stop(0, 10, false).unwrap();
        assert!(i.advance(10));
        assert_eq!(i.state, InstanceState::Stopped);
        let patch = OptionsPatch {
            http_endpoint: Some(HttpEndpoint::Disabled),
            ..Default::default()
        };
        i.modify_metadata(&patch, &AccountDefaults::default())
            .unwrap();
        assert!(!i.mark_applied(2));
        assert_eq!(i.options_state(), OptionsState::Pending);
        i.start(20, 10).unwrap();
        assert_eq!(i.state, InstanceState::Pending);
        assert!(!i.advance(25));
        assert!(i.advance(30));
        assert!(i.mark_applied(2));
    }

    #[test]
    fn xen_refuses_ipv6_and_enforcement_refuses_optional() {
        let mut i = sample("t2.micro");
        let patch = OptionsPatch {
            http_protocol_ipv6: Some(HttpProtocolIpv6::Enabled),
            ..Default::default()
        };
        assert_eq!(
            i.modify_metadata(&patch, &AccountDefaults::default()),
            Hypervisor::Xen.allows(HttpProtocolIpv6::Enabled)
        );
        assert_eq!(i.options_generation, 1, "nothing changed");
        let d = AccountDefaults {
            http_tokens_enforced: Some(HttpTokensEnforced::Enabled),
            ..Default::default()
        };
        let patch = OptionsPatch {
            http_tokens: Some(HttpTokens::Optional),
            ..Default::default()
        };
        assert!(matches!(
            i.modify_metadata(&patch, &d),
            Err(Ec2Error::UnsupportedOperation(_))
        ));
        // A change that does not touch HttpTokens is allowed.
        let patch = OptionsPatch {
            hop_limit: Some(HopLimit::TWO),
            ..Default::default()
        };
        assert!(i.modify_metadata(&patch, &d).is_ok());
    }

    #[test]
    fn tags_in_metadata_need_safe_keys() {
        let mut i = sample("m5.large");
        i.tags.push(Tag {
            key: "bad key".into(),
            value: "x".into(),
        });
        let patch = OptionsPatch {
            instance_metadata_tags: Some(InstanceMetadataTags::Enabled),
            ..Default::default()
        };
        assert!(i
            .modify_metadata(&patch, &AccountDefaults::default())
            .is_err());
        i.tags.clear();
        i.modify_metadata(&patch, &AccountDefaults::default())
            .unwrap();
        assert!(i
            .set_tags(&[Tag {
                key: "a/b".into(),
                value: String::new()
            }])
            .is_err());
        assert!(i
            .set_tags(&[Tag {
                key: "Name".into(),
                value: "web".into()
            }])
            .is_ok());
    }
}
