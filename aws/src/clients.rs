//! The SDK clients, built once per process from one shared configuration.

use aws_config::BehaviorVersion;

/// The SDK clients breakglass uses, built from one shared configuration: the function's (or the
/// operator's) own account and Region. Other accounts and Regions are reached through [`Accounts`].
#[derive(Debug, Clone)]
pub struct Clients {
    /// Path-style S3 addressing: set when an endpoint is given (moto), where bucket host names do
    /// not resolve.
    pub path_style: bool,
    /// The shared configuration, for clients only some binaries need (STS in the CLI).
    pub config: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    /// Credentials and region from the usual SDK environment; `endpoint` (or `AWS_ENDPOINT_URL`)
    /// overrides where requests go.
    pub async fn load(endpoint: Option<&str>) -> Clients {
        let from_env = match endpoint {
            Some(_) => None,
            None => breakglass_core::runtime::Settings::from_env().endpoint_url,
        };
        let endpoint = endpoint.or(from_env.as_deref());
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        // Path-style addressing: virtual-host names (`bucket.localhost`) do not resolve for a local
        // endpoint, and it works the same against AWS.
        let s3_config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(endpoint.is_some()).build();
        Clients {
            path_style: endpoint.is_some(),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sns: aws_sdk_sns::Client::new(&shared),
            eventbridge: aws_sdk_eventbridge::Client::new(&shared),
            iam: aws_sdk_iam::Client::new(&shared),
            kms: aws_sdk_kms::Client::new(&shared),
            cloudformation: aws_sdk_cloudformation::Client::new(&shared),
            sqs: aws_sdk_sqs::Client::new(&shared),
            config: shared,
        }
    }
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
