//! The operators' way in: a call to the gate's function URL (`AuthType: AWS_IAM`), signed with
//! SigV4 by the SDK's own signer, with the operator's own credentials. Lambda learns the caller
//! from the signature and hands it to the gate; the body says only what is asked.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use breakglass_core::ports::PortError;
use canonical_policies::Quoted;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::errors::error_chain;
use crate::responder::{https_client, HttpsClient, TlsSetupError};
use crate::Clients;

/// How long the gate may take to answer: its function's timeout (template.yaml, `Globals`) and a
/// cold start. The gate is not retried here: a request asked twice is two requests.
pub const GATE_ANSWER: Duration = Duration::from_secs(45);

/// Largest answer read from the gate.
const MAX_ANSWER: usize = 1 << 20;

/// The gate's answer: its HTTP status and its JSON body (`{"error": "…"}` when refused).
#[derive(Debug, Clone, PartialEq)]
pub struct GateAnswer {
    pub status: u16,
    pub body: Value,
}

/// Why the gate cannot be called at all.
#[derive(Debug, thiserror::Error)]
pub enum GateSetupError {
    #[error("invalid gate url {}: expected the stack's output `GateUrl`, `https://<id>.lambda-url.<region>.on.aws/`", Quoted(.0))]
    Url(String),
    #[error("no credentials to sign the call to the gate with (profile, environment or SSO)")]
    NoCredentials,
    #[error("no Region to sign the call to the gate for: set AWS_REGION or use the gate's own url")]
    NoRegion,
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// A client of the gate's function URL.
#[derive(Debug, Clone)]
pub struct GateClient {
    url: hyper::Uri,
    region: String,
    credentials: SharedCredentialsProvider,
    client: HttpsClient,
}

impl GateClient {
    /// The gate at `url`, called with the credentials of `clients` (the operator's), signed for
    /// the Region in the URL (`<id>.lambda-url.<region>.on.aws`), else the configured one.
    pub fn new(clients: &Clients, url: &str) -> Result<GateClient, GateSetupError> {
        let uri: hyper::Uri = url.parse().map_err(|_| GateSetupError::Url(url.to_owned()))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("https" | "http"));
        let Some(host) = uri.host().filter(|_| scheme_ok).map(str::to_owned) else {
            return Err(GateSetupError::Url(url.to_owned()));
        };
        let region = region_of(&host)
            .or_else(|| clients.config.region().map(|r| r.as_ref().to_owned()))
            .ok_or(GateSetupError::NoRegion)?;
        let credentials = clients.config.credentials_provider().ok_or(GateSetupError::NoCredentials)?;
        Ok(GateClient { url: uri, region, credentials, client: https_client(clients.timeouts)? })
    }

    /// POSTs `body` to the gate, signed; its answer, whatever the status. `Err` when the gate could
    /// not be reached or did not answer in time ([`GATE_ANSWER`]), or answered something not JSON.
    pub async fn call(&self, body: &Value) -> Result<GateAnswer, PortError> {
        let body = body.to_string();
        let request = self.signed(&body).await?;
        let host = self.url.host().unwrap_or_default().to_owned();
        let response = tokio::time::timeout(GATE_ANSWER, async {
            let response = self.client.request(request).await?;
            let status = response.status().as_u16();
            let bytes = http_body_util::Limited::new(response.into_body(), MAX_ANSWER).collect().await;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, bytes))
        })
        .await
        .map_err(|_| {
            PortError::Retryable(format!(
                "the gate at {} did not answer within {} s: check `breakglass history` before asking again",
                Quoted(&host),
                GATE_ANSWER.as_secs()
            ))
        })?
        .map_err(|e| PortError::Retryable(format!("the gate at {}: {}", Quoted(&host), error_chain(&*e))))?;
        let (status, bytes) = response;
        let bytes = bytes.map_err(|e| PortError::Retryable(format!("the gate's answer: {e}")))?.to_bytes();
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(body) => Ok(GateAnswer { status, body }),
            // Lambda's own refusals (a bad signature, a missing grant) and its 5xx are JSON too;
            // anything else is not the gate.
            Err(_) => Err(PortError::Retryable(format!(
                "the gate at {} answered http {status} with something not json: {}",
                Quoted(&host),
                Quoted(&String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>())
            ))),
        }
    }

    async fn signed(
        &self,
        body: &str,
    ) -> Result<hyper::Request<http_body_util::Full<bytes::Bytes>>, PortError> {
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            PortError::Refused(format!("no credentials to sign the call to the gate: {}", error_chain(&e)))
        })?;
        let identity = credentials.into();
        let host = match self.url.port_u16() {
            Some(port) => format!("{}:{port}", self.url.host().unwrap_or_default()),
            None => self.url.host().unwrap_or_default().to_owned(),
        };
        let mut request = hyper::Request::post(self.url.clone())
            .header("host", host)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(http_body_util::Full::new(bytes::Bytes::from(body.to_owned())))
            .map_err(|e| PortError::Refused(format!("invalid gate request: {e}")))?;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| PortError::Refused(format!("cannot sign the call to the gate: {e}")))?
            .into();
        let headers: Vec<(&str, &str)> =
            request.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))).collect();
        let signable = SignableRequest::new(
            "POST",
            self.url.to_string(),
            headers.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| PortError::Refused(format!("cannot sign the call to the gate: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| PortError::Refused(format!("cannot sign the call to the gate: {e}")))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// The Region of a function URL's host (`<id>.lambda-url.<region>.on.aws`).
fn region_of(host: &str) -> Option<String> {
    let rest = host.split_once(".lambda-url.")?.1;
    let region = rest.strip_suffix(".on.aws")?;
    (!region.is_empty() && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        .then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::region_of;

    #[test]
    fn the_region_of_a_function_url() {
        assert_eq!(
            region_of("abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-central-1.on.aws").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(region_of("127.0.0.1"), None);
        assert_eq!(region_of("x.lambda-url..on.aws"), None);
    }
}
