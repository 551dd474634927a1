//! The answer to CloudFormation custom resources (HTTPS PUT to the pre-signed URL).

use breakglass_core::ports::PortError;
use breakglass_core::ports::Responder;

use crate::errors::error_chain;

/// Answers CloudFormation custom-resource requests: an HTTP PUT of the JSON body to the pre-signed
/// `ResponseURL`. No `Content-Type`: the URL's signature was made without one, and S3 rejects a PUT
/// whose headers differ from what was signed.
#[derive(Debug, Clone)]
pub struct HttpsResponder {
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        http_body_util::Full<bytes::Bytes>,
    >,
}

/// Why the HTTPS client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot load the system's tls root certificates: {0}")]
pub struct TlsSetupError(std::io::Error);

impl HttpsResponder {
    pub fn new() -> Result<Self, TlsSetupError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(TlsSetupError)?
            // Plain http only for tests with a local server; CloudFormation's URLs are https.
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Ok(HttpsResponder { client })
    }
}

impl Responder for HttpsResponder {
    async fn respond(&self, url: &str, body: &str) -> Result<(), PortError> {
        let request = hyper::Request::put(url)
            .header("content-length", body.len())
            .body(http_body_util::Full::new(bytes::Bytes::from(body.to_owned())))
            .map_err(|e| PortError::Refused(format!("invalid response url: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| PortError::Retryable(format!("PUT response url: {}", error_chain(&e))))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() {
            Err(PortError::Retryable(format!("PUT response url: http {status}")))
        } else {
            Err(PortError::Refused(format!("PUT response url: http {status}")))
        }
    }
}
