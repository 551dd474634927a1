//! The SDK clients, built once per process from one shared configuration.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use breakglass_core::runtime::{Settings, SetupError, Timeouts};

/// Attempts per operation, the first included: the SDK's standard retries (backoff with jitter,
/// throttling and transient errors), bounded by the operation timeout whatever the count.
pub const MAX_ATTEMPTS: u32 = 3;

/// The SDK clients breakglass uses, built from one shared configuration: the function's (or the
/// operator's) own account and Region. Other accounts and Regions are reached through [`Accounts`].
#[derive(Debug, Clone)]
pub struct Clients {
    /// Path-style S3 addressing: set when an endpoint is given (moto), where bucket host names do
    /// not resolve.
    pub path_style: bool,
    /// The shared configuration, for clients only some binaries need (STS in the CLI).
    pub config: aws_config::SdkConfig,
    /// The bounds every client here has, for the HTTP clients built beside them (the catalog's
    /// custom-resource answer).
    pub timeouts: Timeouts,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    /// Credentials and region from the usual SDK environment; `endpoint` (or `AWS_ENDPOINT_URL`)
    /// overrides where requests go. Every client, and every one [`crate::Accounts`] derives from
    /// this configuration, has the timeouts of the settings and the SDK's standard retries; an
    /// invalid timeout variable is the error.
    pub async fn load(endpoint: Option<&str>) -> Result<Clients, SetupError> {
        let settings = Settings::from_env();
        let timeouts = settings.timeouts?;
        let endpoint = endpoint.or(settings.endpoint_url.as_deref());
        // Named once, here, rather than by every request that could not be sent.
        if let Some(url) = endpoint.filter(|u| !is_endpoint(u)) {
            return Err(SetupError::Endpoint(url.to_owned()));
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeout_config(&timeouts))
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        if shared.region().is_none() {
            return Err(SetupError::NoRegion);
        }
        crate::errors::reached(endpoint, shared.region().map(|r| r.as_ref()));
        Ok(Clients::from_shared(shared, timeouts, endpoint.is_some()))
    }

    /// The clients of an SDK configuration made elsewhere (tests: fixed credentials, no
    /// environment). `path_style`: for a local endpoint, whose virtual-host names
    /// (`bucket.localhost`) do not resolve; it works the same against AWS.
    pub fn from_shared(shared: aws_config::SdkConfig, timeouts: Timeouts, path_style: bool) -> Clients {
        let s3_config = aws_sdk_s3::config::Builder::from(&shared).force_path_style(path_style).build();
        Clients {
            path_style,
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sns: aws_sdk_sns::Client::new(&shared),
            eventbridge: aws_sdk_eventbridge::Client::new(&shared),
            iam: aws_sdk_iam::Client::new(&shared),
            kms: aws_sdk_kms::Client::new(&shared),
            sqs: aws_sdk_sqs::Client::new(&shared),
            config: shared,
            timeouts,
        }
    }
}

impl Clients {
    /// CloudFormation, for the catalog's provenance check only: built on demand, so that the other
    /// functions do not carry its client (each client is its own code in the zip).
    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }
}

/// An endpoint URL the SDK can send to: `http` or `https`, a host, and a port only as a number
/// (parsed as hyper parses it, which takes `host:port` and leaves the port out).
fn is_endpoint(url: &str) -> bool {
    let Ok(uri) = url.parse::<hyper::Uri>() else { return false };
    let Some(authority) = uri.authority() else { return false };
    let port_ok = authority.as_str() == authority.host() || authority.port().is_some();
    matches!(uri.scheme_str(), Some("http" | "https")) && !authority.host().is_empty() && port_ok
}

/// The SDK's form of [`Timeouts`]: reading the answer is bounded like the attempt, so that a
/// connection that stays silent ends as a read timeout naming itself.
fn timeout_config(t: &Timeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(t.connect)
        .read_timeout(t.attempt)
        .operation_attempt_timeout(t.attempt)
        .operation_timeout(t.operation)
        .build()
}

/// A text object's write, ready for its conditions: the config (`breakglass config push`) and the
/// discovery registry are both small text objects written whole.
pub(crate) fn put_text(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content_type: &str,
    text: &str,
) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
    let body = aws_sdk_s3::primitives::ByteStream::from(text.as_bytes().to_vec());
    client.put_object().bucket(bucket).key(key).content_type(content_type).body(body)
}

#[cfg(test)]
mod tests {
    use super::is_endpoint;

    #[test]
    fn endpoints_are_http_urls_with_a_host() {
        for good in [
            "http://127.0.0.1:5000",
            "https://s3.eu-central-1.amazonaws.com",
            "http://localhost/",
            "http://[::1]:80",
        ] {
            assert!(is_endpoint(good), "{good}");
        }
        for bad in ["not a url", "", "ftp://x", "http://", "http://:80", "http://host:port", "http://a b"] {
            assert!(!is_endpoint(bad), "{bad}");
        }
    }
}
