//! Access key id → the principal it authenticates, and the secret to check its signatures.

use crate::config::Account;
use model::Arn;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account: String,
    pub arn: String,
}

pub struct Directory {
    keys: HashMap<String, (Principal, String)>,
    accounts: Vec<Account>,
    /// Each account's SCPs by level, parsed once.
    scps: HashMap<String, Vec<Vec<crate::policy::Policy>>>,
}

impl Directory {
    pub fn new(accounts: Vec<Account>) -> Directory {
        let keys = accounts
            .iter()
            .map(|a| {
                (
                    a.root_access_key_id.clone(),
                    (
                        Principal {
                            account: a.id.clone(),
                            arn: Arn::root(&a.id).to_string(),
                        },
                        a.root_secret_access_key.clone(),
                    ),
                )
            })
            .collect();
        let scps = accounts
            .iter()
            .map(|a| {
                (
                    a.id.clone(),
                    a.scp_levels
                        .iter()
                        .map(|level| {
                            level
                                .iter()
                                .filter_map(|(_, doc)| crate::policy::Policy::parse(doc).ok())
                                .collect()
                        })
                        .collect(),
                )
            })
            .collect();
        Directory {
            keys,
            accounts,
            scps,
        }
    }

    /// The SCPs that apply to every principal of `account`, by level (root → OUs → account).
    pub fn scp_levels(&self, account: &str) -> &[Vec<crate::policy::Policy>] {
        self.scps.get(account).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether `account` is its organization's management account (SCPs do not apply).
    pub fn is_management(&self, account: &str) -> bool {
        self.accounts
            .iter()
            .any(|a| a.id == account && a.management_account)
    }

    /// The principal and secret of an access key.
    pub fn key(&self, access_key_id: &str) -> Option<(&Principal, &str)> {
        self.keys.get(access_key_id).map(|(p, s)| (p, s.as_str()))
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }
}
