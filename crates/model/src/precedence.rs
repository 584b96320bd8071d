//! The order of precedence for the metadata options of a new instance (EC2 User Guide,
//! "Order of precedence for instance metadata options"; spec ec2-api.md §5).
//!
//! Each option is resolved on its own, first hit wins:
//! 1. the launch request, then the launch template version it references;
//! 2. the account default for the Region (unless no preference);
//! 3. the AMI, only when its `ImdsSupport` is `v2.0`: tokens `required`, hop limit 2;
//! 4. EC2's built-in defaults.
//!
//! Then enforcement: with `HttpTokensEnforced=enabled`, an instance that would allow IMDSv1
//! is refused.

use crate::defaults::AccountDefaults;
use crate::error::Ec2Error;
use crate::image::ImdsSupport;
use crate::options::{HopLimit, HttpTokens, MetadataOptions, OptionsPatch};

/// The message EC2 gives when HttpTokensEnforced refuses IMDSv1, at launch and on modify.
pub(crate) const ENFORCED_MESSAGE: &str = "You can't launch instances with IMDSv1 because httpTokensEnforced is enabled for this account. Either launch the instance with httpTokens=required or contact your account owner to disable httpTokensEnforced using the ModifyInstanceMetadataDefaults API or the account settings in the EC2 console.";

/// Resolve the options of a new instance. `launch` is the request merged over the template.
pub fn resolve(
    launch: &OptionsPatch,
    defaults: &AccountDefaults,
    ami: Option<ImdsSupport>,
) -> MetadataOptions {
    let ami_v2 = ami == Some(ImdsSupport::V2_0);
    let b = MetadataOptions::BUILT_IN;
    MetadataOptions {
        http_tokens: launch
            .http_tokens
            .or(defaults.http_tokens)
            .or(ami_v2.then_some(HttpTokens::Required))
            .unwrap_or(b.http_tokens),
        hop_limit: launch
            .hop_limit
            .or(defaults.hop_limit)
            .or(ami_v2.then_some(HopLimit::TWO))
            .unwrap_or(b.hop_limit),
        http_endpoint: launch
            .http_endpoint
            .or(defaults.http_endpoint)
            .unwrap_or(b.http_endpoint),
        // The account defaults have no IPv6 field.
        http_protocol_ipv6: launch.http_protocol_ipv6.unwrap_or(b.http_protocol_ipv6),
        instance_metadata_tags: launch
            .instance_metadata_tags
            .or(defaults.instance_metadata_tags)
            .unwrap_or(b.instance_metadata_tags),
    }
}

/// Enforcement, after resolution (and on modification): refuse anything that allows IMDSv1.
pub(crate) fn check_enforcement(
    options: &MetadataOptions,
    defaults: &AccountDefaults,
) -> Result<(), Ec2Error> {
    if defaults.enforces_tokens() && options.http_tokens != HttpTokens::Required {
        return Err(Ec2Error::UnsupportedOperation(ENFORCED_MESSAGE.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::HttpTokensEnforced;
    use HttpTokens::{Optional, Required};

    fn defaults(tokens: Option<HttpTokens>, hop: Option<i64>) -> AccountDefaults {
        AccountDefaults {
            http_tokens: tokens,
            hop_limit: hop.map(|h| HopLimit::new(h).unwrap()),
            ..Default::default()
        }
    }

    fn launch(tokens: Option<HttpTokens>) -> OptionsPatch {
        OptionsPatch {
            http_tokens: tokens,
            ..Default::default()
        }
    }

    /// The HttpTokens decision table of spec ec2-api.md §5, row by row, both AMI columns.
    #[test]
    fn http_tokens_decision_table() {
        let v2 = Some(ImdsSupport::V2_0);
        let rows: [(
            Option<HttpTokens>,
            Option<HttpTokens>,
            HttpTokens,
            HttpTokens,
        ); 7] = [
            (Some(Required), None, Required, Required),
            (Some(Required), Some(Optional), Required, Required),
            (Some(Optional), None, Optional, Optional),
            (Some(Optional), Some(Required), Optional, Optional),
            (None, None, Required, Optional),
            (None, Some(Required), Required, Required),
            (None, Some(Optional), Optional, Optional),
        ];
        for (l, a, with_v2, without) in rows {
            let d = defaults(a, None);
            assert_eq!(
                resolve(&launch(l), &d, v2).http_tokens,
                with_v2,
                "{l:?} {a:?} v2"
            );
            assert_eq!(
                resolve(&launch(l), &d, None).http_tokens,
                without,
                "{l:?} {a:?}"
            );
        }
    }

    #[test]
    fn hop_limit_precedence() {
        let v2 = Some(ImdsSupport::V2_0);
        // case 25: nothing anywhere
        let o = resolve(&OptionsPatch::default(), &AccountDefaults::default(), None);
        assert_eq!(o, MetadataOptions::BUILT_IN);
        // case 26: AMI v2.0 only
        let o = resolve(&OptionsPatch::default(), &AccountDefaults::default(), v2);
        assert_eq!((o.http_tokens, o.hop_limit.get()), (Required, 2));
        // case 27
        let o = resolve(
            &OptionsPatch::default(),
            &defaults(Some(Optional), None),
            v2,
        );
        assert_eq!((o.http_tokens, o.hop_limit.get()), (Optional, 2));
        // case 28: account hop 1 beats the AMI's 2
        let o = resolve(&OptionsPatch::default(), &defaults(None, Some(1)), v2);
        assert_eq!((o.http_tokens, o.hop_limit.get()), (Required, 1));
        // case 30
        let o = resolve(
            &OptionsPatch::default(),
            &defaults(Some(Required), None),
            None,
        );
        assert_eq!((o.http_tokens, o.hop_limit.get()), (Required, 1));
        // launch value wins over all
        let l = OptionsPatch {
            hop_limit: Some(HopLimit::new(5).unwrap()),
            ..Default::default()
        };
        assert_eq!(resolve(&l, &defaults(None, Some(1)), v2).hop_limit.get(), 5);
    }

    #[test]
    fn enforcement_after_resolution() {
        let mut d = defaults(Some(Required), None);
        d.http_tokens_enforced = Some(HttpTokensEnforced::Enabled);
        // case 31: explicit optional is refused
        let o = resolve(&launch(Some(Optional)), &d, Some(ImdsSupport::V2_0));
        assert!(matches!(
            check_enforcement(&o, &d),
            Err(Ec2Error::UnsupportedOperation(m)) if m == ENFORCED_MESSAGE
        ));
        // case 32: enforced, no preference, AMI unset: resolves optional, refused
        let d = AccountDefaults {
            http_tokens_enforced: Some(HttpTokensEnforced::Enabled),
            ..Default::default()
        };
        let o = resolve(&OptionsPatch::default(), &d, None);
        assert!(check_enforcement(&o, &d).is_err());
        let o = resolve(&OptionsPatch::default(), &d, Some(ImdsSupport::V2_0));
        assert!(check_enforcement(&o, &d).is_ok());
    }
}
