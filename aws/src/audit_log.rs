//! The audit trail in S3 with Object Lock, signed and verified with a KMS HMAC key. What counts as
//! tampering is decided in `breakglass_core::trail::tamper`; this adapter only lists and fetches.

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ObjectLockMode;
use breakglass_core::ports::{Appended, AuditLog};
use breakglass_core::ports::{AuditReader, PortError};
use breakglass_core::trail::tamper::{self, AuditRead, Fetched, Forgery, Step};

use crate::errors::{classify_error, code_of};
use crate::kms_mac::KmsMac;
use crate::Clients;

/// The audit trail in an S3 bucket with Object Lock: every record is written once, in compliance
/// mode, with a conditional put so that an existing key is never replaced.
///
/// With a MAC key ([`S3AuditLog::with_mac`]) every record carries a KMS HMAC of its bytes in its
/// metadata (`x-amz-meta-breakglass-mac`), and reading verifies it: only the notifier may make a
/// MAC (the key policy), so a record anyone else wrote, or changed, shows as forged.
#[derive(Debug, Clone)]
pub struct S3AuditLog {
    client: aws_sdk_s3::Client,
    bucket: String,
    mac: Option<KmsMac>,
}

/// The object metadata that carries a record's MAC (hex).
const MAC_METADATA: &str = "breakglass-mac";

impl S3AuditLog {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3AuditLog { client, bucket: bucket.into(), mac: None }
    }

    /// The trail `audit` names, signed and verified with its `mac_key` when it has one.
    pub fn for_config(clients: &Clients, audit: &breakglass_config::AuditConfig) -> Self {
        let log = S3AuditLog::new(clients.s3.clone(), &audit.bucket);
        match &audit.mac_key {
            Some(key) => log.with_mac(clients.kms.clone(), key),
            None => log,
        }
    }

    /// Signs on write and verifies on read with the KMS HMAC key `key_id` (ID, ARN or alias).
    pub fn with_mac(mut self, kms: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        self.mac = Some(KmsMac::new(kms, key_id));
        self
    }

    async fn sign(&self, body: &[u8]) -> Result<Option<String>, PortError> {
        let Some(mac) = &self.mac else { return Ok(None) };
        mac.sign(body).await.map(|m| Some(breakglass_core::trail::audit::hex(&m)))
    }

    /// `Some(forgery)` when the record's MAC is missing or wrong; `None` when it is the notifier's.
    async fn check(&self, body: &[u8], stored: Option<&str>) -> Result<Option<Forgery>, PortError> {
        let Some(mac) = &self.mac else { return Ok(None) };
        let Some(stored) = stored.and_then(tamper::parse_mac) else { return Ok(Some(Forgery::Unsigned)) };
        Ok((!mac.verify(body, stored).await?).then_some(Forgery::Mismatch))
    }

    /// A record's bytes (`version`, else the current one), its signature checked.
    async fn fetch(&self, key: &str, version: Option<&str>) -> Result<Fetched, PortError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version.map(str::to_owned))
            .send()
            .await;
        let object = match got {
            Ok(o) => o,
            Err(e) if matches!(code_of(&e), Some("NoSuchKey" | "NoSuchVersion")) => {
                return Ok(Fetched::Missing)
            }
            Err(e) => return Err(classify_error("GetObject", e)),
        };
        let mac = object.metadata.as_ref().and_then(|m| m.get(MAC_METADATA)).cloned();
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| PortError::Retryable(format!("GetObject `{key}`: {e}")))?
            .into_bytes()
            .to_vec();
        match self.check(&bytes, mac.as_deref()).await? {
            Some(forgery) => Ok(Fetched::Forged(forgery)),
            None => Ok(Fetched::Bytes(bytes)),
        }
    }

    /// Every record under `prefix`, in key order (= time order), read version by version as
    /// [`tamper::plan`] says: a record hidden behind a delete marker is still read, and a key with
    /// more than one version yields its *oldest* version, both with a warning.
    pub async fn read_all(&self, prefix: &str) -> Result<AuditRead, PortError> {
        let mut versions: Vec<(String, String)> = Vec::new();
        let mut hidden: Vec<String> = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| classify_error("ListObjectVersions", e))?;
            for v in page.versions.unwrap_or_default() {
                if let (Some(key), Some(id)) = (v.key, v.version_id) {
                    versions.push((key, id));
                }
            }
            hidden.extend(page.delete_markers.unwrap_or_default().into_iter().filter_map(|m| m.key));
            if page.is_truncated != Some(true) {
                break;
            }
            key_marker = page.next_key_marker;
            version_marker = page.next_version_id_marker;
            if key_marker.is_none() {
                break;
            }
        }
        let mut out = AuditRead::default();
        for step in tamper::plan(versions, hidden) {
            match step {
                Step::Warn(warning) => out.warnings.push(warning),
                Step::Read { key, version } => {
                    let fetched = self.fetch(&key, Some(&version)).await?;
                    out.take(key, &version, fetched);
                }
            }
        }
        Ok(out)
    }
}

impl AuditLog for S3AuditLog {
    async fn append(
        &self,
        key: &str,
        body: &str,
        retain_until: time::OffsetDateTime,
    ) -> Result<Appended, PortError> {
        let until = DateTime::from_secs(retain_until.unix_timestamp());
        let mac = self.sign(body.as_bytes()).await?;
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .set_metadata(mac.map(|m| std::collections::HashMap::from([(MAC_METADATA.to_owned(), m)])))
            .content_type("application/json")
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .if_none_match("*")
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(until)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Appended::Written),
            // The key is the hash of the content: the record is already there, as it should be.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
                Ok(Appended::AlreadyThere)
            }
            Err(e) => Err(classify_error("PutObject", e)),
        }
    }
}

impl AuditReader for S3AuditLog {
    async fn keys(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<String>, PortError> {
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_error("ListObjectsV2", e))?;
        Ok(pages.into_iter().flat_map(|p| p.contents.unwrap_or_default()).filter_map(|o| o.key).collect())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        match self.fetch(key, None).await? {
            Fetched::Bytes(bytes) => Ok(String::from_utf8(bytes).ok()),
            Fetched::Forged(forgery) => {
                tracing::error!(key, "{}", forgery.warning(key));
                Ok(None)
            }
            Fetched::Missing => Ok(None),
        }
    }
}
