//! The identities the API knows: the accounts of `--iam-config` (root keys, SCPs), the IAM
//! entities created through the IAM API (kept in the store, served from memory), and the key
//! that authenticates session credentials.
//!
//! Reads take a snapshot ([`Principals::registry`]) and never wait on a write. Writes are
//! serialized: a change runs on a copy of the registry, the records it changed are written to
//! the store (durable before the answer), and only then does the copy become the registry.
//!
//! Where other nodes write IAM too (one PostgreSQL database), the store's IAM revision
//! tells this node that its registry is behind: [`Principals::refresh`] (every second, and
//! before each change) loads it again. Like IAM's own, a change made through one node is
//! then seen by another "eventually" (IAM's documentation: changes "take time to become
//! visible"; here within a second).

use iam::registry::{AccountIam, Registry};
use iam::session::SessionKey;
use iam::IamError;
use std::sync::{Arc, RwLock};
use store::{Store, StoreError};

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Refused(#[from] IamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Other nodes wrote IAM before each of this change's attempts could.
    #[error("IAM changed through other nodes {CHANGE_ATTEMPTS} times while this change was made")]
    Contended,
}

/// How many times a change is made again on what other nodes wrote before it gives up.
pub const CHANGE_ATTEMPTS: usize = 16;

pub struct Principals {
    /// `--iam-config`: accounts, root keys, SCPs (None: imds is open, any key is a root).
    pub directory: Option<Arc<iam::Directory>>,
    pub sessions: Arc<SessionKey>,
    /// Session policies of session credentials, parsed once.
    pub session_policies: iam::session::ParsedPolicies,
    registry: RwLock<Arc<Registry>>,
    writes: tokio::sync::Mutex<()>,
    store: Arc<dyn Store>,
    /// The store's IAM revision the registry was loaded at (`None`: no other writer).
    revision: std::sync::Mutex<Option<u64>>,
    /// The instance metadata defaults an organization's declarative policy manages, by
    /// account (in every Region): they stand in for the account's own.
    managed_defaults: std::collections::HashMap<String, model::AccountDefaults>,
}

/// Why the principals cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Declarative(#[from] DeclarativeError),
}

/// Why the accounts' declarative policies cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("declarative policy of account {account}: {error}")]
pub struct DeclarativeError {
    pub account: String,
    pub error: model::declarative::DeclarativeError,
}

/// The defaults each account's declarative policies give (`model::declarative::effective`).
fn managed_defaults(
    directory: Option<&iam::Directory>,
) -> Result<std::collections::HashMap<String, model::AccountDefaults>, DeclarativeError> {
    let mut out = std::collections::HashMap::new();
    for a in directory.map(iam::Directory::accounts).unwrap_or_default() {
        let levels: Vec<Vec<serde_json::Value>> = a
            .declarative_levels
            .iter()
            .map(|l| l.iter().map(|(_, doc)| doc.clone()).collect())
            .collect();
        let effective =
            model::declarative::effective(&levels).map_err(|error| DeclarativeError {
                account: a.id.clone(),
                error,
            })?;
        if let Some(d) = effective {
            out.insert(a.id.clone(), d);
        }
    }
    Ok(out)
}

impl Principals {
    /// Load the IAM entities from the store.
    pub async fn load(
        directory: Option<Arc<iam::Directory>>,
        sessions: Arc<SessionKey>,
        store: Arc<dyn Store>,
    ) -> Result<Principals, LoadError> {
        // A malformed declarative policy stops the start rather than being ignored.
        let managed_defaults = managed_defaults(directory.as_deref())?;
        // The revision first: a write between the two reads is loaded again at the next
        // refresh, never missed.
        let revision = store.iam_revision().await?;
        let registry = Self::read(&*store).await?;
        Ok(Principals {
            directory,
            sessions,
            session_policies: Default::default(),
            registry: RwLock::new(Arc::new(registry)),
            writes: tokio::sync::Mutex::new(()),
            store,
            revision: std::sync::Mutex::new(revision),
            managed_defaults,
        })
    }

    async fn read(store: &dyn Store) -> Result<Registry, StoreError> {
        let records = store.iam_records().await?;
        let (registry, problems) = Registry::from_records(&records);
        for p in problems {
            tracing::error!(problem = %p, "IAM record skipped");
        }
        Ok(registry)
    }

    /// Load the registry again if another node changed IAM since it was loaded; whether it
    /// did.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let _one_at_a_time = self.writes.lock().await;
        self.refresh_locked().await
    }

    async fn refresh_locked(&self) -> Result<bool, StoreError> {
        let now = self.store.iam_revision().await?;
        let loaded = *self.revision.lock().unwrap_or_else(|e| e.into_inner());
        if now.is_none() || now == loaded {
            return Ok(false);
        }
        let registry = Self::read(&*self.store).await?;
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(registry);
        *self.revision.lock().unwrap_or_else(|e| e.into_inner()) = now;
        Ok(true)
    }

    /// The defaults of `account` in force: its declarative policy's when one manages them,
    /// else its own (`stored`, which the policy hides and which come back when it goes).
    pub fn defaults_in_force(
        &self,
        account: &str,
        stored: model::AccountDefaults,
    ) -> model::AccountDefaults {
        self.managed_defaults
            .get(account)
            .cloned()
            .unwrap_or(stored)
    }

    /// The declarative policy's defaults of `account`, when one manages them.
    pub fn managed(&self, account: &str) -> Option<&model::AccountDefaults> {
        self.managed_defaults.get(account)
    }

    /// The registry as of now.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Change one account's entities; durable before it returns. `f` runs again on the
    /// registry as another node left it when that node wrote IAM between this node's refresh
    /// and its write (the store refuses a write made from an old revision:
    /// `IamStore::write_iam`), as many as [`CHANGE_ATTEMPTS`] times.
    pub async fn change<T>(
        &self,
        account: &str,
        mut f: impl FnMut(&mut AccountIam) -> Result<T, IamError>,
    ) -> Result<T, ChangeError> {
        let _one_at_a_time = self.writes.lock().await;
        for _ in 0..CHANGE_ATTEMPTS {
            // Never change a registry another node has moved past (its records would be
            // written back as this one last saw them).
            self.refresh_locked().await?;
            let from = *self.revision.lock().unwrap_or_else(|e| e.into_inner());
            let before = self.registry();
            let mut next = (*before).clone();
            let out = next.with_account(account, &mut f)?;
            // Only this account changed: compare its records alone.
            let (old, new) = (
                before.account_records(account),
                next.account_records(account),
            );
            let deletes: Vec<store::IamKey> = old
                .keys()
                .filter(|k| !new.contains_key(*k))
                .cloned()
                .collect();
            let puts: store::IamRecords = new
                .into_iter()
                .filter(|(k, v)| old.get(k) != Some(v))
                .collect();
            if !puts.is_empty() || !deletes.is_empty() {
                match self.store.write_iam(puts, deletes, from).await? {
                    store::IamWritten::At(revision) => {
                        // Nothing came between: the registry is the store's at `revision`.
                        if let Some(r) = revision {
                            *self.revision.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                        }
                    }
                    store::IamWritten::Stale => continue,
                }
            }
            *self.registry.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
            return Ok(out);
        }
        Err(ChangeError::Contended)
    }
}
