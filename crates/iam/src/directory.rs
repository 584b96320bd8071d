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
        Directory { keys, accounts }
    }

    /// The principal and secret of an access key.
    pub fn key(&self, access_key_id: &str) -> Option<(&Principal, &str)> {
        self.keys.get(access_key_id).map(|(p, s)| (p, s.as_str()))
    }

    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }
}
