//! Where the functions get their config: the environment (single-account mode, or a bundled file),
//! or, in organisation mode, a versioned S3 object in the administrative account that is read at
//! cold start and re-checked (version and ETag) at most once a minute. A config that cannot be read
//! or does not parse at cold start stops the function (fail closed: it errors, and the alarms fire); later, the
//! last good config stays in force and every check logs the failure as an error. Only an object the
//! gate sealed is adopted ([`ConfigSeal`]): one written past the gate is refused, the last sealed
//! version stays in force (at cold start too), and the refusal waits in [`ConfigSource::refused`]
//! for the enforcer to alert on both channels.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use breakglass_core::guard::discovery::Registry;
use breakglass_core::runtime::seal::{Refused, SEAL_METADATA};
use breakglass_core::runtime::{loaded_from, LoadedConfig, Settings, SetupError};

use crate::config_seal::{Checked, ConfigSeal};
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
    seal: ConfigSeal,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The config in force, with the registry's buckets.
    loaded: Arc<LoadedConfig>,
    /// The config alone, as its object says.
    base: Arc<LoadedConfig>,
    /// The object last seen: its version and ETag ([`Object::seen`]). Not the ETag alone: an
    /// object written past the gate with the bytes of an older config has that config's ETag.
    etag: Option<String>,
    /// The last good registry and its ETag.
    registry: Option<(Registry, String)>,
    checked: Instant,
    /// Objects refused for want of the gate's seal, not yet alerted on.
    refused: Vec<Refused>,
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
        let fetch_error = |reason: String| SetupError::ConfigFetch { origin: origin.clone(), reason };
        // The key comes from the stack, never from the config it checks.
        let seal = settings.record_key.as_deref().map(|k| ConfigSeal::new(clients.kms.clone(), k)).ok_or_else(|| {
            fetch_error(
                "organisation mode needs `BREAKGLASS_RECORD_KEY`: the records' key checks the gate's seal on the config".into(),
            )
        })?;
        let object = match fetch(&client, &bucket, &key, None).await.map_err(&fetch_error)? {
            Fetched::New(object) => object,
            Fetched::Unchanged => return Err(fetch_error("unexpected 304".into())),
            Fetched::Missing => return Err(fetch_error("no such object".into())),
        };
        let mut refused = Vec::new();
        let (base, etag) =
            match seal.check(&object.text, object.seal.as_deref()).await.map_err(&fetch_error)? {
                Checked::Sealed => (LoadedConfig::parse(&object.text, &origin)?, object.seen()),
                Checked::Refused(why) => {
                    let text = newest_sealed(&client, &seal, &bucket, &key, object.version.as_deref())
                        .await
                        .map_err(&fetch_error)?;
                    let base = LoadedConfig::parse(&text, &origin)?;
                    let refusal = refusal(&origin, &object, why, Some(&base.sha256));
                    tracing::error!(error = refusal.finding().what.as_str(), "config refused");
                    refused.push(refusal);
                    // The refused object's ETag: it is not fetched again until it changes.
                    (base, object.seen())
                }
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
            refused,
        });
        Ok(ConfigSource::S3(Box::new(S3Config { client, bucket, key, registry_key, refresh, seal, state })))
    }

    /// How long a changed config or registry may take to come into force here (zero when fixed).
    pub fn refresh(&self) -> Duration {
        match self {
            ConfigSource::Fixed(_) => Duration::ZERO,
            ConfigSource::S3(s3) => s3.refresh,
        }
    }

    /// Config objects refused since the last call (each once): the enforcer alerts on them.
    pub fn refused(&self) -> Vec<Refused> {
        match self {
            ConfigSource::Fixed(_) => Vec::new(),
            ConfigSource::S3(s3) => {
                std::mem::take(&mut s3.state.lock().unwrap_or_else(PoisonError::into_inner).refused)
            }
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
        let (new_base, new_etag) = match fetch_if_new(&s3.client, &s3.bucket, &s3.key, etag.as_deref()).await
        {
            Ok(Fetched::Unchanged) => (None, etag),
            Ok(Fetched::Missing) => {
                tracing::error!(
                    config = origin.as_str(),
                    sha256 = current.sha256.as_str(),
                    "config object gone; the last good config stays in force"
                );
                (None, etag)
            }
            Ok(Fetched::New(object)) => match s3.seal.check(&object.text, object.seal.as_deref()).await {
                Ok(Checked::Sealed) => match LoadedConfig::parse(&object.text, &origin) {
                    Ok(loaded) => {
                        tracing::warn!(
                            config = origin.as_str(),
                            before = current.sha256.as_str(),
                            after = loaded.sha256.as_str(),
                            "config changed"
                        );
                        (Some(Arc::new(loaded)), object.seen())
                    }
                    Err(e) => {
                        tracing::error!(error = %e, sha256 = current.sha256.as_str(), "new config refused; the last good config stays in force");
                        (None, etag)
                    }
                },
                Ok(Checked::Refused(why)) => {
                    // The newest sealed version, as at a cold start: every function converges on
                    // the same config, also one that missed a sealed change before the forgery.
                    match newest_sealed(&s3.client, &s3.seal, &s3.bucket, &s3.key, object.version.as_deref())
                        .await
                    {
                        Ok(text) => {
                            let sealed = LoadedConfig::parse(&text, &origin)
                                .ok()
                                .filter(|l| l.sha256 != base.sha256)
                                .map(Arc::new);
                            let in_force = sealed.as_ref().map_or(&base.sha256, |l| &l.sha256);
                            let refusal = refusal(&origin, &object, why, Some(in_force));
                            tracing::error!(error = refusal.finding().what.as_str(), "config refused");
                            s3.state.lock().unwrap_or_else(PoisonError::into_inner).refused.push(refusal);
                            // Its ETag: the refused object is not fetched (nor alerted on) again
                            // until it changes.
                            (sealed, object.seen())
                        }
                        Err(e) => {
                            // Not searched to the end (S3 did not answer, or no version is sealed):
                            // the config in force stays, and the next check searches again.
                            tracing::error!(
                                error = e.as_str(),
                                "config written past the gate; the sealed versions not read, the config in force stays"
                            );
                            (None, etag)
                        }
                    }
                }
                Err(reason) => {
                    tracing::error!(
                        config = origin.as_str(),
                        reason = reason.as_str(),
                        "the new config's seal not checked; the last good config stays in force"
                    );
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
            s3.state.lock().unwrap_or_else(PoisonError::into_inner).etag = new_etag;
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
        Fetched::New(o) => (o.text, o.etag.unwrap_or_default()),
        Fetched::Missing | Fetched::Unchanged => return Ok(None),
    };
    match Registry::parse(&text) {
        Ok(r) => return Ok(Some((r, etag))),
        Err(e) => {
            tracing::error!(error = %e, "newest registry unreadable; looking for the last good version")
        }
    }
    // The newest is the one that did not parse.
    for id in version_ids(client, bucket, key).await?.iter().skip(1) {
        let Some(o) = fetch_version(client, bucket, key, id).await? else { continue };
        if let Ok(r) = Registry::parse(&o.text) {
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
        Ok(Fetched::New(o)) => match Registry::parse(&o.text) {
            Ok(r) => Some((r, o.etag.unwrap_or_default())),
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

pub(crate) enum Fetched {
    New(Object),
    Unchanged,
    Missing,
}

/// An object as read, with what S3 says about it.
pub(crate) struct Object {
    pub(crate) text: String,
    pub(crate) etag: Option<String>,
    pub(crate) version: Option<String>,
    /// The metadata's seal, if any.
    pub(crate) seal: Option<String>,
    /// The metadata's writer, if any (unverified: whoever wrote the object wrote it too).
    pub(crate) writer: Option<String>,
}

impl Object {
    /// What tells one version of the object from another.
    fn seen(&self) -> Option<String> {
        Some(seen(self.version.as_deref(), self.etag.as_deref()))
    }
}

fn seen(version: Option<&str>, etag: Option<&str>) -> String {
    format!("{}|{}", version.unwrap_or("null"), etag.unwrap_or(""))
}

/// The config object if it is not the one `last` seen ([`Object::seen`]): a HEAD, then the GET only
/// when the version or the ETag differ.
async fn fetch_if_new(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    last: Option<&str>,
) -> Result<Fetched, String> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => {
            let now = self::seen(head.version_id.as_deref(), head.e_tag.as_deref());
            if last == Some(now.as_str()) {
                return Ok(Fetched::Unchanged);
            }
            fetch(client, bucket, key, None).await
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(Fetched::Missing),
        Err(e) => Err(crate::errors::classify_error("HeadObject", e).to_string()),
    }
}

/// The object metadata naming who wrote a config (the gate, or the deployment's first config).
pub(crate) const WRITER_METADATA: &str = "breakglass-writer";

fn refusal(origin: &str, object: &Object, why: &str, in_force: Option<&str>) -> Refused {
    Refused {
        location: origin.to_owned(),
        version: object.version.clone().unwrap_or_else(|| "null".into()),
        writer: match &object.writer {
            Some(w) => format!("`{}` as the object claims", w.chars().take(100).collect::<String>()),
            None => "not named (see the config bucket's CloudTrail data events)".into(),
        },
        reason: why.to_owned(),
        in_force: in_force.map(str::to_owned),
    }
}

/// The newest version of the config the gate sealed, other than `refused` (the current one): what
/// stays in force at a cold start after the object was written past the gate.
pub(crate) async fn newest_sealed(
    client: &aws_sdk_s3::Client,
    seal: &ConfigSeal,
    bucket: &str,
    key: &str,
    refused: Option<&str>,
) -> Result<String, String> {
    for id in version_ids(client, bucket, key).await?.iter().filter(|id| Some(id.as_str()) != refused) {
        let Some(o) = fetch_version(client, bucket, key, id).await? else { continue };
        if seal.check(&o.text, o.seal.as_deref()).await? == Checked::Sealed {
            tracing::error!(version = id.as_str(), "config: an older, sealed version is in force");
            return Ok(o.text);
        }
    }
    Err("no version of the config carries the gate's seal: have the deployment write the first config (`breakglass config seed`), then change it through the gate".into())
}

/// Pages of versions read at the most (1,000 each): writes past the gate cannot bury the sealed
/// versions beyond a first page, and a bucket of endless versions still ends in an answer.
const VERSION_PAGES: usize = 20;

/// The versions of `key`, newest first (as S3 lists them), every page followed.
async fn version_ids(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let (mut key_marker, mut version_marker) = (None, None);
    for _ in 0..VERSION_PAGES {
        let page = client
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| crate::errors::classify_error("ListObjectVersions", e).to_string())?;
        ids.extend(
            page.versions
                .unwrap_or_default()
                .into_iter()
                .filter(|v| v.key.as_deref() == Some(key))
                .filter_map(|v| v.version_id),
        );
        if page.is_truncated != Some(true) {
            return Ok(ids);
        }
        (key_marker, version_marker) = (page.next_key_marker, page.next_version_id_marker);
        if key_marker.is_none() && version_marker.is_none() {
            return Ok(ids);
        }
    }
    tracing::warn!(versions = ids.len(), "more versions than are read; the newest are searched");
    Ok(ids)
}

/// One older version: `None` when it is gone or is not text (the caller tries the next). S3 not
/// answering is the error: skipping that version would adopt an older config than the newest
/// sealed one.
async fn fetch_version(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    id: &str,
) -> Result<Option<Object>, String> {
    match fetch_at(client, bucket, key, None, Some(id)).await {
        Ok(Fetched::New(o)) => Ok(Some(o)),
        Ok(Fetched::Missing | Fetched::Unchanged) => Ok(None),
        Err(e) if e == NOT_TEXT => Ok(None),
        Err(e) => Err(e),
    }
}

/// What [`fetch_at`] answers for an object that is not UTF-8 text.
const NOT_TEXT: &str = "the object is not utf-8";

pub(crate) async fn fetch(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
) -> Result<Fetched, String> {
    fetch_at(client, bucket, key, etag, None).await
}

/// The object (`version`, else the current one), unless its ETag is `etag`.
async fn fetch_at(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
    version: Option<&str>,
) -> Result<Fetched, String> {
    let request = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_if_none_match(etag.map(str::to_owned))
        .set_version_id(version.map(str::to_owned));
    match request.send().await {
        Ok(out) => {
            let meta = |name: &str| out.metadata.as_ref().and_then(|m| m.get(name)).cloned();
            let (seal, writer) = (meta(SEAL_METADATA), meta(WRITER_METADATA));
            let (etag, version) = (out.e_tag.clone(), out.version_id.clone());
            let bytes =
                out.body.collect().await.map_err(|e| format!("reading the object: {e}"))?.into_bytes();
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| NOT_TEXT.to_owned())?;
            Ok(Fetched::New(Object { text, etag, version, seal, writer }))
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 304) => Ok(Fetched::Unchanged),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(Fetched::Missing),
        // A version that is gone, or a delete marker's (405): no text to read.
        Err(e)
            if version.is_some()
                && (aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("NoSuchVersion")
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 405)) =>
        {
            Ok(Fetched::Missing)
        }
        Err(e) => Err(crate::errors::classify_error("GetObject", e).to_string()),
    }
}
