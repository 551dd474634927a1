//! The accounts that hold the buckets: own credentials, or each account's member role.

use breakglass_core::ports::PortError;

use crate::Clients;

/// How breakglass reaches the accounts that hold the buckets: the one place that knows about
/// accounts, Regions and credentials.
///
/// Single-account mode ([`Accounts::own`]): every bucket is in the function's own account, reached
/// with its own credentials. Organisation mode ([`Accounts::for_config`]): each logging account is
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

    /// For a person: as [`Accounts::for_config`], but through each logging account's read-only
    /// role ([`breakglass_config::Organisation::reader_role`]): people look, breakglass writes.
    pub fn for_reader(
        clients: &Clients,
        config: &breakglass_config::Config,
        session: &str,
    ) -> std::sync::Arc<Accounts> {
        Accounts::routed(clients, config, session, breakglass_config::Organisation::reader_role)
    }

    /// As the config says: organisation mode when it has `[organisation]`.
    pub fn for_config(
        clients: &Clients,
        config: &breakglass_config::Config,
        session: &str,
    ) -> std::sync::Arc<Accounts> {
        Accounts::routed(clients, config, session, |org| org.member_role.clone())
    }

    /// The own credentials, or in organisation mode the role `role` names in every logging account.
    fn routed(
        clients: &Clients,
        config: &breakglass_config::Config,
        session: &str,
        role: impl Fn(&breakglass_config::Organisation) -> String,
    ) -> std::sync::Arc<Accounts> {
        let Some(org) = &config.organisation else { return Accounts::own(clients) };
        let partition = config.buckets.first().map_or("aws", |b| b.partition.as_str());
        let member =
            MemberRole { name: role(org), partition: partition.to_owned(), session: session_name(session) };
        std::sync::Arc::new(Accounts::with(clients, Some(member)))
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
        // A cache of its own: the loader's shared one holds 64 partitions and evicts beyond them,
        // so with many accounts (and a provider rebuilt with each config) the roles would be
        // assumed again and again.
        let built = self
            .own
            .to_builder()
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(provider))
            .identity_cache(aws_config::identity::IdentityCache::lazy().build())
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
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, PortError> {
    m.lock().map_err(|_| PortError::Retryable("client cache lock poisoned".into()))
}
