//! Where the functions get their config: the environment (single-account mode, or a bundled file),
//! or, in organisation mode, a versioned S3 object in the administrative account that is read at
//! cold start and re-checked by ETag at most once a minute. A config that cannot be read or does not
//! parse at cold start stops the function (fail closed: it errors, and the alarms fire); later, the
//! last good config stays in force and every check logs the failure as an error.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use breakglass_core::guard::discovery::Registry;
use breakglass_core::runtime::{loaded_from, LoadedConfig, Settings, SetupError};

use crate::Clients;

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
    /// The registry of discovered buckets, beside the config (read when the config has `[discovery]`).
    registry_key: String,
    refresh: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The config in force, with the registry's buckets.
    loaded: Arc<LoadedConfig>,
    /// The config alone, as its object says.
    base: Arc<LoadedConfig>,
    etag: Option<String>,
    /// The last good registry and its ETag.
    registry: Option<(Registry, String)>,
    checked: Instant,
}

impl ConfigSource {
    /// `BREAKGLASS_CONFIG_S3` if set (read now: an error stops the function), else the config the
    /// settings give (`BREAKGLASS_CONFIG` or `BREAKGLASS_CONFIG_FILE`). The object is re-checked at
    /// most every `settings.config_refresh` (tests lower it; AWS deployments keep the default).
    pub async fn load(clients: &Clients, settings: &Settings) -> Result<ConfigSource, SetupError> {
        let Some((bucket, key)) = settings.config_location()? else {
            return Ok(ConfigSource::Fixed(Arc::new(loaded_from(settings)?)));
        };
        let refresh = settings.config_refresh;
        let client = clients.s3.clone();
        let origin = format!("s3://{bucket}/{key}");
        let (base, etag) = match fetch(&client, &bucket, &key, None).await {
            Ok(Fetched::New { text, etag }) => (LoadedConfig::parse(&text, &origin)?, etag),
            Ok(Fetched::Unchanged) => {
                return Err(SetupError::ConfigFetch { origin, reason: "unexpected 304".into() });
            }
            Ok(Fetched::Missing) => {
                return Err(SetupError::ConfigFetch { origin, reason: "no such object".into() });
            }
            Err(reason) => return Err(SetupError::ConfigFetch { origin, reason }),
        };
        let registry_key = crate::S3Registry::key_beside(&key);
        let registry = match base.config.discovery {
            Some(_) => first_good_registry(&client, &bucket, &registry_key).await.map_err(|reason| {
                SetupError::ConfigFetch { origin: format!("s3://{bucket}/{registry_key}"), reason }
            })?,
            None => None,
        };
        let loaded = merged(&base, registry.as_ref());
        tracing::info!(
            config = origin.as_str(),
            sha256 = loaded.sha256.as_str(),
            buckets = loaded.config.buckets.len(),
            "config loaded"
        );
        let state = Mutex::new(State {
            loaded: Arc::new(loaded),
            base: Arc::new(base),
            etag,
            registry,
            checked: Instant::now(),
        });
        Ok(ConfigSource::S3(Box::new(S3Config { client, bucket, key, registry_key, refresh, state })))
    }

    /// How long a changed config or registry may take to come into force here (zero when fixed).
    pub fn refresh(&self) -> Duration {
        match self {
            ConfigSource::Fixed(_) => Duration::ZERO,
            ConfigSource::S3(s3) => s3.refresh,
        }
    }

    /// The config in force now: re-checked when the last check is older than the refresh interval.
    /// Never fails: a config (or registry) that cannot be read or parsed leaves the last good one in
    /// force.
    pub async fn current(&self) -> Arc<LoadedConfig> {
        let s3 = match self {
            ConfigSource::Fixed(loaded) => return Arc::clone(loaded),
            ConfigSource::S3(s3) => s3,
        };
        let (current, base, etag, registry) = {
            let mut state = s3.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.checked.elapsed() < s3.refresh {
                return Arc::clone(&state.loaded);
            }
            // One check per interval, also when it fails: a broken object is not hammered.
            state.checked = Instant::now();
            (Arc::clone(&state.loaded), Arc::clone(&state.base), state.etag.clone(), state.registry.clone())
        };
        let origin = format!("s3://{}/{}", s3.bucket, s3.key);
        let (new_base, new_etag) = match fetch(&s3.client, &s3.bucket, &s3.key, etag.as_deref()).await {
            Ok(Fetched::Unchanged) => (None, etag),
            Ok(Fetched::Missing) => {
                tracing::error!(
                    config = origin.as_str(),
                    sha256 = current.sha256.as_str(),
                    "config object gone; the last good config stays in force"
                );
                (None, etag)
            }
            Ok(Fetched::New { text, etag: new }) => match LoadedConfig::parse(&text, &origin) {
                Ok(loaded) => {
                    tracing::warn!(
                        config = origin.as_str(),
                        before = current.sha256.as_str(),
                        after = loaded.sha256.as_str(),
                        "config changed"
                    );
                    (Some(Arc::new(loaded)), new)
                }
                Err(e) => {
                    tracing::error!(error = %e, sha256 = current.sha256.as_str(), "new config refused; the last good config stays in force");
                    (None, etag)
                }
            },
            Err(reason) => {
                tracing::error!(
                    config = origin.as_str(),
                    reason = reason.as_str(),
                    sha256 = current.sha256.as_str(),
                    "config not re-checked; the last good config stays in force"
                );
                (None, etag)
            }
        };
        let base_changed = new_base.is_some();
        let base = new_base.unwrap_or(base);
        let new_registry = match base.config.discovery {
            Some(_) => newer_registry(&s3.client, &s3.bucket, &s3.registry_key, registry.as_ref()).await,
            None => None,
        };
        if !base_changed && new_registry.is_none() {
            return current;
        }
        let registry = new_registry.or(registry);
        let loaded = Arc::new(merged(&base, registry.as_ref()));
        let mut state = s3.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.loaded = Arc::clone(&loaded);
        state.base = base;
        state.etag = new_etag;
        state.registry = registry;
        loaded
    }
}

/// The config with the registry's buckets, or alone.
fn merged(base: &LoadedConfig, registry: Option<&(Registry, String)>) -> LoadedConfig {
    match registry {
        Some((r, version)) => base.with_registry(r, version),
        None => base.with_registry(&Registry::default(), "none"),
    }
}

/// The registry at cold start: the newest version that parses (an unreadable newest version is
/// logged as an error, and the one before it stays in force: fail closed, never "protect
/// nothing"); `None` before the first discovery.
async fn first_good_registry(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Registry, String)>, String> {
    let (text, etag) = match fetch(client, bucket, key, None).await? {
        Fetched::New { text, etag } => (text, etag.unwrap_or_default()),
        Fetched::Missing | Fetched::Unchanged => return Ok(None),
    };
    match Registry::parse(&text) {
        Ok(r) => return Ok(Some((r, etag))),
        Err(e) => {
            tracing::error!(error = %e, "newest registry unreadable; looking for the last good version")
        }
    }
    let versions = client
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .map_err(|e| crate::errors::classify_error("ListObjectVersions", e).to_string())?;
    // Newest first, as S3 lists them; the newest is the one that did not parse.
    for v in
        versions.versions.unwrap_or_default().into_iter().filter(|v| v.key.as_deref() == Some(key)).skip(1)
    {
        let Some(id) = v.version_id else { continue };
        let got = client.get_object().bucket(bucket).key(key).version_id(&id).send().await;
        let Ok(out) = got else { continue };
        let Ok(bytes) = out.body.collect().await else { continue };
        if let Ok(r) = Registry::parse(&String::from_utf8_lossy(&bytes.into_bytes())) {
            tracing::error!(version = id.as_str(), "registry: an older version is in force");
            return Ok(Some((r, format!("version {id}"))));
        }
    }
    Err("no version of the registry parses: restore a good version (the functions do not start without it)"
        .into())
}

/// A newer registry than `current`, if there is one that parses; otherwise `None` (the last good
/// one stays, and an unreadable or vanished one is logged as an error).
async fn newer_registry(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    current: Option<&(Registry, String)>,
) -> Option<(Registry, String)> {
    let etag = current.map(|(_, e)| e.as_str()).filter(|e| !e.starts_with("version "));
    match fetch(client, bucket, key, etag).await {
        Ok(Fetched::New { text, etag }) => match Registry::parse(&text) {
            Ok(r) => Some((r, etag.unwrap_or_default())),
            Err(e) => {
                tracing::error!(error = %e, "new registry refused; the last good one stays in force");
                None
            }
        },
        Ok(Fetched::Unchanged) => None,
        Ok(Fetched::Missing) => {
            if current.is_some() {
                tracing::error!("registry object gone; the last good one stays in force");
            }
            None
        }
        Err(reason) => {
            tracing::error!(
                reason = reason.as_str(),
                "registry not re-checked; the last good one stays in force"
            );
            None
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
        Err(e) => Err(crate::errors::classify_error("GetObject", e).to_string()),
    }
}

/// The config object itself: the gate writes it once two people agreed; `breakglass config push`
/// reads it to show the difference.
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
        let mut request =
            crate::clients::put_text(&self.client, &self.bucket, &self.key, "application/toml", text);
        if expected.is_none() {
            request = request.if_none_match("*");
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| crate::errors::classify_error("PutObject", e).to_string())
    }
}

impl breakglass_core::ports::ConfigStore for ConfigObject {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    async fn read(&self) -> Result<Option<(String, Option<String>)>, breakglass_core::ports::PortError> {
        self.get().await.map_err(breakglass_core::ports::PortError::Retryable)
    }

    async fn write(
        &self,
        text: &str,
        expected: Option<&str>,
    ) -> Result<(), breakglass_core::ports::PortError> {
        self.put(text, expected).await.map_err(breakglass_core::ports::PortError::Refused)
    }
}
