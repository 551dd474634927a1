//! The answer to CloudFormation custom resources (HTTPS PUT to the pre-signed URL).

use breakglass_core::ports::PortError;
use breakglass_core::ports::Responder;
use breakglass_core::runtime::Timeouts;
use canonical_policies::Quoted;

use crate::errors::error_chain;

/// The HTTPS client of the calls that are not an SDK's: the same rustls and hyper the SDK uses.
pub(crate) type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// Answers CloudFormation custom-resource requests: an HTTP PUT of the JSON body to the pre-signed
/// `ResponseURL`. No `Content-Type`: the URL's signature was made without one, and S3 rejects a PUT
/// whose headers differ from what was signed.
#[derive(Debug, Clone)]
pub struct HttpsResponder {
    client: HttpsClient,
    timeouts: Timeouts,
}

/// Why the HTTPS client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot load the system's tls root certificates: {0}")]
pub struct TlsSetupError(std::io::Error);

/// An HTTPS client that connects within `timeouts.connect`; plain http only for tests with a local
/// server (AWS's URLs are https).
pub(crate) fn https_client(timeouts: Timeouts) -> Result<HttpsClient, TlsSetupError> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_connect_timeout(Some(timeouts.connect));
    // The connector only takes http(s) URLs when told so; the TLS layer above checks the scheme.
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(TlsSetupError)?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

impl HttpsResponder {
    /// Bounded like the SDK clients: `timeouts.connect` to connect, `timeouts.operation` in all.
    pub fn new(timeouts: Timeouts) -> Result<Self, TlsSetupError> {
        Ok(HttpsResponder { client: https_client(timeouts)?, timeouts })
    }
}

impl Responder for HttpsResponder {
    async fn respond(&self, url: &str, body: &str) -> Result<(), PortError> {
        let request = hyper::Request::put(url)
            .header("content-length", body.len())
            .body(http_body_util::Full::new(bytes::Bytes::from(body.to_owned())))
            .map_err(|e| PortError::Refused(format!("invalid response url: {e}")))?;
        let host = request.uri().authority().map_or_else(String::new, ToString::to_string);
        let limit = self.timeouts.operation;
        let response = tokio::time::timeout(limit, self.client.request(request))
            .await
            .map_err(|_| {
                PortError::Retryable(format!(
                    "PUT response url: timed out: no answer from {} within {} s",
                    Quoted(&host),
                    limit.as_secs()
                ))
            })?
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
