//! The KMS HMAC key (`HMAC_256`) that signs the audit records and seals the config: one place that
//! calls GenerateMac and VerifyMac. What a MAC covers is the caller's to say.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;
use breakglass_core::ports::PortError;

use crate::errors::{classify_error, code_of};

/// A KMS HMAC key by ID, ARN or alias.
#[derive(Debug, Clone)]
pub struct KmsMac {
    kms: aws_sdk_kms::Client,
    key: String,
}

impl KmsMac {
    pub fn new(kms: aws_sdk_kms::Client, key: impl Into<String>) -> KmsMac {
        KmsMac { kms, key: key.into() }
    }

    /// The MAC of `message`.
    pub async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PortError> {
        let out = self
            .kms
            .generate_mac()
            .key_id(&self.key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .send()
            .await
            .map_err(|e| classify_error("GenerateMac", e))?;
        out.mac
            .map(Blob::into_inner)
            .ok_or_else(|| PortError::Retryable("GenerateMac answered no MAC".into()))
    }

    /// Whether `mac` is this key's MAC of `message`; an error is KMS not answering.
    pub async fn verify(&self, message: &[u8], mac: Vec<u8>) -> Result<bool, PortError> {
        let verified = self
            .kms
            .verify_mac()
            .key_id(&self.key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(message))
            .mac(Blob::new(mac))
            .send()
            .await;
        match verified {
            Ok(out) => Ok(out.mac_valid),
            Err(e) if code_of(&e) == Some("KMSInvalidMacException") => Ok(false),
            Err(e) => Err(classify_error("VerifyMac", e)),
        }
    }
}
