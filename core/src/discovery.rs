//! Discovery: the buckets of the logging accounts that the config selects by prefix and tag
//! (`[discovery]`), kept in a registry that only grows. A bucket found once stays protected when its
//! tag is removed; only `[discovery] exclude` in the config takes it out (and a config change is
//! mailed and recorded like any other). The registry is an S3 object beside the config; every
//! function reads it with the config (`breakglass_aws::ConfigSource`), the enforcer's schedule
//! writes it.
//!
//! Fail closed: a registry that cannot be read or parsed is never replaced (a new one would only
//! hold what this run found: protect less); the run stops with an alert, and the functions keep the
//! last good registry in force.

use canonical_policies::{Config, Discovered};
use serde::{Deserialize, Serialize};

use crate::events::{DiscoveryEvent, OwnEvent};
use crate::ports::{Directory, EventBus, PortError, RegistryStore};

pub const SCHEMA: &str = "breakglass.registry/1";
/// The registry's object name, beside the config object.
pub const REGISTRY_FILE: &str = "registry.json";

/// The registry: every bucket ever discovered, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    pub schema: String,
    pub buckets: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub account: String,
    pub region: String,
    /// When it was first found.
    pub since: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry of discovered buckets is unreadable ({0}): the last good one stays in force; fix or restore the object's previous version")]
    Unreadable(String),
    #[error("the registry could not be read or written: {0}")]
    Port(#[from] PortError),
}

impl Registry {
    pub fn parse(text: &str) -> Result<Registry, RegistryError> {
        let r: Registry = serde_json::from_str(text).map_err(|e| RegistryError::Unreadable(e.to_string()))?;
        if r.schema != SCHEMA {
            return Err(RegistryError::Unreadable(format!("schema `{}`, expected `{SCHEMA}`", r.schema)));
        }
        Ok(r)
    }

    pub fn to_text(&self) -> String {
        // Strings only: serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn discovered(&self) -> Vec<Discovered> {
        self.buckets
            .iter()
            .map(|e| Discovered {
                name: e.name.clone(),
                account: e.account.clone(),
                region: e.region.clone(),
            })
            .collect()
    }

    fn contains(&self, name: &str) -> bool {
        self.buckets.iter().any(|e| e.name == name)
    }
}

/// What one discovery run did.
#[derive(Debug, Default)]
pub struct Found {
    pub added: Vec<Entry>,
    /// (account, Region, why) of the places that could not be listed.
    pub failed: Vec<(String, String, String)>,
    /// The registry in force after the run.
    pub registry: Registry,
}

/// Lists every `[[account]]` in each of its Regions by the organisation's prefix (and tag), and adds
/// what is new to `known`. Places that cannot be listed are reported, the others still listed.
pub async fn discover<D: Directory>(
    config: &Config,
    directory: &D,
    known: &Registry,
    now: time::OffsetDateTime,
) -> Found {
    let mut found = Found { registry: known.clone(), ..Found::default() };
    let (Some(org), Some(discovery)) = (&config.organisation, &config.discovery) else { return found };
    for account in &config.accounts {
        for region in &account.regions {
            let names = match directory.buckets(&account.id, region, &org.bucket_prefix).await {
                Ok(names) => names,
                Err(e) => {
                    found.failed.push((account.id.clone(), region.clone(), e.to_string()));
                    continue;
                }
            };
            for name in names {
                if found.registry.contains(&name) || config.bucket(&name).is_some() || config.excluded(&name)
                {
                    continue;
                }
                if discovery.tag.is_some() {
                    match directory.tags(&account.id, region, &name).await {
                        Ok(tags) if discovery.tagged(&tags) => {}
                        Ok(_) => continue,
                        Err(e) => {
                            found.failed.push((account.id.clone(), region.clone(), format!("`{name}`: {e}")));
                            continue;
                        }
                    }
                }
                let entry = Entry {
                    name,
                    account: account.id.clone(),
                    region: region.clone(),
                    since: crate::format_time(now),
                };
                found.registry.buckets.push(entry.clone());
                found.added.push(entry);
            }
        }
    }
    found.registry.buckets.sort_by(|a, b| a.name.cmp(&b.name));
    found.registry.schema = SCHEMA.into();
    found
}

/// One discovery run: reads the registry (an unreadable one stops the run with an alert, and is
/// never replaced), discovers, writes the grown registry if another writer did not come first,
/// and tells the bus what was added and what could not be listed.
pub async fn run<D: Directory, R: RegistryStore, B: EventBus>(
    config: &Config,
    directory: &D,
    store: &R,
    bus: &B,
    now: time::OffsetDateTime,
) -> Result<Found, RegistryError> {
    let (known, version) = match store.load().await? {
        None => (Registry { schema: SCHEMA.into(), buckets: Vec::new() }, None),
        Some((text, version)) => match Registry::parse(&text) {
            Ok(r) => (r, Some(version)),
            Err(e) => {
                let alert = DiscoveryEvent {
                    schema: "breakglass.discovery/1".into(),
                    added: Vec::new(),
                    failed: Vec::new(),
                    error: Some(e.to_string()),
                    time: crate::format_time(now),
                };
                bus.put(&OwnEvent::Discovery(alert).to_bus()).await?;
                return Err(e);
            }
        },
    };
    let found = discover(config, directory, &known, now).await;
    if !found.added.is_empty() && !store.save(&found.registry.to_text(), version.as_deref()).await? {
        // Another run wrote first: this one's finds are found again by the next.
        tracing::warn!("registry changed meanwhile; the next discovery adds what this one found");
        return Ok(Found { added: Vec::new(), ..found });
    }
    if !found.added.is_empty() || !found.failed.is_empty() {
        let event = DiscoveryEvent {
            schema: "breakglass.discovery/1".into(),
            added: found.added.clone(),
            failed: found
                .failed
                .iter()
                .map(|(account, region, error)| crate::events::Unlisted {
                    account: account.clone(),
                    region: region.clone(),
                    error: error.clone(),
                })
                .collect(),
            error: None,
            time: crate::format_time(now),
        };
        bus.put(&OwnEvent::Discovery(event).to_bus()).await?;
    }
    Ok(found)
}
