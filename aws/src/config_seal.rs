//! The gate's seal on the config object with the records' KMS HMAC key: made when the gate (or the
//! deployment, for the first config) writes the object, checked by every function before it adopts
//! one. What is sealed is `breakglass_core::runtime::seal`'s to say; this adapter only calls KMS.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MacAlgorithmSpec;
use breakglass_core::runtime::seal::{parse_seal, seal_message};
use breakglass_core::trail::audit::hex;

use crate::errors::{classify_error, code_of};

/// The records' HMAC key (`BREAKGLASS_RECORD_KEY`: an ID, ARN or alias), as the config's seal.
#[derive(Debug, Clone)]
pub struct ConfigSeal {
    kms: aws_sdk_kms::Client,
    key: String,
}

/// What the seal on an object says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Sealed,
    /// Not the gate's: why, in a few words.
    Refused(&'static str),
}

impl ConfigSeal {
    pub fn new(kms: aws_sdk_kms::Client, key: impl Into<String>) -> ConfigSeal {
        ConfigSeal { kms, key: key.into() }
    }

    /// The seal of `text`, hex, for the object's metadata.
    pub async fn seal(&self, text: &str) -> Result<String, String> {
        let out = self
            .kms
            .generate_mac()
            .key_id(&self.key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(seal_message(text)))
            .send()
            .await
            .map_err(|e| classify_error("GenerateMac", e).to_string())?;
        out.mac.map(|m| hex(m.as_ref())).ok_or_else(|| "GenerateMac answered no MAC".to_owned())
    }

    /// Whether `stored` (the metadata's seal, if any) seals `text`. An error is KMS not answering:
    /// the caller keeps what it has in force.
    pub async fn check(&self, text: &str, stored: Option<&str>) -> Result<Checked, String> {
        let Some(stored) = stored else { return Ok(Checked::Refused("no seal")) };
        let Some(mac) = parse_seal(stored) else { return Ok(Checked::Refused("a malformed seal")) };
        let verified = self
            .kms
            .verify_mac()
            .key_id(&self.key)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(seal_message(text)))
            .mac(Blob::new(mac))
            .send()
            .await;
        match verified {
            Ok(out) if out.mac_valid => Ok(Checked::Sealed),
            Ok(_) => Ok(Checked::Refused("a seal that does not verify")),
            Err(e) if code_of(&e) == Some("KMSInvalidMacException") => {
                Ok(Checked::Refused("a seal that does not verify"))
            }
            Err(e) => Err(classify_error("VerifyMac", e).to_string()),
        }
    }
}
