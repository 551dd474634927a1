//! The config object itself, as the gate and `breakglass config` write and read it: sealed
//! writes, conditional on the version read; reads of the config in force (the newest sealed
//! version). The functions' reading of it is [`crate::ConfigSource`].

use breakglass_core::runtime::seal::SEAL_METADATA;

use crate::config_seal::{Checked, ConfigSeal};
use crate::config_source::{fetch, newest_sealed, Fetched, WRITER_METADATA};
use crate::Clients;

/// The config object itself: the gate writes it once two people agreed; `breakglass config push`
/// reads it to show the difference; the deployment writes the first (`breakglass config seed`).
#[derive(Debug, Clone)]
pub struct ConfigObject {
    client: aws_sdk_s3::Client,
    pub bucket: String,
    pub key: String,
    /// The seal every write carries (and every read checks), and the writer it names: without a
    /// writer, a write is refused.
    seal: Option<(ConfigSeal, Option<String>)>,
}

impl ConfigObject {
    /// The object, for reading.
    pub fn new(clients: &Clients, bucket: &str, key: &str) -> ConfigObject {
        ConfigObject {
            client: clients.s3.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            seal: None,
        }
    }

    /// The object, for writing by `writer` (`gate`, `deployment`), sealed with the records' `key`.
    pub fn sealed(
        clients: &Clients,
        bucket: &str,
        key: &str,
        record_key: &str,
        writer: &str,
    ) -> ConfigObject {
        let seal = Some((ConfigSeal::new(clients.kms.clone(), record_key), Some(writer.to_owned())));
        ConfigObject { seal, ..ConfigObject::new(clients, bucket, key) }
    }

    /// The object, for reading the config in force as the functions see it (the newest version
    /// the records' `key` sealed): what `config push` diffs against. Never written through.
    pub fn checked(clients: &Clients, bucket: &str, key: &str, record_key: &str) -> ConfigObject {
        let seal = Some((ConfigSeal::new(clients.kms.clone(), record_key), None));
        ConfigObject { seal, ..ConfigObject::new(clients, bucket, key) }
    }

    /// The text in force and the ETag of the object's current version, or `None` when there is no
    /// object yet. For a writer (the gate), the text in force is the newest *sealed* version, as
    /// the functions adopt it: a proposal made while a version written past the gate is current is
    /// diffed against the config that governs, never against the forged text, and the write still
    /// replaces the current version (its ETag).
    pub async fn get(&self) -> Result<Option<(String, Option<String>)>, String> {
        // The same read as the functions' (no ETag: a 304 cannot come back).
        let o = match fetch(&self.client, &self.bucket, &self.key, None).await? {
            Fetched::New(o) => o,
            Fetched::Missing | Fetched::Unchanged => return Ok(None),
        };
        let Some((seal, _)) = &self.seal else { return Ok(Some((o.text, o.etag))) };
        match seal.check(&o.text, o.seal.as_deref()).await? {
            Checked::Sealed => Ok(Some((o.text, o.etag))),
            Checked::Refused(_) => {
                let text =
                    newest_sealed(&self.client, seal, &self.bucket, &self.key, o.version.as_deref()).await?;
                Ok(Some((text, o.etag)))
            }
        }
    }

    /// Writes `text`; refused if the object is not (any more) the one read: `expected` is the ETag
    /// read before (`None`: there must be no object yet).
    pub async fn put(&self, text: &str, expected: Option<&str>) -> Result<(), String> {
        // Unsealed, the functions would refuse it: never written.
        let Some((seal, Some(writer))) = &self.seal else {
            return Err("no seal: only the gate (and the deployment's first config) write the config".into());
        };
        let current = match fetch(&self.client, &self.bucket, &self.key, None).await? {
            Fetched::New(o) => o.etag,
            Fetched::Missing | Fetched::Unchanged => None,
        };
        if current.as_deref() != expected {
            return Err("the config object changed since it was read; run the push again".into());
        }
        let sealed = seal.seal(text).await?;
        let mut request =
            crate::clients::put_text(&self.client, &self.bucket, &self.key, "application/toml", text)
                .metadata(SEAL_METADATA, sealed)
                .metadata(WRITER_METADATA, writer);
        // Conditional on S3's side too: a write between the check above and this one loses.
        request = match expected {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            // The SDK tries a write again when its answer was lost; if the first try landed, the
            // retry's condition no longer holds (412). Written, then, when the object is this text:
            // otherwise the gate would report a config in force as not written, and not announce it.
            Err(e) if crate::errors::code_of(&e) == Some("PreconditionFailed") => match self.get().await {
                Ok(Some((now, _))) if now == text => Ok(()),
                _ => Err(crate::errors::classify_error("PutObject", e).to_string()),
            },
            Err(e) => Err(crate::errors::classify_error("PutObject", e).to_string()),
        }
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
