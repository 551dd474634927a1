//! The registry of discovered buckets, an S3 object beside the config.

use breakglass_core::ports::{PortError, RegistryStore};

use crate::errors::{classify_error, code_of};

/// The registry of discovered buckets: `registry.json` beside the config object (organisation
/// mode), written only when it is still the version read (`If-Match`).
#[derive(Debug, Clone)]
pub struct S3Registry {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl S3Registry {
    pub fn new(client: aws_sdk_s3::Client, bucket: &str, key: &str) -> Self {
        S3Registry { client, bucket: bucket.to_owned(), key: key.to_owned() }
    }

    /// Beside the config object `config_key` (`breakglass.toml` → `registry.json`).
    pub fn key_beside(config_key: &str) -> String {
        match config_key.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{}", breakglass_core::guard::discovery::REGISTRY_FILE),
            None => breakglass_core::guard::discovery::REGISTRY_FILE.to_owned(),
        }
    }
}

impl RegistryStore for S3Registry {
    async fn load(&self) -> Result<Option<(String, String)>, PortError> {
        match self.client.get_object().bucket(&self.bucket).key(&self.key).send().await {
            Ok(out) => {
                let etag = out.e_tag.clone().unwrap_or_default();
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| PortError::Retryable(format!("GetObject `{}`: {e}", self.key)))?
                    .into_bytes();
                // Not utf-8: unreadable, which the caller reports (never replaced).
                Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), etag)))
            }
            Err(e) if code_of(&e) == Some("NoSuchKey") => Ok(None),
            Err(e) => Err(classify_error("GetObject", e)),
        }
    }

    async fn save(&self, text: &str, expected: Option<&str>) -> Result<bool, PortError> {
        let request =
            crate::clients::put_text(&self.client, &self.bucket, &self.key, "application/json", text);
        let request = match expected {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(false),
            Err(e) => Err(classify_error("PutObject", e)),
        }
    }
}
