//! SDK clients against moto: the environment every process needs, clients acting in an account
//! through AssumeRole, and a Lambda's role session as its environment.

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};

use crate::*;

/// `env` with its `AWS_ENDPOINT_URL` pointing at `endpoint` (a proxy in front of moto).
pub fn with_endpoint(env: Vec<(String, String)>, endpoint: &str) -> Vec<(String, String)> {
    env.into_iter()
        .map(|(k, v)| if k == "AWS_ENDPOINT_URL" { (k, endpoint.to_owned()) } else { (k, v) })
        .collect()
}

/// The variables every process talking to moto needs.
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
}

pub async fn clients(endpoint: &str) -> Clients {
    Clients::from_shared(&base_config(endpoint, REGION).await)
}

/// The adapters' clients (`breakglass_aws::Clients`) acting in `account` and `region` of moto at
/// `endpoint`, without touching the process environment.
pub async fn adapter_clients(endpoint: &str, account: &str, region: &str) -> breakglass_aws::Clients {
    let shared = account_config(endpoint, account, region).await;
    breakglass_aws::Clients::from_shared(shared, Default::default(), true)
}

pub(crate) async fn base_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// Clients that act in `account` (organisation mode: a logging account) in `region`, through the
/// SDK's assume-role provider as the adapters do: moto answers AssumeRole into another account's
/// role with credentials of that account.
pub async fn account_clients(endpoint: &str, account: &str, region: &str) -> Clients {
    Clients::from_shared(&account_config(endpoint, account, region).await)
}

/// A bucket of `account` in `region` (its location constraint set, as outside us-east-1), tagged
/// with `tags` when there are any; the S3 client that made it.
pub async fn account_bucket(
    endpoint: &str,
    account: &str,
    region: &str,
    name: &str,
    tags: &[(&str, &str)],
) -> aws_sdk_s3::Client {
    let s3 = account_clients(endpoint, account, region).await.s3;
    bucket_in(&s3, name, region, false).await;
    if !tags.is_empty() {
        let mut set = aws_sdk_s3::types::Tagging::builder();
        for (k, v) in tags {
            set = set.tag_set(aws_sdk_s3::types::Tag::builder().key(*k).value(*v).build().unwrap());
        }
        s3.put_bucket_tagging().bucket(name).tagging(set.build().unwrap()).send().await.unwrap();
    }
    s3
}

/// The SDK configuration that acts in `account` (through an assumed role, as on AWS), for the
/// clients [`Clients`] does not hold.
pub async fn account_config(endpoint: &str, account: &str, region: &str) -> aws_config::SdkConfig {
    let base = base_config(endpoint, region).await;
    let provider = assume(&base, &format!("arn:aws:iam::{account}:role/e2e-setup"), "e2e-setup").await;
    base.into_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(provider))
        .build()
}

pub(crate) async fn assume(
    base: &aws_config::SdkConfig,
    role: &str,
    session: &str,
) -> aws_config::sts::AssumeRoleProvider {
    aws_config::sts::AssumeRoleProvider::builder(role).session_name(session).configure(base).build().await
}

/// The environment of a Lambda function whose execution role is `role` (of any account): as Lambda
/// does, the role's session credentials in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`, so the function (or a person's CLI, as session `session`) acts in the role's
/// account.
pub async fn role_env(endpoint: &str, role: &str, session: &str) -> Vec<(String, String)> {
    use aws_sdk_s3::config::ProvideCredentials;
    let creds = assume(&base_config(endpoint, REGION).await, role, session)
        .await
        .provide_credentials()
        .await
        .unwrap();
    let mut env = aws_env(endpoint);
    for (k, v) in env.iter_mut() {
        match k.as_str() {
            "AWS_ACCESS_KEY_ID" => *v = creds.access_key_id().to_owned(),
            "AWS_SECRET_ACCESS_KEY" => *v = creds.secret_access_key().to_owned(),
            "AWS_SESSION_TOKEN" => *v = creds.session_token().unwrap_or_default().to_owned(),
            _ => {}
        }
    }
    env
}

impl Clients {
    fn from_shared(shared: &aws_config::SdkConfig) -> Clients {
        let s3 = aws_sdk_s3::config::Builder::from(shared).force_path_style(true).build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            sns: aws_sdk_sns::Client::new(shared),
            sqs: aws_sdk_sqs::Client::new(shared),
            events: aws_sdk_eventbridge::Client::new(shared),
            cloudformation: aws_sdk_cloudformation::Client::new(shared),
            iam: aws_sdk_iam::Client::new(shared),
            kms: aws_sdk_kms::Client::new(shared),
        }
    }
}

/// An organisational unit created under `parent`: its ID.
pub async fn create_ou(org: &aws_sdk_organizations::Client, parent: &str, name: &str) -> String {
    org.create_organizational_unit()
        .parent_id(parent)
        .name(name)
        .send()
        .await
        .unwrap()
        .organizational_unit
        .unwrap()
        .id
        .unwrap()
}

/// Accounts created in the organisation, one per name (`<name>@example.com`): their IDs, as moto
/// makes them up.
pub async fn create_accounts(org: &aws_sdk_organizations::Client, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names {
        let status = org
            .create_account()
            .account_name(*name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .unwrap()
            .create_account_status
            .unwrap();
        ids.push(status.account_id.unwrap());
    }
    ids
}

/// One receive from the queue at `url`: up to `max` messages, waiting up to `wait` seconds, with
/// their system attributes (`ApproximateReceiveCount`, as an event source mapping hands them on).
pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: i32,
    wait: i32,
) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .wait_time_seconds(wait)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

/// Deletes the message with the receipt `handle` from the queue at `url`.
pub async fn delete(sqs: &aws_sdk_sqs::Client, url: &str, handle: impl Into<String>) {
    sqs.delete_message().queue_url(url).receipt_handle(handle).send().await.unwrap();
}
