//! # breakglass-aws
//!
//! The ports of `breakglass-core`, implemented with the AWS SDK for Rust: bucket policies and
//! public-access blocks (S3), the audit trail (S3 with Object Lock), notifications (SNS),
//! breakglass's own events (EventBridge), and the answer to CloudFormation custom resources (HTTPS).
//! Clients are built once per process ([`Clients::load`]); `AWS_ENDPOINT_URL` or an explicit endpoint
//! points them at moto in tests.

mod config_source;

pub use config_source::{organisation_members, ConfigObject, ConfigSource, Members};

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{ObjectLockMode, PublicAccessBlockConfiguration};
use aws_sdk_sns::types::MessageAttributeValue;
use breakglass_core::events::BusEvent;
use breakglass_core::ports::Responder;
use breakglass_core::ports::{Appended, AuditLog};
use breakglass_core::ports::{
    AuditReader, BucketSettings, ControlPlane, EventBus, LifecycleRule, Notification, PolicyStore, PortError,
    Provenance, Provisioning, Publisher, Subscription, SweepQueue,
};
use breakglass_core::ports::{Directory, RegistryStore};

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
        let from_env = std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty());
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

/// How breakglass reaches the accounts that hold the buckets: the one place that knows about
/// accounts, Regions and credentials.
///
/// Single-account mode ([`Accounts::own`]): every bucket is in the function's own account, reached
/// with its own credentials. Organisation mode ([`Accounts::organisation`]): each logging account is
/// reached through its member role, with a session name that names the caller. Clients per (account,
/// Region) are built on first use and kept; all Regions of an account share one assume-role
/// credentials provider behind the SDK's identity cache, so AssumeRole is called once per account
/// and credential lifetime, not once per event or Region.
#[derive(Debug)]
pub struct Accounts {
    own: aws_config::SdkConfig,
    path_style: bool,
    member: Option<MemberRole>,
    credentials: std::sync::Mutex<std::collections::HashMap<String, aws_config::SdkConfig>>,
    s3: std::sync::Mutex<std::collections::HashMap<(String, String), aws_sdk_s3::Client>>,
    iam: std::sync::Mutex<std::collections::HashMap<String, aws_sdk_iam::Client>>,
}

/// The role breakglass assumes in every logging account (organisation mode).
#[derive(Debug, Clone)]
struct MemberRole {
    name: String,
    partition: String,
    session: String,
}

/// An IAM role session name: 2-64 of `\w+=,.@-`; anything else becomes `-`.
pub fn session_name(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "+=,.@_-".contains(c) { c } else { '-' })
        .take(64)
        .collect();
    while out.len() < 2 {
        out.push('-');
    }
    out
}

impl Accounts {
    /// Single-account mode: the own credentials everywhere.
    pub fn own(clients: &Clients) -> std::sync::Arc<Accounts> {
        std::sync::Arc::new(Accounts::with(clients, None))
    }

    /// Organisation mode: `org`'s member role in every account, as session `session` (the caller:
    /// `breakglass-enforcer`, `breakglass-catalog`, `breakglass-operator-alice`).
    pub fn organisation(
        clients: &Clients,
        org: &breakglass_config::Organisation,
        partition: &str,
        session: &str,
    ) -> std::sync::Arc<Accounts> {
        let member = MemberRole {
            name: org.member_role.clone(),
            partition: partition.to_owned(),
            session: session_name(session),
        };
        std::sync::Arc::new(Accounts::with(clients, Some(member)))
    }

    /// As the config says: organisation mode when it has `[organisation]`.
    pub fn for_config(
        clients: &Clients,
        config: &breakglass_config::Config,
        session: &str,
    ) -> std::sync::Arc<Accounts> {
        match &config.organisation {
            Some(org) => {
                let partition = config.buckets.first().map_or("aws", |b| b.partition.as_str());
                Accounts::organisation(clients, org, partition, session)
            }
            None => Accounts::own(clients),
        }
    }

    fn with(clients: &Clients, member: Option<MemberRole>) -> Accounts {
        Accounts {
            own: clients.config.clone(),
            path_style: clients.path_style,
            member,
            credentials: Default::default(),
            s3: Default::default(),
            iam: Default::default(),
        }
    }

    /// The SDK configuration that acts in `account`: the own one, or the member role's there.
    async fn config_for(&self, account: &str) -> Result<aws_config::SdkConfig, PortError> {
        let Some(member) = &self.member else { return Ok(self.own.clone()) };
        if let Some(c) = lock(&self.credentials)?.get(account) {
            return Ok(c.clone());
        }
        // Building the provider makes no call; the first request assumes the role, and the identity
        // cache keeps the credentials until shortly before they expire.
        let role = format!("arn:{}:iam::{account}:role/{}", member.partition, member.name);
        let provider = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name(&member.session)
            .configure(&self.own)
            .build()
            .await;
        let built = self
            .own
            .to_builder()
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(provider))
            .build();
        // Another task may have built one meanwhile: keep the first, so that there is one provider
        // (one cache partition, one AssumeRole) per account.
        Ok(lock(&self.credentials)?.entry(account.to_owned()).or_insert(built).clone())
    }

    /// The S3 client for `account` in `region` (`None`: the own Region).
    pub async fn s3(&self, account: &str, region: Option<&str>) -> Result<aws_sdk_s3::Client, PortError> {
        let region = region.map(str::to_owned).or_else(|| self.own.region().map(ToString::to_string));
        let key = (account.to_owned(), region.clone().unwrap_or_default());
        if let Some(c) = lock(&self.s3)?.get(&key) {
            return Ok(c.clone());
        }
        let config = self.config_for(account).await?;
        let mut builder = aws_sdk_s3::config::Builder::from(&config).force_path_style(self.path_style);
        if let Some(r) = region {
            builder = builder.region(aws_config::Region::new(r));
        }
        let client = aws_sdk_s3::Client::from_conf(builder.build());
        Ok(lock(&self.s3)?.entry(key).or_insert(client).clone())
    }

    /// The IAM client for `account` (IAM is global: no Region).
    pub async fn iam(&self, account: &str) -> Result<aws_sdk_iam::Client, PortError> {
        if let Some(c) = lock(&self.iam)?.get(account) {
            return Ok(c.clone());
        }
        let client = aws_sdk_iam::Client::new(&self.config_for(account).await?);
        Ok(lock(&self.iam)?.entry(account.to_owned()).or_insert(client).clone())
    }
}

/// A poisoned lock means a thread panicked while holding it; report it rather than panic again.
fn lock<T>(m: &std::sync::Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, PortError> {
    m.lock().map_err(|_| PortError::Retryable("client cache lock poisoned".into()))
}

/// Error codes AWS uses for throttling; anything else in 4xx is a refusal.
const THROTTLING: [&str; 6] = [
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
];

/// Sorts an SDK error into retryable (throttling, 5xx, transport) and refused (everything else).
fn classify_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("unknown");
            let text = format!("{operation}: {code}: {}", e.message().unwrap_or("no message"));
            if THROTTLING.contains(&code) || service.raw().status().is_server_error() {
                PortError::Retryable(text)
            } else {
                PortError::Refused(text)
            }
        }
        // Timeouts, connection failures, unreadable responses: worth another try.
        _ => PortError::Retryable(format!("{operation}: {}", error_chain(&err))),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Bucket policies and settings through S3, each call in the bucket's own account and Region with
/// `ExpectedBucketOwner` set ([`S3Store::routed`]), so that a bucket deleted and re-created under
/// the same name by another account is never read or written.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    routing: Option<Routing>,
}

#[derive(Debug, Clone)]
struct Routing {
    accounts: std::sync::Arc<Accounts>,
    /// bucket → (owning account, Region).
    buckets: std::sync::Arc<std::collections::HashMap<String, (String, Option<String>)>>,
    /// Organisation mode: a bucket that is not in the config has no account to act in.
    strict: bool,
}

impl S3Store {
    /// One client for every bucket, no owner check (tests and tools).
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Store { client, routing: None }
    }

    /// Every configured bucket in its own account and Region, through `accounts`.
    pub fn routed(
        clients: &Clients,
        accounts: std::sync::Arc<Accounts>,
        config: &breakglass_config::Config,
    ) -> Self {
        let buckets =
            config.buckets.iter().map(|b| (b.name.clone(), (b.account.clone(), b.region.clone()))).collect();
        S3Store {
            client: clients.s3.clone(),
            routing: Some(Routing {
                accounts,
                buckets: std::sync::Arc::new(buckets),
                strict: config.organisation.is_some(),
            }),
        }
    }

    /// The client that acts on `bucket`, and the owner to expect.
    async fn at(&self, bucket: &str) -> Result<(aws_sdk_s3::Client, Option<String>), PortError> {
        let Some(routing) = &self.routing else { return Ok((self.client.clone(), None)) };
        match routing.buckets.get(bucket) {
            Some((account, region)) => {
                let client = routing.accounts.s3(account, region.as_deref()).await?;
                Ok((client, Some(account.clone())))
            }
            None if routing.strict => Err(PortError::Refused(format!(
                "bucket `{bucket}` is not in the config: no account to act in"
            ))),
            None => Ok((self.client.clone(), None)),
        }
    }
}

impl PolicyStore for S3Store {
    async fn get_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        let (client, owner) = self.at(bucket).await?;
        match client.get_bucket_policy().bucket(bucket).set_expected_bucket_owner(owner).send().await {
            Ok(out) => Ok(out.policy),
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(classify_error("GetBucketPolicy", e)),
        }
    }

    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        let (client, owner) = self.at(bucket).await?;
        client
            .put_bucket_policy()
            .bucket(bucket)
            .set_expected_bucket_owner(owner)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_error("PutBucketPolicy", e))
    }

    async fn block_public_access(&self, bucket: &str) -> Result<(), PortError> {
        let (client, owner) = self.at(bucket).await?;
        let all_on = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        client
            .put_public_access_block()
            .bucket(bucket)
            .set_expected_bucket_owner(owner)
            .public_access_block_configuration(all_on)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_error("PutPublicAccessBlock", e))
    }
}

/// The body of a response the SDK could not deserialize. moto (the local AWS of the tests) names the
/// root element of some S3 answers after the operation (`GetBucketVersioningResponse`) where S3 says
/// `VersioningConfiguration`; the SDK rejects the root, the elements inside are the same. For the
/// three settings the sentinel reads, the adapter then reads those elements itself.
fn unparsed_body<E>(e: &SdkError<E, HttpResponse>) -> Option<String> {
    let raw = e.raw_response().filter(|r| r.status().is_success())?;
    raw.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// The text of every `<tag>…</tag>` in `xml`, in order (no nesting of the same tag in the answers
/// read this way).
fn xml_all<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some((_, after)) = rest.split_once(open.as_str()) {
        let Some((inner, tail)) = after.split_once(close.as_str()) else { break };
        out.push(inner);
        rest = tail;
    }
    out
}

fn xml_first<'x>(xml: &'x str, tag: &str) -> Option<&'x str> {
    xml_all(xml, tag).into_iter().next()
}

fn lifecycle_from_xml(xml: &str) -> Vec<LifecycleRule> {
    xml_all(xml, "Rule")
        .into_iter()
        .map(|r| LifecycleRule {
            id: xml_first(r, "ID").map(str::to_owned),
            enabled: xml_first(r, "Status") == Some("Enabled"),
            expiration_days: xml_first(r, "Expiration")
                .and_then(|x| xml_first(x, "Days"))
                .and_then(|d| d.parse().ok()),
            expiration_date: xml_first(r, "Expiration").and_then(|x| xml_first(x, "Date")).map(str::to_owned),
            noncurrent_days: xml_first(r, "NoncurrentVersionExpiration")
                .and_then(|x| xml_first(x, "NoncurrentDays"))
                .and_then(|d| d.parse().ok()),
        })
        .collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 || s.is_empty() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

/// The service error code of an SDK error, if it is one.
fn code_of<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Option<&str> {
    e.as_service_error().and_then(|s| s.code())
}

impl BucketSettings for S3Store {
    async fn get_versioning(&self, bucket: &str) -> Result<Option<String>, PortError> {
        let (client, owner) = self.at(bucket).await?;
        match client.get_bucket_versioning().bucket(bucket).set_expected_bucket_owner(owner).send().await {
            Ok(out) => Ok(out.status.map(|s| s.as_str().to_owned())),
            Err(e) => match unparsed_body(&e) {
                Some(xml) => Ok(xml_first(&xml, "Status").map(str::to_owned)),
                None => Err(classify_error("GetBucketVersioning", e)),
            },
        }
    }

    async fn enable_versioning(&self, bucket: &str) -> Result<(), PortError> {
        let (client, owner) = self.at(bucket).await?;
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
        client
            .put_bucket_versioning()
            .bucket(bucket)
            .set_expected_bucket_owner(owner)
            .versioning_configuration(on)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_error("PutBucketVersioning", e))
    }

    async fn get_lifecycle(&self, bucket: &str) -> Result<Vec<LifecycleRule>, PortError> {
        let (client, owner) = self.at(bucket).await?;
        let out = match client
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .set_expected_bucket_owner(owner)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if code_of(&e) == Some("NoSuchLifecycleConfiguration") => return Ok(Vec::new()),
            Err(e) => match unparsed_body(&e) {
                Some(xml) => return Ok(lifecycle_from_xml(&xml)),
                None => return Err(classify_error("GetBucketLifecycleConfiguration", e)),
            },
        };
        Ok(out
            .rules
            .unwrap_or_default()
            .into_iter()
            .map(|r| LifecycleRule {
                id: r.id,
                enabled: r.status.as_str() == "Enabled",
                expiration_days: r.expiration.as_ref().and_then(|x| x.days),
                expiration_date: r.expiration.as_ref().and_then(|x| x.date).map(|d| d.to_string()),
                noncurrent_days: r.noncurrent_version_expiration.and_then(|n| n.noncurrent_days),
            })
            .collect())
    }

    async fn delete_lifecycle(&self, bucket: &str) -> Result<(), PortError> {
        let (client, owner) = self.at(bucket).await?;
        client
            .delete_bucket_lifecycle()
            .bucket(bucket)
            .set_expected_bucket_owner(owner)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_error("DeleteBucketLifecycle", e))
    }

    async fn get_replication(&self, bucket: &str) -> Result<Vec<String>, PortError> {
        let (client, owner) = self.at(bucket).await?;
        match client.get_bucket_replication().bucket(bucket).set_expected_bucket_owner(owner).send().await {
            Ok(out) => Ok(out
                .replication_configuration
                .map(|c| c.rules.into_iter().filter_map(|r| r.destination.map(|d| d.bucket)).collect())
                .unwrap_or_default()),
            Err(e) if code_of(&e) == Some("ReplicationConfigurationNotFoundError") => Ok(Vec::new()),
            Err(e) => match unparsed_body(&e) {
                Some(xml) => Ok(xml_all(&xml, "Destination")
                    .into_iter()
                    .filter_map(|d| xml_first(d, "Bucket"))
                    .map(str::to_owned)
                    .collect()),
                None => Err(classify_error("GetBucketReplication", e)),
            },
        }
    }

    async fn delete_replication(&self, bucket: &str) -> Result<(), PortError> {
        let (client, owner) = self.at(bucket).await?;
        client
            .delete_bucket_replication()
            .bucket(bucket)
            .set_expected_bucket_owner(owner)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_error("DeleteBucketReplication", e))
    }

    async fn enforce_ownership(&self, bucket: &str) -> Result<(), PortError> {
        let (client, owner) = self.at(bucket).await?;
        use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
        let invalid =
            |e: aws_sdk_s3::error::BuildError| PortError::Refused(format!("PutBucketOwnershipControls: {e}"));
        let rule = OwnershipControlsRule::builder()
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .build()
            .map_err(invalid)?;
        let controls = OwnershipControls::builder().rules(rule).build().map_err(invalid)?;
        client
            .put_bucket_ownership_controls()
            .bucket(bucket)
            .set_expected_bucket_owner(owner)
            .ownership_controls(controls)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_error("PutBucketOwnershipControls", e))
    }

    async fn get_tags(&self, bucket: &str) -> Result<Vec<(String, String)>, PortError> {
        let (client, owner) = self.at(bucket).await?;
        match client.get_bucket_tagging().bucket(bucket).set_expected_bucket_owner(owner).send().await {
            Ok(out) => Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
            Err(e) if code_of(&e) == Some("NoSuchTagSet") => Ok(Vec::new()),
            Err(e) => Err(classify_error("GetBucketTagging", e)),
        }
    }

    async fn put_tags(&self, bucket: &str, tags: &[(String, String)]) -> Result<(), PortError> {
        let (client, owner) = self.at(bucket).await?;
        use aws_sdk_s3::types::{Tag, Tagging};
        let invalid = |e: aws_sdk_s3::error::BuildError| PortError::Refused(format!("PutBucketTagging: {e}"));
        let set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let tagging = Tagging::builder().set_tag_set(Some(set)).build().map_err(invalid)?;
        client
            .put_bucket_tagging()
            .bucket(bucket)
            .set_expected_bucket_owner(owner)
            .tagging(tagging)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_error("PutBucketTagging", e))
    }
}

/// IAM returns trust policies URL-encoded (RFC 3986); moto returns them as they were put. Decoding
/// plain JSON leaves it as it is unless it contains `%XX`, which a policy never does unencoded.
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Investigator roles (IAM, in each role's own account), the notification topic's subscriptions
/// (SNS), and the alarm topic.
#[derive(Debug, Clone)]
pub struct AwsControlPlane {
    iam: aws_sdk_iam::Client,
    sns: aws_sdk_sns::Client,
    alarm: Option<SnsPublisher>,
    accounts: Option<std::sync::Arc<Accounts>>,
}

impl AwsControlPlane {
    /// `alarm_topic_arn`: the second channel; without it an alarm is an error (nobody would hear it).
    pub fn new(clients: &Clients, alarm_topic_arn: Option<String>) -> Self {
        AwsControlPlane {
            iam: clients.iam.clone(),
            sns: clients.sns.clone(),
            alarm: alarm_topic_arn.map(|t| SnsPublisher::new(clients.sns.clone(), t)),
            accounts: None,
        }
    }

    /// Reaches each investigator role in the account its ARN names, through `accounts`.
    pub fn with_accounts(mut self, accounts: std::sync::Arc<Accounts>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// The IAM client for the role `role_arn`, and the role's name.
    async fn iam_for<'a>(&self, role_arn: &'a str) -> Result<(aws_sdk_iam::Client, &'a str), PortError> {
        let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
        let account = role_arn.split(':').nth(4).filter(|a| canonical_policies::is_account_id(a));
        match (&self.accounts, account) {
            (Some(accounts), Some(account)) => Ok((accounts.iam(account).await?, name)),
            _ => Ok((self.iam.clone(), name)),
        }
    }
}

impl ControlPlane for AwsControlPlane {
    async fn get_trust(&self, role_arn: &str) -> Result<Option<String>, PortError> {
        let (iam, name) = self.iam_for(role_arn).await?;
        match iam.get_role().role_name(name).send().await {
            Ok(out) => Ok(out.role.and_then(|r| r.assume_role_policy_document).map(|d| url_decode(&d))),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(classify_error("GetRole", e)),
        }
    }

    async fn put_trust(&self, role_arn: &str, policy: &str) -> Result<(), PortError> {
        let (iam, name) = self.iam_for(role_arn).await?;
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify_error("UpdateAssumeRolePolicy", e))
    }

    async fn subscriptions(&self, topic_arn: &str) -> Result<Vec<Subscription>, PortError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(topic_arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify_error("ListSubscriptionsByTopic", e))?;
            for s in page.subscriptions.unwrap_or_default() {
                let arn = s.subscription_arn.unwrap_or_default();
                let filter_policy = if arn.starts_with("arn:") {
                    let attrs = self
                        .sns
                        .get_subscription_attributes()
                        .subscription_arn(&arn)
                        .send()
                        .await
                        .map_err(|e| classify_error("GetSubscriptionAttributes", e))?;
                    attrs.attributes.and_then(|mut a| a.remove("FilterPolicy")).filter(|f| !f.is_empty())
                } else {
                    None
                };
                out.push(Subscription {
                    arn,
                    protocol: s.protocol.unwrap_or_default(),
                    endpoint: s.endpoint.unwrap_or_default(),
                    filter_policy,
                });
            }
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    async fn alarm(&self, notification: &Notification) -> Result<String, PortError> {
        match &self.alarm {
            Some(p) => p.publish(notification).await,
            None => Err(PortError::Refused("no alarm topic configured (BREAKGLASS_ALARM_TOPIC_ARN)".into())),
        }
    }
}

/// Where a custom-resource request's stack came from: CloudFormation `DescribeStacks` and the
/// `aws:servicecatalog:*` tags Service Catalog puts on the stacks it provisions.
#[derive(Debug, Clone)]
pub struct CloudFormationProvenance {
    client: aws_sdk_cloudformation::Client,
}

impl CloudFormationProvenance {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        CloudFormationProvenance { client }
    }
}

impl Provenance for CloudFormationProvenance {
    async fn provisioning(&self, stack_id: &str) -> Result<Option<Provisioning>, PortError> {
        if stack_id.is_empty() {
            return Ok(None);
        }
        let out = match self.client.describe_stacks().stack_name(stack_id).send().await {
            Ok(out) => out,
            // "Stack with id … does not exist".
            Err(e) if code_of(&e) == Some("ValidationError") => return Ok(None),
            Err(e) => return Err(classify_error("DescribeStacks", e)),
        };
        let Some(stack) = out.stacks.unwrap_or_default().into_iter().next() else { return Ok(None) };
        let mut p = Provisioning::default();
        for tag in stack.tags.unwrap_or_default() {
            let (Some(k), Some(v)) = (tag.key, tag.value) else { continue };
            match k.as_str() {
                "aws:servicecatalog:productArn" => p.product_arn = Some(v),
                "aws:servicecatalog:provisionedProductArn" => p.provisioned_product_arn = Some(v),
                "aws:servicecatalog:provisioningPrincipalArn" => p.principal_arn = Some(v),
                _ => {}
            }
        }
        Ok(Some(p))
    }
}

/// Notifications through one SNS topic, `MessageStructure=json`, with message attributes.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsPublisher { client, topic_arn: topic_arn.into() }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, n: &Notification) -> Result<String, PortError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&n.subject)
            .message_structure("json")
            .message(n.message_json());
        for (name, value) in &n.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PortError::Refused(format!("Publish: message attribute `{name}`: {e}")))?;
            request = request.message_attributes(name, attribute);
        }
        let out = request.send().await.map_err(|e| classify_error("Publish", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// breakglass's own events on an EventBridge bus (`source: breakglass`).
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        EventBridgeBus { client, bus_name: bus_name.into() }
    }
}

impl EventBus for EventBridgeBus {
    async fn put(&self, event: &BusEvent) -> Result<(), PortError> {
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(breakglass_core::inbound::event::CUSTOM_SOURCE)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .event_bus_name(&self.bus_name)
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| classify_error("PutEvents", e))?;
        // PutEvents succeeds as a call even when an entry fails; look inside.
        if out.failed_entry_count > 0 {
            let why = out
                .entries
                .unwrap_or_default()
                .into_iter()
                .filter_map(|e| e.error_code.map(|c| format!("{c}: {}", e.error_message.unwrap_or_default())))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(PortError::Retryable(format!("PutEvents: entry failed: {why}")));
        }
        Ok(())
    }
}

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
    mac: Option<(aws_sdk_kms::Client, String)>,
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
        self.mac = Some((kms, key_id.into()));
        self
    }

    async fn sign(&self, body: &[u8]) -> Result<Option<String>, PortError> {
        let Some((kms, key)) = &self.mac else { return Ok(None) };
        let out = kms
            .generate_mac()
            .key_id(key)
            .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
            .message(aws_sdk_kms::primitives::Blob::new(body))
            .send()
            .await
            .map_err(|e| classify_error("GenerateMac", e))?;
        Ok(out.mac.map(|m| breakglass_core::trail::audit::hex(m.as_ref())))
    }

    /// `Some(warning)` when the record's MAC is missing or wrong; `None` when it is the notifier's.
    async fn check(&self, key: &str, body: &[u8], mac: Option<&str>) -> Result<Option<String>, PortError> {
        let Some((kms, key_id)) = &self.mac else { return Ok(None) };
        let Some(mac) = mac.and_then(from_hex) else {
            return Ok(Some(format!(
                "record `{key}` is FORGED: it carries no signature of the notifier; not shown"
            )));
        };
        let verified = kms
            .verify_mac()
            .key_id(key_id)
            .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
            .message(aws_sdk_kms::primitives::Blob::new(body))
            .mac(aws_sdk_kms::primitives::Blob::new(mac))
            .send()
            .await;
        match verified {
            Ok(out) if out.mac_valid => Ok(None),
            Ok(_) => Ok(Some(format!("record `{key}` is FORGED: its signature does not match; not shown"))),
            Err(e) if code_of(&e) == Some("KMSInvalidMacException") => {
                Ok(Some(format!("record `{key}` is FORGED: its signature does not match; not shown")))
            }
            Err(e) => Err(classify_error("VerifyMac", e)),
        }
    }

    /// A record's bytes (`version`, else the current one), its signature checked: `None` when there
    /// is no such record, `Some(Err(warning))` when its signature is missing or wrong.
    async fn fetch(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<Option<Result<Vec<u8>, String>>, PortError> {
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
            Err(e) if matches!(code_of(&e), Some("NoSuchKey" | "NoSuchVersion")) => return Ok(None),
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
        match self.check(key, &bytes, mac.as_deref()).await? {
            Some(forged) => Ok(Some(Err(forged))),
            None => Ok(Some(Ok(bytes))),
        }
    }

    /// Every record under `prefix`, in key order (= time order), read version by version: a record
    /// hidden behind a delete marker is still read, and a key with more than one version (someone
    /// wrote over a record; Object Lock keeps the original) yields its *oldest* version. Both are
    /// reported as warnings, because neither happens without someone tampering.
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
        // S3 lists a key's versions newest first: reversing puts every key's original first (the sort
        // is stable, and timestamps are too coarse to order two writes within one second).
        versions.reverse();
        versions.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = AuditRead::default();
        hidden.sort();
        hidden.dedup();
        for key in hidden {
            out.warnings.push(format!("record `{key}` is hidden behind a delete marker; shown anyway"));
        }
        let mut last_key: Option<String> = None;
        for (key, version) in versions {
            if last_key.as_deref() == Some(key.as_str()) {
                out.warnings.push(format!(
                    "record `{key}` has another version `{version}` written over it; the original is shown"
                ));
                continue;
            }
            let bytes = match self.fetch(&key, Some(&version)).await? {
                Some(Ok(bytes)) => bytes,
                Some(Err(forged)) => {
                    out.warnings.push(forged);
                    last_key = Some(key);
                    continue;
                }
                None => {
                    out.warnings.push(format!("record `{key}` version `{version}` vanished while read"));
                    last_key = Some(key);
                    continue;
                }
            };
            match String::from_utf8(bytes) {
                Ok(text) => out.records.push((key.clone(), text)),
                Err(_) => out.warnings.push(format!("record `{key}` is not utf-8; not shown")),
            }
            last_key = Some(key);
        }
        Ok(out)
    }
}

/// What [`S3AuditLog::read_all`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRead {
    /// (key, text) in key order.
    pub records: Vec<(String, String)>,
    /// Signs of tampering or damage, one sentence each.
    pub warnings: Vec<String>,
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

/// The audit trail of the config in force, as the notifier and the recorder write it: the bucket
/// and records key from the environment (`BREAKGLASS_AUDIT_BUCKET`, `BREAKGLASS_RECORD_KEY`) or the
/// config, every record signed and naming the config's SHA-256.
pub fn audit_trail(
    clients: &Clients,
    loaded: &breakglass_core::handler::LoadedConfig,
) -> Result<breakglass_core::trail::audit::Trail<S3AuditLog>, breakglass_core::handler::SetupError> {
    breakglass_core::handler::audit_from_env(&loaded.config).map(|audit| {
        breakglass_core::trail::audit::Trail {
            log: S3AuditLog::for_config(clients, &audit),
            config: audit,
            config_sha256: Some(loaded.sha256.clone()),
        }
    })
}

impl AuditReader for S3AuditLog {
    async fn keys(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<String>, PortError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify_error("ListObjectsV2", e))?;
            keys.extend(page.contents.unwrap_or_default().into_iter().filter_map(|o| o.key));
            match page.next_continuation_token {
                Some(t) if page.is_truncated == Some(true) => token = Some(t),
                _ => return Ok(keys),
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        match self.fetch(key, None).await? {
            Some(Ok(bytes)) => Ok(String::from_utf8(bytes).ok()),
            Some(Err(forged)) => {
                tracing::error!(key, "{forged}");
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

/// The logging accounts' buckets, for discovery: each account through its member role, each Region
/// with its own client (`ListBuckets` filtered by prefix and `BucketRegion`, every page).
#[derive(Debug, Clone)]
pub struct S3Directory {
    accounts: std::sync::Arc<Accounts>,
    /// With the function's own credentials, in the administrative account.
    organizations: aws_sdk_organizations::Client,
}

impl S3Directory {
    pub fn new(clients: &Clients, accounts: std::sync::Arc<Accounts>) -> Self {
        S3Directory { accounts, organizations: aws_sdk_organizations::Client::new(&clients.config) }
    }
}

impl Directory for S3Directory {
    async fn buckets(&self, account: &str, region: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        let client = self.accounts.s3(account, Some(region)).await?;
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = client
                .list_buckets()
                .prefix(prefix)
                .bucket_region(region)
                .max_buckets(1000)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| classify_error("ListBuckets", e))?;
            names.extend(page.buckets.unwrap_or_default().into_iter().filter_map(|b| b.name));
            match page.continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(names),
            }
        }
    }

    async fn tags(
        &self,
        account: &str,
        region: &str,
        bucket: &str,
    ) -> Result<Vec<(String, String)>, PortError> {
        let client = self.accounts.s3(account, Some(region)).await?;
        match client.get_bucket_tagging().bucket(bucket).expected_bucket_owner(account).send().await {
            Ok(out) => Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
            Err(e) if code_of(&e) == Some("NoSuchTagSet") => Ok(Vec::new()),
            Err(e) => Err(classify_error("GetBucketTagging", e)),
        }
    }

    async fn ou_accounts(&self, ou: &str) -> Result<Vec<String>, PortError> {
        let all = config_source::accounts_below(&self.organizations, ou).await?;
        Ok(all.into_iter().filter(|(_, active)| *active).map(|(id, _)| id).collect())
    }
}

/// The registry of discovered buckets: `registry.json` beside the config object (organisation
/// mode), written only when it is still the version read (`If-Match`).
#[derive(Debug, Clone)]
pub struct S3Registry {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl S3Registry {
    pub fn new(client: aws_sdk_s3::Client, bucket: &str, key: &str) -> Self {
        S3Registry { client, bucket: bucket.to_owned(), key: key.to_owned() }
    }

    /// Beside the config object `config_key` (`breakglass.toml` → `registry.json`).
    pub fn key_beside(config_key: &str) -> String {
        match config_key.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{}", breakglass_core::guard::discovery::REGISTRY_FILE),
            None => breakglass_core::guard::discovery::REGISTRY_FILE.to_owned(),
        }
    }
}

impl RegistryStore for S3Registry {
    async fn load(&self) -> Result<Option<(String, String)>, PortError> {
        match self.client.get_object().bucket(&self.bucket).key(&self.key).send().await {
            Ok(out) => {
                let etag = out.e_tag.clone().unwrap_or_default();
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| PortError::Retryable(format!("GetObject `{}`: {e}", self.key)))?
                    .into_bytes();
                // Not utf-8: unreadable, which the caller reports (never replaced).
                Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), etag)))
            }
            Err(e) if code_of(&e) == Some("NoSuchKey") => Ok(None),
            Err(e) => Err(classify_error("GetObject", e)),
        }
    }

    async fn save(&self, text: &str, expected: Option<&str>) -> Result<bool, PortError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/json")
            .body(ByteStream::from(text.as_bytes().to_vec()));
        request = match expected {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(false),
            Err(e) => Err(classify_error("PutObject", e)),
        }
    }
}

/// The sweep's queue (SQS), sent to ten messages per call, as `SendMessageBatch` allows.
#[derive(Debug, Clone)]
pub struct SqsSweepQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsSweepQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsSweepQueue { client, url: url.into() }
    }
}

impl SweepQueue for SqsSweepQueue {
    async fn send(&self, bodies: &[String], delay_seconds: u32) -> Result<(), PortError> {
        let delay = i32::try_from(delay_seconds.min(900)).unwrap_or(900);
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        .delay_seconds(delay)
                        .build()
                        .map_err(|e| PortError::Refused(format!("sweep message: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| classify_error("SendMessageBatch", e))?;
            // A batch call succeeds even when entries fail: each failure is a shard not sent.
            if let Some(f) = sent.failed.first() {
                let message = format!(
                    "{} of {} sweep messages not sent: {} {}",
                    sent.failed.len(),
                    chunk.len(),
                    f.code,
                    f.message.as_deref().unwrap_or_default()
                );
                return Err(if f.sender_fault {
                    PortError::Refused(message)
                } else {
                    PortError::Retryable(message)
                });
            }
        }
        Ok(())
    }
}

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
