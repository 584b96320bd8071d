//! Access key id → the principal it authenticates, and the secret to check its signatures.

use crate::config::Account;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account: String,
    pub arn: String,
}

pub struct Directory {
    keys: HashMap<String, (Principal, String)>,
    accounts: Vec<Account>,
    /// Each account's SCPs, parsed once.
    scps: HashMap<String, Vec<crate::policy::Policy>>,
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
                            arn: format!("arn:aws:iam::{}:root", a.id),
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
                    a.scps
                        .iter()
                        .filter_map(|(_, doc)| crate::policy::Policy::parse(doc).ok())
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

    /// The SCPs that apply to every principal of `account`.
    pub fn scps(&self, account: &str) -> &[crate::policy::Policy] {
        self.scps.get(account).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The principal and secret of an access key.
    pub fn key(&self, access_key_id: &str) -> Option<(&Principal, &str)> {
        self.keys.get(access_key_id).map(|(p, s)| (p, s.as_str()))
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }
}
