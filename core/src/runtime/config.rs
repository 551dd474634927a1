//! The config in force and what is built from it: [`LoadedConfig`] (the config with its hash and
//! origin) and [`PerConfig`] (built again only when the config in force changes).

use breakglass_config::Config;

use super::settings::{Settings, SetupError, CONFIG_ENV};
use crate::trail::audit;

/// A config with the SHA-256 of its text as stored (which every audit record names) and where it
/// came from.
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub sha256: String,
    pub origin: String,
    /// The version of the registry of discovered buckets merged into `config`, if any.
    pub registry: Option<String>,
}

impl LoadedConfig {
    pub fn parse(text: &str, origin: &str) -> Result<LoadedConfig, SetupError> {
        use sha2::Digest as _;
        let config = Config::from_toml(text)
            .map_err(|source| SetupError::ConfigAt { origin: origin.to_owned(), source: Box::new(source) })?;
        let sha256 = audit::hex(&sha2::Sha256::digest(text.as_bytes()));
        Ok(LoadedConfig { config, sha256, origin: origin.to_owned(), registry: None })
    }

    /// This config with the registry's buckets protected (`Config::with_discovered`); a registry
    /// entry the config cannot protect is logged as an error and left out.
    pub fn with_registry(&self, registry: &crate::guard::discovery::Registry, version: &str) -> LoadedConfig {
        let (config, refused) = self.config.with_discovered(&registry.discovered());
        for e in refused {
            tracing::error!(error = %e, "discovered bucket not protected by this config");
        }
        LoadedConfig {
            config,
            sha256: self.sha256.clone(),
            origin: self.origin.clone(),
            registry: Some(version.to_owned()),
        }
    }

    /// What tells two configs in force apart: the text's hash and the registry's version.
    fn fingerprint(&self) -> (&str, Option<&str>) {
        (&self.sha256, self.registry.as_deref())
    }
}

/// The config from [`CONFIG_ENV`] or [`crate::runtime::settings::CONFIG_FILE_ENV`], with its hash.
pub fn loaded_from(settings: &Settings) -> Result<LoadedConfig, SetupError> {
    let (text, origin) = match (&settings.config_text, &settings.config_file) {
        (Some(text), _) => (text.clone(), CONFIG_ENV.to_owned()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| SetupError::Read { path: path.clone(), source })?;
            (text, path.clone())
        }
        (None, None) => return Err(SetupError::NoConfig),
    };
    LoadedConfig::parse(&text, &origin)
}

/// The config text's hash and the registry's version: what [`PerConfig`] rebuilds on.
type Fingerprint = (String, Option<String>);

/// What a main builds from a config (clients per account, the enforcer), built again only when the
/// config in force changes (by hash), so that a changed config takes effect at the next event.
#[derive(Debug)]
pub struct PerConfig<T> {
    cell: std::sync::Mutex<Option<(Fingerprint, std::sync::Arc<T>)>>,
}

impl<T> Default for PerConfig<T> {
    fn default() -> Self {
        PerConfig { cell: std::sync::Mutex::new(None) }
    }
}

impl<T> PerConfig<T> {
    /// The value built for `loaded`, building it with `build` if the config changed.
    pub fn get(&self, loaded: &LoadedConfig, build: impl FnOnce(&LoadedConfig) -> T) -> std::sync::Arc<T> {
        let mut cell = self.cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*cell {
            Some((key, value)) if (key.0.as_str(), key.1.as_deref()) == loaded.fingerprint() => {
                std::sync::Arc::clone(value)
            }
            _ => {
                let value = std::sync::Arc::new(build(loaded));
                let key = (loaded.sha256.clone(), loaded.registry.clone());
                *cell = Some((key, std::sync::Arc::clone(&value)));
                value
            }
        }
    }
}
