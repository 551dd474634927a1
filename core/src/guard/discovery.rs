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

use breakglass_config::{Config, Discovered};
use serde::{Deserialize, Serialize};

use crate::events::{DiscoveryEvent, Entry, OwnEvent};
use crate::inbound::event::ApiCall;
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

/// Lists every `[[account]]` in each of its Regions, and every account of each `[[ou]]` in the OU's
/// Regions, by the organisation's prefix (and tag), and adds
/// what is new to `known`. Places that cannot be listed are reported, the others still listed.
pub async fn discover<D: Directory>(
    config: &Config,
    directory: &D,
    known: &Registry,
    now: time::OffsetDateTime,
) -> Found {
    let mut found = Found { registry: known.clone(), ..Found::default() };
    let (Some(org), Some(discovery)) = (&config.organisation, &config.discovery) else { return found };
    for (account, regions) in places(config, directory, &mut found.failed).await {
        for region in &regions {
            let names = match directory.buckets(&account, region, &org.bucket_prefix).await {
                Ok(names) => names,
                Err(e) => {
                    found.failed.push((account.clone(), region.clone(), e.to_string()));
                    continue;
                }
            };
            for name in names {
                if found.registry.contains(&name) || config.bucket(&name).is_some() || config.excluded(&name)
                {
                    continue;
                }
                if discovery.tag.is_some() {
                    match directory.tags(&account, region, &name).await {
                        Ok(tags) if discovery.tagged(&tags) => {}
                        Ok(_) => continue,
                        Err(e) => {
                            found.failed.push((account.clone(), region.clone(), format!("`{name}`: {e}")));
                            continue;
                        }
                    }
                }
                let entry = Entry {
                    name,
                    account: account.clone(),
                    region: region.clone(),
                    since: crate::time::format_time(now),
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

/// Where discovery lists: every `[[account]]` in its Regions, then every other active account of
/// each `[[ou]]` (and the OUs below it) in the OU's Regions. An OU that cannot be listed is reported
/// in `failed` (as the OU and its Regions), the others are still listed.
async fn places<D: Directory>(
    config: &Config,
    directory: &D,
    failed: &mut Vec<(String, String, String)>,
) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> =
        config.accounts.iter().map(|a| (a.id.clone(), a.regions.clone())).collect();
    for ou in &config.ous {
        match directory.ou_accounts(&ou.id).await {
            Ok(accounts) => {
                for account in accounts {
                    if config.accounts.iter().any(|a| a.id == account) {
                        continue;
                    }
                    match out.iter_mut().find(|(a, _)| *a == account) {
                        Some((_, regions)) => {
                            regions.extend(
                                ou.regions
                                    .iter()
                                    .filter(|r| !regions.contains(r))
                                    .cloned()
                                    .collect::<Vec<_>>(),
                            );
                        }
                        None => out.push((account, ou.regions.clone())),
                    }
                }
            }
            Err(e) => failed.push((ou.id.clone(), ou.regions.join(", "), e.to_string())),
        }
    }
    out
}

/// The registry and its version, or the alert on the bus and the error when it cannot be read: an
/// unreadable registry is never replaced.
async fn load<R: RegistryStore, B: EventBus>(
    store: &R,
    bus: &B,
    now: time::OffsetDateTime,
) -> Result<(Registry, Option<String>), RegistryError> {
    match store.load().await? {
        None => Ok((Registry { schema: SCHEMA.into(), buckets: Vec::new() }, None)),
        Some((text, version)) => match Registry::parse(&text) {
            Ok(r) => Ok((r, Some(version))),
            Err(e) => {
                let alert = DiscoveryEvent {
                    schema: "breakglass.discovery/1".into(),
                    added: Vec::new(),
                    failed: Vec::new(),
                    error: Some(e.to_string()),
                    time: crate::time::format_time(now),
                };
                bus.put(&OwnEvent::Discovery(alert).to_bus()).await?;
                Err(e)
            }
        },
    }
}

/// Tells the bus what was added and what could not be listed (nothing when neither).
async fn tell<B: EventBus>(
    bus: &B,
    added: &[Entry],
    failed: &[(String, String, String)],
    now: time::OffsetDateTime,
) -> Result<(), PortError> {
    if added.is_empty() && failed.is_empty() {
        return Ok(());
    }
    let event = DiscoveryEvent {
        schema: "breakglass.discovery/1".into(),
        added: added.to_vec(),
        failed: failed
            .iter()
            .map(|(account, region, error)| crate::events::Unlisted {
                account: account.clone(),
                region: region.clone(),
                error: error.clone(),
            })
            .collect(),
        error: None,
        time: crate::time::format_time(now),
    };
    bus.put(&OwnEvent::Discovery(event).to_bus()).await
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
    let (known, version) = load(store, bus, now).await?;
    let found = discover(config, directory, &known, now).await;
    if !found.added.is_empty() && !store.save(&found.registry.to_text(), version.as_deref()).await? {
        // Another run wrote first: this one's finds are found again by the next.
        tracing::warn!("registry changed meanwhile; the next discovery adds what this one found");
        return Ok(Found { added: Vec::new(), ..found });
    }
    tell(bus, &found.added, &found.failed, now).await?;
    Ok(found)
}

/// The calls that may bring a new log bucket into discovery's reach (a bucket created, a tag put
/// on): discovery looks at that one bucket at once instead of waiting for the schedule. The
/// organisation's rules forward them with the guarded calls (proofs/tests/proofs/template.rs ties them).
pub const CALLS: &[&str] = &["CreateBucket", "PutBucketTagging"];

/// The place and name of the bucket `call` may have brought into reach: a successful [`CALLS`]
/// call on a bucket with the organisation's prefix that is neither protected nor excluded, from one
/// configured account, in one of that account's Regions. The event is not trusted further:
/// [`adopt`] looks the bucket up in that account before it adds anything.
pub fn candidate(config: &Config, call: &ApiCall) -> Option<(String, String, String)> {
    let (org, _) = (config.organisation.as_ref()?, config.discovery.as_ref()?);
    let s3 = call.event_source.as_deref().is_none_or(|s| s == "s3.amazonaws.com");
    if !s3 || !CALLS.contains(&call.event.name.as_str()) || call.is_attempt() {
        return None;
    }
    let name = call.bucket.as_deref()?;
    if !name.starts_with(&org.bucket_prefix) || config.bucket(name).is_some() || config.excluded(name) {
        return None;
    }
    let account = match call.accounts.as_slice() {
        [first, rest @ ..] if rest.iter().all(|a| a == first) => first,
        _ => return None,
    };
    let region = call.event.region.as_deref()?;
    // A listed account in one of its Regions; or any account where an `[[ou]]` has the Region, whose
    // membership `adopt` asks AWS Organizations about.
    let in_reach = match config.accounts.iter().find(|a| &a.id == account) {
        Some(known) => known.regions.iter().any(|r| r == region),
        None => config.ous.iter().any(|ou| ou.regions.iter().any(|r| r == region)),
    };
    in_reach.then(|| (account.clone(), region.to_owned(), name.to_owned()))
}

/// Whether `account` may hold discovered buckets in `region`: listed with that Region, or in an
/// `[[ou]]` (or an OU below it) that has the Region.
async fn reachable<D: Directory>(
    config: &Config,
    directory: &D,
    account: &str,
    region: &str,
) -> Result<bool, PortError> {
    if let Some(known) = config.accounts.iter().find(|a| a.id == account) {
        return Ok(known.regions.iter().any(|r| r == region));
    }
    // An OU that cannot be listed leaves the answer open: an error, not a "no".
    let mut first_error = None;
    for ou in config.ous.iter().filter(|ou| ou.regions.iter().any(|r| r == region)) {
        match directory.ou_accounts(&ou.id).await {
            Ok(accounts) if accounts.iter().any(|a| a == account) => return Ok(true),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(false), Err)
}

/// Discovery of the one bucket `call` names ([`candidate`]): looked up in its account and Region
/// through the member role (it must be there, with the tag when one is asked for), then added to the
/// registry (retried when another writer came first) and told on the bus. `None` when there is
/// nothing to add.
pub async fn adopt<D: Directory, R: RegistryStore, B: EventBus>(
    config: &Config,
    directory: &D,
    store: &R,
    bus: &B,
    call: &ApiCall,
    now: time::OffsetDateTime,
) -> Result<Option<Entry>, RegistryError> {
    let Some((account, region, name)) = candidate(config, call) else { return Ok(None) };
    let Some(discovery) = &config.discovery else { return Ok(None) };
    if !reachable(config, directory, &account, &region).await? {
        tracing::warn!(
            account = account.as_str(),
            "account neither listed nor in an [[ou]] of the config; not added"
        );
        return Ok(None);
    }
    // ListBuckets by the name as prefix, in the event's Region: the bucket exists, in that account
    // and Region. A forged or stale event finds nothing.
    if !directory.buckets(&account, &region, &name).await?.contains(&name) {
        tracing::warn!(
            bucket = name.as_str(),
            account = account.as_str(),
            region = region.as_str(),
            "not found where the event says; not added"
        );
        return Ok(None);
    }
    if discovery.tag.is_some() && !discovery.tagged(&directory.tags(&account, &region, &name).await?) {
        return Ok(None);
    }
    let entry = Entry { name, account, region, since: crate::time::format_time(now) };
    for _ in 0..3 {
        let (mut registry, version) = load(store, bus, now).await?;
        if registry.contains(&entry.name) {
            return Ok(None);
        }
        registry.buckets.push(entry.clone());
        registry.buckets.sort_by(|a, b| a.name.cmp(&b.name));
        registry.schema = SCHEMA.into();
        if store.save(&registry.to_text(), version.as_deref()).await? {
            tell(bus, std::slice::from_ref(&entry), &[], now).await?;
            return Ok(Some(entry));
        }
    }
    // Three writers in a row came first: the schedule's discovery finds it.
    tracing::warn!(
        bucket = entry.name.as_str(),
        "registry kept changing; left to the next scheduled discovery"
    );
    Ok(None)
}
