//! The gate's seal on the config object with the records' KMS HMAC key: made when the gate (or the
//! deployment, for the first config) writes the object, checked by every function before it adopts
//! one. What is sealed is `breakglass_core::runtime::seal`'s to say; this adapter only calls KMS.

use breakglass_core::runtime::seal::{parse_seal, seal_message};
use breakglass_core::trail::audit::hex;

use crate::kms_mac::KmsMac;

/// The records' HMAC key (`BREAKGLASS_RECORD_KEY`: an ID, ARN or alias), as the config's seal.
#[derive(Debug, Clone)]
pub struct ConfigSeal(KmsMac);

/// What the seal on an object says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Sealed,
    /// Not the gate's: why, in a few words.
    Refused(&'static str),
}

impl ConfigSeal {
    pub fn new(kms: aws_sdk_kms::Client, key: impl Into<String>) -> ConfigSeal {
        ConfigSeal(KmsMac::new(kms, key))
    }

    /// The seal of `text`, hex, for the object's metadata.
    pub async fn seal(&self, text: &str) -> Result<String, String> {
        self.0.sign(&seal_message(text)).await.map(|m| hex(&m)).map_err(|e| e.to_string())
    }

    /// Whether `stored` (the metadata's seal, if any) seals `text`. An error is KMS not answering:
    /// the caller keeps what it has in force.
    pub async fn check(&self, text: &str, stored: Option<&str>) -> Result<Checked, String> {
        let Some(stored) = stored else { return Ok(Checked::Refused("no seal")) };
        let Some(mac) = parse_seal(stored) else { return Ok(Checked::Refused("a malformed seal")) };
        match self.0.verify(&seal_message(text), mac).await.map_err(|e| e.to_string())? {
            true => Ok(Checked::Sealed),
            false => Ok(Checked::Refused("a seal that does not verify")),
        }
    }
}
