//! Where the functions get their config: the environment (single-account mode, or a bundled file),
//! or, in organisation mode, a versioned S3 object in the administrative account that is read at
//! cold start and re-checked by ETag at most once a minute. A config that cannot be read or does not
//! parse at cold start stops the function (fail closed: it errors, and the alarms fire); later, the
//! last good config stays in force and every check logs the failure as an error.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use breakglass_core::handler::{config_location_from_env, loaded_from_env, LoadedConfig, SetupError};

use crate::Clients;

/// How often the S3 object is re-checked at most (`BREAKGLASS_CONFIG_REFRESH_SECONDS` lowers it in
/// tests; AWS deployments keep the default).
pub const REFRESH: Duration = Duration::from_secs(60);

/// The config in force, and how it is kept current.
#[derive(Debug)]
pub enum ConfigSource {
    /// From the environment or given directly: never changes.
    Fixed(Arc<LoadedConfig>),
    /// From an S3 object, re-checked by ETag.
    S3(Box<S3Config>),
}

#[derive(Debug)]
pub struct S3Config {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    refresh: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    loaded: Arc<LoadedConfig>,
    etag: Option<String>,
    checked: Instant,
}

impl ConfigSource {
    /// `BREAKGLASS_CONFIG_S3` if set (read now: an error stops the function), else the environment.
    pub async fn from_env(clients: &Clients) -> Result<ConfigSource, SetupError> {
        let Some((bucket, key)) = config_location_from_env()? else {
            return Ok(ConfigSource::Fixed(Arc::new(loaded_from_env()?)));
        };
        let refresh = std::env::var("BREAKGLASS_CONFIG_REFRESH_SECONDS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(REFRESH, |s| Duration::from_secs(s.clamp(1, 60)));
        let client = clients.s3.clone();
        let origin = format!("s3://{bucket}/{key}");
        let (loaded, etag) = match fetch(&client, &bucket, &key, None).await {
            Ok(Fetched::New { text, etag }) => (LoadedConfig::parse(&text, &origin)?, etag),
            Ok(Fetched::Unchanged) => {
                return Err(SetupError::ConfigFetch { origin, reason: "unexpected 304".into() });
            }
            Ok(Fetched::Missing) => {
                return Err(SetupError::ConfigFetch { origin, reason: "no such object".into() });
            }
            Err(reason) => return Err(SetupError::ConfigFetch { origin, reason }),
        };
        tracing::info!(config = origin.as_str(), sha256 = loaded.sha256.as_str(), "config loaded");
        let state = Mutex::new(State { loaded: Arc::new(loaded), etag, checked: Instant::now() });
        Ok(ConfigSource::S3(Box::new(S3Config { client, bucket, key, refresh, state })))
    }

    /// The config in force now: re-checked when the last check is older than the refresh interval.
    /// Never fails: a config that cannot be read or parsed leaves the last good one in force.
    pub async fn current(&self) -> Arc<LoadedConfig> {
        let s3 = match self {
            ConfigSource::Fixed(loaded) => return Arc::clone(loaded),
            ConfigSource::S3(s3) => s3,
        };
        let (current, etag) = {
            let mut state = s3.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.checked.elapsed() < s3.refresh {
                return Arc::clone(&state.loaded);
            }
            // One check per interval, also when it fails: a broken object is not hammered.
            state.checked = Instant::now();
            (Arc::clone(&state.loaded), state.etag.clone())
        };
        let origin = format!("s3://{}/{}", s3.bucket, s3.key);
        match fetch(&s3.client, &s3.bucket, &s3.key, etag.as_deref()).await {
            Ok(Fetched::Unchanged) => current,
            Ok(Fetched::Missing) => {
                tracing::error!(
                    config = origin.as_str(),
                    sha256 = current.sha256.as_str(),
                    "config object gone; the last good config stays in force"
                );
                current
            }
            Ok(Fetched::New { text, etag }) => match LoadedConfig::parse(&text, &origin) {
                Ok(loaded) => {
                    tracing::warn!(
                        config = origin.as_str(),
                        before = current.sha256.as_str(),
                        after = loaded.sha256.as_str(),
                        "config changed"
                    );
                    let loaded = Arc::new(loaded);
                    let mut state = s3.state.lock().unwrap_or_else(PoisonError::into_inner);
                    state.loaded = Arc::clone(&loaded);
                    state.etag = etag;
                    loaded
                }
                Err(e) => {
                    tracing::error!(error = %e, sha256 = current.sha256.as_str(), "new config refused; the last good config stays in force");
                    current
                }
            },
            Err(reason) => {
                tracing::error!(
                    config = origin.as_str(),
                    reason = reason.as_str(),
                    sha256 = current.sha256.as_str(),
                    "config not re-checked; the last good config stays in force"
                );
                current
            }
        }
    }
}

enum Fetched {
    New { text: String, etag: Option<String> },
    Unchanged,
    Missing,
}

async fn fetch(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
) -> Result<Fetched, String> {
    let mut request = client.get_object().bucket(bucket).key(key);
    if let Some(etag) = etag {
        request = request.if_none_match(etag);
    }
    match request.send().await {
        Ok(out) => {
            let etag = out.e_tag.clone();
            let bytes =
                out.body.collect().await.map_err(|e| format!("reading the object: {e}"))?.into_bytes();
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| "the object is not utf-8".to_owned())?;
            Ok(Fetched::New { text, etag })
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 304) => Ok(Fetched::Unchanged),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(Fetched::Missing),
        Err(e) => Err(crate::classify_error("GetObject", e).to_string()),
    }
}

/// The config object itself, for `breakglass config push`.
#[derive(Debug, Clone)]
pub struct ConfigObject {
    client: aws_sdk_s3::Client,
    pub bucket: String,
    pub key: String,
}

impl ConfigObject {
    pub fn new(clients: &Clients, bucket: &str, key: &str) -> ConfigObject {
        ConfigObject { client: clients.s3.clone(), bucket: bucket.to_owned(), key: key.to_owned() }
    }

    /// The text and ETag in force, or `None` when there is no object yet.
    pub async fn get(&self) -> Result<Option<(String, Option<String>)>, String> {
        // The same read as the functions' (no ETag: a 304 cannot come back).
        match fetch(&self.client, &self.bucket, &self.key, None).await? {
            Fetched::New { text, etag } => Ok(Some((text, etag))),
            Fetched::Missing | Fetched::Unchanged => Ok(None),
        }
    }

    /// Writes `text`; refused if the object is not (any more) the one read: `expected` is the ETag
    /// read before (`None`: there must be no object yet).
    pub async fn put(&self, text: &str, expected: Option<&str>) -> Result<(), String> {
        let current = self.get().await?.and_then(|(_, etag)| etag);
        if current.as_deref() != expected {
            return Err("the config object changed since it was read; run the push again".into());
        }
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/toml")
            .body(aws_sdk_s3::primitives::ByteStream::from(text.as_bytes().to_vec()));
        if expected.is_none() {
            request = request.if_none_match("*");
        }
        request.send().await.map(|_| ()).map_err(|e| crate::classify_error("PutObject", e).to_string())
    }
}

/// The organisation as AWS Organizations lists it (management account or delegated administrator).
#[derive(Debug, Default)]
pub struct Members {
    pub organisation_id: String,
    /// Every active account.
    pub active: Vec<String>,
    /// The accounts in each organizational unit asked for, sub-OUs included.
    pub by_ou: std::collections::BTreeMap<String, Vec<String>>,
}

/// [`Members`] of the organisation of `clients`' credentials, with the accounts of `ous`.
pub async fn organisation_members(clients: &Clients, ous: &[String]) -> Result<Members, String> {
    let client = aws_sdk_organizations::Client::new(&clients.config);
    let org = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| crate::classify_error("DescribeOrganization", e).to_string())?;
    let id = org.organization.and_then(|o| o.id).ok_or("DescribeOrganization: no organization id")?;
    let mut active = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| crate::classify_error("ListAccounts", e).to_string())?;
        for a in page.accounts.unwrap_or_default() {
            let is_active = a.state.as_ref().map_or_else(
                || a.status.as_ref().is_some_and(|s| s.as_str() == "ACTIVE"),
                |s| s.as_str() == "ACTIVE",
            );
            if let (Some(account), true) = (a.id, is_active) {
                active.push(account);
            }
        }
    }
    let mut by_ou = std::collections::BTreeMap::new();
    for ou in ous {
        // Through every OU below (an organisation is at most five levels deep).
        let (mut pending, mut accounts) = (vec![ou.clone()], Vec::new());
        while let Some(parent) = pending.pop() {
            let mut pages = client.list_accounts_for_parent().parent_id(&parent).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| crate::classify_error("ListAccountsForParent", e).to_string())?;
                accounts.extend(page.accounts.unwrap_or_default().into_iter().filter_map(|a| a.id));
            }
            let mut pages = client
                .list_children()
                .parent_id(&parent)
                .child_type(aws_sdk_organizations::types::ChildType::OrganizationalUnit)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| crate::classify_error("ListChildren", e).to_string())?;
                pending.extend(page.children.unwrap_or_default().into_iter().filter_map(|c| c.id));
            }
        }
        by_ou.insert(ou.clone(), accounts);
    }
    Ok(Members { organisation_id: id, active, by_ou })
}
