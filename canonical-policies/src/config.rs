//! The breakglass configuration: which buckets are protected and what their two lawful policies are.
//!
//! One TOML file (see `examples/breakglass.toml`): a `[defaults]` table and one `[[bucket]]` table per
//! protected bucket; a bucket's own value wins over the default. Everything is validated and both
//! templates are rendered at load time, so a bad config fails before it can guard anything.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::json::{self, Json};
use crate::policy::{is_account_id, Partition, Policy};
use crate::template::{self, OpenGrant, RenderError, Vars, RESERVED_SIDS};
use crate::{PolicyHash, Quoted};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid config: {0}")]
    Toml(String),
    #[error("config has no `[[bucket]]`")]
    NoBuckets,
    #[error("bucket {} is configured twice", Quoted(.0))]
    DuplicateBucket(String),
    #[error("bucket {}: missing `{field}` (set it in the bucket or in [defaults])", Quoted(.bucket))]
    Missing { bucket: String, field: &'static str },
    #[error("bucket {}: invalid `{field}` {}: {reason}", Quoted(.bucket), Quoted(.value))]
    Invalid { bucket: String, field: &'static str, value: String, reason: &'static str },
    #[error("bucket {}: {source}", Quoted(.bucket))]
    Render { bucket: String, source: RenderError },
    #[error("bucket {} is configured in account {} and in account {}", Quoted(.bucket), Quoted(.first), Quoted(.second))]
    BucketInTwoAccounts { bucket: String, first: String, second: String },
    #[error("account {} is listed twice in `[[account]]`", Quoted(.0))]
    DuplicateAccount(String),
    #[error("bucket {}: `{field}` {}: unknown placeholder {} (known: `{{{{account}}}}`, `{{{{partition}}}}`)", Quoted(.bucket), Quoted(.value), Quoted(.placeholder))]
    UnknownPlaceholder { bucket: String, field: &'static str, value: String, placeholder: String },
    #[error("{table}: invalid `{field}` {}: {reason}", Quoted(.value))]
    Organisation { table: &'static str, field: &'static str, value: String, reason: String },
    #[error("the config cannot be made compact without changing it (near line {line}): deploy it as it is, or as a file or an S3 object")]
    NotCompactable { line: usize },
}

/// Why an OpenAccess request is not lawful for a bucket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("no reader given")]
    NoReaders,
    #[error("reader {} is not an investigator role of bucket {}", Quoted(.reader), Quoted(.bucket))]
    ReaderNotAllowed { bucket: String, reader: String },
    #[error("expiry {} is not in the future", Quoted(.0))]
    NotInFuture(String),
    #[error("expiry {} is more than {max} from now", Quoted(.expiry))]
    BeyondMaximum { expiry: String, max: HumanDuration },
    #[error(transparent)]
    Render(#[from] RenderError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    defaults: RawBucket,
    #[serde(default)]
    bucket: Vec<RawBucket>,
    audit: Option<RawAudit>,
    #[serde(default)]
    investigator: Vec<RawInvestigator>,
    organisation: Option<RawOrganisation>,
    discovery: Option<RawDiscovery>,
    #[serde(default)]
    account: Vec<RawAccount>,
    #[serde(default)]
    ou: Vec<RawOu>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDiscovery {
    tag: Option<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOu {
    id: String,
    regions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganisation {
    id: String,
    admin_account: String,
    home_region: String,
    member_role: Option<String>,
    bucket_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: String,
    alias: Option<String>,
    regions: Vec<String>,
}

/// Organisation mode (`[organisation]`): the functions run in an administrative account and act in
/// the logging accounts through the role `member_role` there, which trusts only them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// `o-…`: the `aws:PrincipalOrgID` every trust and bus policy checks.
    pub id: String,
    /// The account where the functions, topics, audit trail and Service Catalog live.
    pub admin_account: String,
    /// The Region of the administrative stack; member Regions forward their events to it.
    pub home_region: String,
    /// The role name in each logging account (`breakglass-member`).
    pub member_role: String,
    /// Every protected bucket's name starts with this: the member role, the SCP and the RCP name
    /// the prefix, never a list of buckets, so their size does not grow with the buckets.
    pub bucket_prefix: String,
}

impl Organisation {
    pub const DEFAULT_MEMBER_ROLE: &'static str = "breakglass-member";

    /// `arn:<partition>:iam::<account>:role/<member_role>`.
    pub fn member_role_arn(&self, partition: &Partition, account: &str) -> String {
        format!("arn:{partition}:iam::{account}:role/{}", self.member_role)
    }
}

/// A logging account (`[[account]]`) and the Regions its buckets are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    /// A name people know it by, in mails and `status` (`logging-prod`).
    pub alias: Option<String>,
    pub regions: Vec<String>,
}

impl Account {
    /// `logging-prod (111122223333)`, or the ID alone.
    pub fn label(&self) -> String {
        match &self.alias {
            Some(a) => format!("{a} ({})", self.id),
            None => self.id.clone(),
        }
    }
}

/// Logging accounts selected by organizational unit (`[[ou]]`): every account in the OU (and the OUs
/// below it), in these Regions. The config cannot know an OU's members; `breakglass config push`
/// checks with AWS Organizations that each bucket's account is in an OU with the bucket's Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUnit {
    pub id: String,
    pub regions: Vec<String>,
}

impl OrgUnit {
    fn from_raw(raw: &RawOu) -> Result<OrgUnit, ConfigError> {
        let invalid = |field, value: &str, reason: &str| ConfigError::Organisation {
            table: "[[ou]]",
            field,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let part = |p: &str, range: std::ops::RangeInclusive<usize>| {
            range.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        let ok = raw
            .id
            .strip_prefix("ou-")
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(root, ou)| part(root, 4..=32) && part(ou, 8..=32));
        if !ok {
            return Err(invalid(
                "id",
                &raw.id,
                "expected an organizational unit id such as `ou-ab12-cd34ef56`",
            ));
        }
        if raw.regions.is_empty() {
            return Err(invalid("regions", "[]", &format!("ou `{}` needs at least one region", raw.id)));
        }
        if let Some(r) = raw.regions.iter().find(|r| !is_region(r)) {
            return Err(invalid("regions", r, "expected a region such as `eu-central-1`"));
        }
        Ok(OrgUnit { id: raw.id.clone(), regions: raw.regions.clone() })
    }
}

/// `eu-central-1`, `us-gov-west-1`, `cn-north-1`: lowercase words and a number, joined by `-`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    (3..=5).contains(&parts.len())
        && s.len() <= 32
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// An IAM role name: 1-64 of `\w+=,.@-`.
fn is_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

impl Organisation {
    fn from_raw(raw: &RawOrganisation) -> Result<Organisation, ConfigError> {
        let invalid = |field, value: &str, reason: &str| ConfigError::Organisation {
            table: "[organisation]",
            field,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let id_ok = raw.id.strip_prefix("o-").is_some_and(|r| {
            (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !id_ok {
            return Err(invalid(
                "id",
                &raw.id,
                "expected an organization id (`o-` and 10 to 32 letters or digits)",
            ));
        }
        if !is_account_id(&raw.admin_account) {
            return Err(invalid("admin_account", &raw.admin_account, "expected 12 digits"));
        }
        if !is_region(&raw.home_region) {
            return Err(invalid("home_region", &raw.home_region, "expected a region such as `eu-central-1`"));
        }
        let member_role =
            raw.member_role.clone().unwrap_or_else(|| Organisation::DEFAULT_MEMBER_ROLE.to_owned());
        if !is_role_name(&member_role) {
            return Err(invalid("member_role", &member_role, "expected an iam role name"));
        }
        // At least three characters: a shorter prefix would cover most buckets of an account.
        let prefix_ok = (3..=40).contains(&raw.bucket_prefix.len())
            && raw
                .bucket_prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && raw.bucket_prefix.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if !prefix_ok {
            return Err(invalid(
                "bucket_prefix",
                &raw.bucket_prefix,
                "expected the start of a bucket name, 3 to 40 of `a-z 0-9 . -`",
            ));
        }
        Ok(Organisation {
            id: raw.id.clone(),
            admin_account: raw.admin_account.clone(),
            home_region: raw.home_region.clone(),
            member_role,
            bucket_prefix: raw.bucket_prefix.clone(),
        })
    }
}

impl Account {
    fn from_raw(raw: &RawAccount) -> Result<Account, ConfigError> {
        let invalid = |field, value: &str, reason: &str| ConfigError::Organisation {
            table: "[[account]]",
            field,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        if !is_account_id(&raw.id) {
            return Err(invalid("id", &raw.id, "expected 12 digits"));
        }
        if raw.regions.is_empty() {
            return Err(invalid("regions", "[]", &format!("account `{}` needs at least one region", raw.id)));
        }
        for r in &raw.regions {
            if !is_region(r) {
                return Err(invalid("regions", r, "expected a region such as `eu-central-1`"));
            }
        }
        if let Some(a) = &raw.alias {
            let ok = (1..=63).contains(&a.len())
                && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_. ".contains(&b));
            if !ok {
                return Err(invalid("alias", a, "expected up to 63 letters, digits, `-_. `"));
            }
        }
        Ok(Account { id: raw.id.clone(), alias: raw.alias.clone(), regions: raw.regions.clone() })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvestigator {
    role: String,
    assumable_by: Vec<String>,
}

/// The lawful trust policy of one investigator role: who may become the reader an OpenAccess names.
/// The enforcer puts it back when someone changes the role's trust (or deletes and recreates the role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Investigator {
    /// The role ARN, path included, as in `investigator_roles`.
    pub role: String,
    /// IAM principals (role or user ARNs, or account root ARNs) allowed to assume it.
    pub assumable_by: BTreeSet<String>,
}

impl Investigator {
    /// The role's name: the last part of its ARN (what IAM's role calls take).
    pub fn role_name(&self) -> &str {
        self.role.rsplit('/').next().unwrap_or(&self.role)
    }

    /// The trust policy as IAM should hold it.
    pub fn trust_policy_json(&self) -> String {
        let principals: Vec<Json<'_>> =
            self.assumable_by.iter().map(|p| Json::String(std::borrow::Cow::Borrowed(p.as_str()))).collect();
        let doc = Json::Object(vec![
            ("Version".into(), Json::String("2012-10-17".into())),
            (
                "Statement".into(),
                Json::Array(vec![Json::Object(vec![
                    ("Sid".into(), Json::String("BreakglassInvestigatorTrust".into())),
                    ("Effect".into(), Json::String("Allow".into())),
                    ("Principal".into(), Json::Object(vec![("AWS".into(), Json::Array(principals))])),
                    ("Action".into(), Json::String("sts:AssumeRole".into())),
                ])]),
            ),
        ]);
        doc.to_text()
    }

    /// Whether `live` (IAM's trust policy, URL-decoded) is this investigator's trust policy, by
    /// canonical hash; a trust policy that does not parse is never lawful.
    pub fn is_lawful_trust(&self, live: &str, partition: &Partition) -> bool {
        match (trust_hash(live, partition), trust_hash(&self.trust_policy_json(), partition)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

/// The canonical hash of a role trust policy. A trust policy has no `Resource` (the role is the
/// resource); it is read as if every statement said `"Resource": "*"`, so that the bucket-policy
/// parser and its canonical form apply unchanged.
pub fn trust_hash(text: &str, partition: &Partition) -> Option<PolicyHash> {
    let mut doc = json::parse(text.as_bytes()).ok()?;
    let Json::Object(members) = &mut doc else { return None };
    let add_resource = |statement: &mut Json<'_>| {
        if let Json::Object(m) = statement {
            if !m.iter().any(|(k, _)| k == "Resource" || k == "NotResource") {
                m.push(("Resource".into(), Json::String("*".into())));
            }
        }
    };
    for (k, v) in members.iter_mut() {
        if k == "Statement" {
            match v {
                Json::Array(items) => items.iter_mut().for_each(add_resource),
                one => add_resource(one),
            }
        }
    }
    Policy::parse_in(doc.to_text().as_bytes(), partition).ok().map(|p| p.hash())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    bucket: String,
    prefix: Option<String>,
    retain_days: Option<u32>,
    mac_key: Option<String>,
}

/// Where the notifier writes the audit trail: an S3 bucket with Object Lock, under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    pub bucket: String,
    /// Empty or ending in `/`.
    pub prefix: String,
    /// How long each record is locked (compliance mode: nobody, root included, can delete it sooner).
    pub retain: Duration,
    /// The KMS HMAC key (ID, ARN or alias) the notifier signs every record with and `history`
    /// verifies them with: a record that anyone else wrote shows as forged.
    pub mac_key: Option<String>,
}

impl AuditConfig {
    /// Default retention: seven years, a common period for security audit evidence.
    pub const DEFAULT_RETAIN_DAYS: u32 = 2557;

    /// The trail in `bucket` (a deployment's own, e.g. from the stack), with the prefix and retention
    /// of `base` (the config's `[audit]`) or the defaults.
    pub fn for_bucket(bucket: &str, base: Option<&AuditConfig>) -> Result<AuditConfig, ConfigError> {
        let mut a = AuditConfig::new(bucket, "breakglass/", AuditConfig::DEFAULT_RETAIN_DAYS)?;
        if let Some(base) = base {
            a.prefix.clone_from(&base.prefix);
            a.retain = base.retain;
            a.mac_key.clone_from(&base.mac_key);
        }
        Ok(a)
    }

    /// Checks bucket name and prefix; `prefix` gets a trailing `/` when it has none.
    pub fn new(bucket: &str, prefix: &str, retain_days: u32) -> Result<AuditConfig, ConfigError> {
        let invalid = |field, value: &str, reason| ConfigError::Invalid {
            bucket: "[audit]".into(),
            field,
            value: value.to_owned(),
            reason,
        };
        if !is_bucket_name(bucket) {
            return Err(invalid("bucket", bucket, "not a valid s3 bucket name"));
        }
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
        if prefix.len() > 200
            || !prefix.chars().all(ok_char)
            || prefix.starts_with('/')
            || prefix.contains("//")
        {
            return Err(invalid("prefix", prefix, "expected letters, digits, `-_./`, not starting with `/`"));
        }
        if !(1..=36_500).contains(&retain_days) {
            return Err(invalid("retain_days", &retain_days.to_string(), "expected 1 to 36500"));
        }
        let mut prefix = prefix.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(AuditConfig {
            bucket: bucket.to_owned(),
            prefix,
            retain: Duration::days(i64::from(retain_days)),
            mac_key: None,
        })
    }

    /// With `key` as the records' KMS HMAC key: a key ID, key ARN, alias name or alias ARN.
    pub fn with_mac_key(mut self, key: &str) -> Result<AuditConfig, ConfigError> {
        let ok = !key.is_empty() && key.len() <= 2048 && !key.contains(char::is_whitespace);
        if !ok {
            return Err(ConfigError::Invalid {
                bucket: "[audit]".into(),
                field: "mac_key",
                value: key.to_owned(),
                reason: "expected a kms key id, key arn or alias",
            });
        }
        self.mac_key = Some(key.to_owned());
        Ok(self)
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    name: Option<String>,
    partition: Option<String>,
    account: Option<String>,
    investigator_roles: Option<Vec<String>>,
    automation_principals: Option<Vec<String>>,
    max_open_duration: Option<String>,
    base_statements: Option<String>,
    repair_public_access_block: Option<bool>,
    retention_days: Option<u32>,
    region: Option<String>,
    two_person: Option<bool>,
    approvers: Option<Vec<String>>,
    request_expiry: Option<String>,
}

/// The two-person rule of a bucket: who may approve a request, and how long a request waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoPerson {
    /// Principal ARN patterns (as IAM's `StringLike`: `*` any characters, `?` one): an STS session ARN
    /// (`arn:aws:sts::111122223333:assumed-role/breakglass-approver/*`), or an IAM role ARN (any
    /// session of that role) or user ARN.
    pub approvers: Vec<String>,
    /// A request not decided within this is expired (default 24h).
    pub request_expiry: Duration,
}

impl TwoPerson {
    /// Whether `caller` (a resolved principal ARN, e.g. from STS GetCallerIdentity) may approve.
    pub fn may_approve(&self, caller: &str) -> bool {
        // `arn:aws:sts::A:assumed-role/R/S` is also a session of the role `arn:aws:iam::A:role/…/R`.
        let role = caller.split_once(":assumed-role/").and_then(|(head, rest)| {
            let (role, _) = rest.split_once('/')?;
            Some((head.replacen(":sts:", ":iam:", 1), role.to_owned()))
        });
        self.approvers.iter().any(|p| {
            crate::eval::glob(p, caller)
                || role.as_ref().is_some_and(|(head, name)| {
                    p.strip_prefix(&format!("{head}:role/")).is_some_and(|path| {
                        path.rsplit('/').next().is_some_and(|n| crate::eval::glob(n, name))
                    })
                })
        })
    }
}

/// All protected buckets.
#[derive(Debug, Clone)]
pub struct Config {
    pub buckets: Vec<BucketConfig>,
    /// The audit trail's location (`[audit]`); the notifier can also be given it by its environment.
    pub audit: Option<AuditConfig>,
    /// Investigator roles whose trust policy breakglass keeps (`[[investigator]]`).
    pub investigators: Vec<Investigator>,
    /// Organisation mode: `None` for a single-account deployment.
    pub organisation: Option<Organisation>,
    /// The logging accounts (`[[account]]`, organisation mode only).
    pub accounts: Vec<Account>,
    /// Logging accounts selected by organizational unit (`[[ou]]`, organisation mode only).
    pub ous: Vec<OrgUnit>,
    /// Buckets found by prefix and tag (`[discovery]`, organisation mode only).
    pub discovery: Option<Discovery>,
    /// `[defaults]`, kept to configure a discovered bucket as a `[[bucket]]` with only its name,
    /// account and Region would be.
    defaults: RawBucket,
}

/// Discovery (`[discovery]`): every bucket of the `[[account]]`s, in their Regions, whose name starts
/// with `[organisation] bucket_prefix` and (when `tag` is set) that carries the tag, is protected
/// with `[defaults]`; a `[[bucket]]` of the same name overrides it. What was found is kept in a
/// registry that only grows: only `exclude` here takes a bucket out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// `key` and, if given, the value it must have.
    pub tag: Option<(String, Option<String>)>,
    pub exclude: BTreeSet<String>,
}

/// A bucket discovery found: where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub name: String,
    pub account: String,
    pub region: String,
}

impl Discovery {
    fn from_raw(raw: &RawDiscovery) -> Result<Discovery, ConfigError> {
        let invalid = |field, value: &str, reason: &str| ConfigError::Organisation {
            table: "[discovery]",
            field,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let tag = match &raw.tag {
            None => None,
            Some(t) => {
                let (key, value) = match t.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (t.clone(), None),
                };
                if key.is_empty() || key.chars().count() > 128 || key.starts_with("aws:") {
                    return Err(invalid(
                        "tag",
                        t,
                        "expected `key` or `key=value`, the key 1-128 characters and not `aws:`",
                    ));
                }
                if value.as_ref().is_some_and(|v| v.chars().count() > 256) {
                    return Err(invalid("tag", t, "the value is over 256 characters"));
                }
                Some((key, value))
            }
        };
        let mut exclude = BTreeSet::new();
        for name in &raw.exclude {
            if !is_bucket_name(name) {
                return Err(invalid("exclude", name, "not a bucket name"));
            }
            exclude.insert(name.clone());
        }
        Ok(Discovery { tag, exclude })
    }

    /// Whether `tags` (a bucket's tag set) carry the discovery tag; `true` when none is asked for.
    pub fn tagged(&self, tags: &[(String, String)]) -> bool {
        match &self.tag {
            None => true,
            Some((key, value)) => {
                tags.iter().any(|(k, v)| k == key && value.as_ref().is_none_or(|want| want == v))
            }
        }
    }
}

/// One protected bucket, validated, with its ClosedAccess policy rendered once.
#[derive(Debug, Clone)]
pub struct BucketConfig {
    pub name: String,
    pub partition: Partition,
    /// The account that owns the bucket: every call on it expects this owner.
    pub account: String,
    /// The bucket's Region (required in organisation mode); `None`: the deployment's own Region.
    pub region: Option<String>,
    /// Roles that an OpenAccess may name as readers (`aws:PrincipalArn` values, path included).
    pub investigator_roles: BTreeSet<String>,
    /// Principals allowed to change the bucket policy: the enforcer and the break-glass operators.
    pub automation_principals: BTreeSet<String>,
    pub max_open_duration: Duration,
    /// Whether the enforcer turns the public-access block back on when someone weakens it (it always
    /// reports it).
    pub repair_public_access_block: bool,
    /// How long the logs must be kept: a lifecycle rule that expires objects or their versions
    /// sooner is unlawful and removed. `None`: no lifecycle rule may expire anything.
    pub retention_days: Option<u32>,
    /// The two-person rule (`two_person = true`): an OpenAccess needs a request approved by another
    /// person, and the enforcer reverts one without it. `None`: one operator may open.
    pub two_person: Option<TwoPerson>,
    base_statements: Vec<Json<'static>>,
    closed: Policy,
    closed_hash: PolicyHash,
}

impl Config {
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Toml(toml_message(text, &e)))?;
        if raw.bucket.is_empty() {
            return Err(ConfigError::NoBuckets);
        }
        let organisation = raw.organisation.as_ref().map(Organisation::from_raw).transpose()?;
        let mut accounts: Vec<Account> = Vec::with_capacity(raw.account.len());
        for a in &raw.account {
            let account = Account::from_raw(a)?;
            if organisation.is_none() {
                return Err(ConfigError::Organisation {
                    table: "[[account]]",
                    field: "id",
                    value: account.id,
                    reason: "accounts are listed only in organisation mode (add `[organisation]`)".into(),
                });
            }
            if accounts.iter().any(|x| x.id == account.id) {
                return Err(ConfigError::DuplicateAccount(account.id));
            }
            accounts.push(account);
        }
        let mut ous: Vec<OrgUnit> = Vec::with_capacity(raw.ou.len());
        for o in &raw.ou {
            let ou = OrgUnit::from_raw(o)?;
            if organisation.is_none() {
                return Err(ConfigError::Organisation {
                    table: "[[ou]]",
                    field: "id",
                    value: ou.id,
                    reason:
                        "organizational units are listed only in organisation mode (add `[organisation]`)"
                            .into(),
                });
            }
            if ous.iter().any(|x| x.id == ou.id) {
                return Err(ConfigError::Organisation {
                    table: "[[ou]]",
                    field: "id",
                    value: ou.id,
                    reason: "listed twice".into(),
                });
            }
            ous.push(ou);
        }
        let mut buckets: Vec<BucketConfig> = Vec::with_capacity(raw.bucket.len());
        for b in &raw.bucket {
            let bucket = BucketConfig::from_raw(b, &raw.defaults)?;
            if let Some(other) = buckets.iter().find(|x| x.name == bucket.name) {
                if other.account != bucket.account {
                    return Err(ConfigError::BucketInTwoAccounts {
                        bucket: bucket.name,
                        first: other.account.clone(),
                        second: bucket.account,
                    });
                }
                return Err(ConfigError::DuplicateBucket(bucket.name));
            }
            if let Some(org) = &organisation {
                check_route(&bucket, &accounts, &ous)?;
                if !bucket.name.starts_with(&org.bucket_prefix) {
                    return Err(ConfigError::Invalid {
                        bucket: bucket.name.clone(),
                        field: "name",
                        value: bucket.name.clone(),
                        reason: "does not start with `[organisation] bucket_prefix`: the member role, SCP and RCP would not cover it",
                    });
                }
            }
            buckets.push(bucket);
        }
        let audit = match &raw.audit {
            Some(a) => {
                let audit = AuditConfig::new(
                    &a.bucket,
                    a.prefix.as_deref().unwrap_or("breakglass/"),
                    a.retain_days.unwrap_or(AuditConfig::DEFAULT_RETAIN_DAYS),
                )?;
                Some(match &a.mac_key {
                    Some(k) => audit.with_mac_key(k)?,
                    None => audit,
                })
            }
            None => None,
        };
        if let Some(a) = &audit {
            if buckets.iter().any(|b| b.name == a.bucket) {
                return Err(ConfigError::Invalid {
                    bucket: "[audit]".into(),
                    field: "bucket",
                    value: a.bucket.clone(),
                    reason: "the audit bucket cannot be a protected log bucket",
                });
            }
        }
        let investigators = raw
            .investigator
            .iter()
            .map(|i| Investigator::from_raw(i, &buckets))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((_, dup)) = investigators
            .iter()
            .enumerate()
            .find(|(i, x)| investigators.iter().take(*i).any(|y| y.role == x.role))
        {
            return Err(ConfigError::Invalid {
                bucket: "[[investigator]]".into(),
                field: "role",
                value: dup.role.clone(),
                reason: "configured twice",
            });
        }
        let discovery = match &raw.discovery {
            Some(d) if organisation.is_none() => {
                let _ = d;
                return Err(ConfigError::Organisation {
                    table: "[discovery]",
                    field: "tag",
                    value: String::new(),
                    reason: "buckets are discovered only in organisation mode (add `[organisation]`)".into(),
                });
            }
            Some(d) => Some(Discovery::from_raw(d)?),
            None => None,
        };
        Ok(Config {
            buckets,
            audit,
            investigators,
            organisation,
            accounts,
            ous,
            discovery,
            defaults: raw.defaults,
        })
    }

    /// The `[[account]]` entry of an account ID.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// How people know the account: its alias and ID, or the ID.
    pub fn account_label(&self, id: &str) -> String {
        self.account(id).map_or_else(|| id.to_owned(), Account::label)
    }

    /// The `[[investigator]]` entry of a role, by ARN or by name.
    pub fn investigator(&self, role: &str) -> Option<&Investigator> {
        self.investigators.iter().find(|i| i.role == role || i.role_name() == role)
    }

    /// Whether `role` (an ARN or a role name) is an investigator role of any bucket.
    pub fn is_investigator_role(&self, role: &str) -> bool {
        self.buckets
            .iter()
            .flat_map(|b| &b.investigator_roles)
            .any(|r| r == role || r.rsplit('/').next() == Some(role))
    }

    pub fn bucket(&self, name: &str) -> Option<&BucketConfig> {
        self.buckets.iter().find(|b| b.name == name)
    }

    /// Whether `[discovery] exclude` names the bucket: the only way out of the registry.
    pub fn excluded(&self, name: &str) -> bool {
        self.discovery.as_ref().is_some_and(|d| d.exclude.contains(name))
    }

    /// This config with the discovered buckets protected as `[defaults]` say, except those a
    /// `[[bucket]]` configures itself and those excluded. A discovered bucket that this config
    /// cannot protect (an account or Region no longer listed, outside the prefix) is left out and
    /// returned with why, never guessed.
    pub fn with_discovered(&self, found: &[Discovered]) -> (Config, Vec<ConfigError>) {
        let mut config = self.clone();
        let mut refused = Vec::new();
        for d in found {
            if config.bucket(&d.name).is_some() || self.excluded(&d.name) {
                continue;
            }
            let raw = RawBucket {
                name: Some(d.name.clone()),
                account: Some(d.account.clone()),
                region: Some(d.region.clone()),
                ..RawBucket::default()
            };
            let checked = BucketConfig::from_raw(&raw, &self.defaults).and_then(|b| {
                check_route(&b, &self.accounts, &self.ous)?;
                match &self.organisation {
                    Some(org) if b.name.starts_with(&org.bucket_prefix) => Ok(b),
                    _ => Err(ConfigError::Invalid {
                        bucket: b.name.clone(),
                        field: "name",
                        value: b.name.clone(),
                        reason: "a discovered bucket outside `[organisation] bucket_prefix`",
                    }),
                }
            });
            match checked {
                Ok(b) => config.buckets.push(b),
                Err(e) => refused.push(e),
            }
        }
        (config, refused)
    }
}

impl Investigator {
    fn from_raw(raw: &RawInvestigator, buckets: &[BucketConfig]) -> Result<Investigator, ConfigError> {
        let invalid = |field, value: &str, reason| ConfigError::Invalid {
            bucket: "[[investigator]]".into(),
            field,
            value: value.to_owned(),
            reason,
        };
        if !buckets.iter().any(|b| b.investigator_roles.contains(&raw.role)) {
            return Err(invalid("role", &raw.role, "not an investigator role of any bucket"));
        }
        if raw.assumable_by.is_empty() {
            return Err(invalid("assumable_by", "[]", "needs at least one principal arn"));
        }
        let mut assumable_by = BTreeSet::new();
        for p in &raw.assumable_by {
            let ok = p.strip_prefix("arn:").and_then(|r| r.split_once(":iam::")).is_some_and(|(_, rest)| {
                rest.split_once(':').is_some_and(|(acct, res)| {
                    is_account_id(acct)
                        && (res == "root" || res.starts_with("role/") || res.starts_with("user/"))
                        && !res.contains('*')
                })
            });
            if !ok {
                return Err(invalid("assumable_by", p, "expected an iam role, user or account root arn"));
            }
            assumable_by.insert(p.clone());
        }
        Ok(Investigator { role: raw.role.clone(), assumable_by })
    }
}

/// In organisation mode every bucket names a listed account and one of that account's Regions: the
/// functions must know where a bucket is, never guess it.
fn check_route(bucket: &BucketConfig, accounts: &[Account], ous: &[OrgUnit]) -> Result<(), ConfigError> {
    let invalid = |field, value: &str, reason| ConfigError::Invalid {
        bucket: bucket.name.clone(),
        field,
        value: value.to_owned(),
        reason,
    };
    let Some(region) = &bucket.region else {
        return Err(ConfigError::Missing { bucket: bucket.name.clone(), field: "region" });
    };
    match accounts.iter().find(|a| a.id == bucket.account) {
        Some(account) if account.regions.contains(region) => Ok(()),
        Some(_) => Err(invalid("region", region, "not a region of the bucket's `[[account]]`")),
        // Not listed by ID: an `[[ou]]` with this Region may hold it (config push checks that it does).
        None if ous.iter().any(|o| o.regions.contains(region)) => Ok(()),
        None if !ous.is_empty() => Err(invalid(
            "account",
            &bucket.account,
            "not an `[[account]]`, and no `[[ou]]` has the bucket's region",
        )),
        None => Err(invalid("account", &bucket.account, "not an `[[account]]` of the organisation")),
    }
}

/// Fills `{{account}}` and `{{partition}}` in an ARN of `investigator_roles` or
/// `automation_principals`; any other `{{…}}` is an error, never left in as text.
fn expand(
    bucket: &str,
    field: &'static str,
    arn: &str,
    account: &str,
    partition: &Partition,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(arn.len());
    let mut rest = arn;
    while let Some((before, after)) = rest.split_once("{{") {
        out.push_str(before);
        let (name, tail) = after.split_once("}}").unwrap_or((after, ""));
        match name.trim() {
            "account" => out.push_str(account),
            "partition" => out.push_str(partition.as_str()),
            _ => {
                return Err(ConfigError::UnknownPlaceholder {
                    bucket: bucket.to_owned(),
                    field,
                    value: arn.to_owned(),
                    placeholder: format!("{{{{{name}}}}}"),
                })
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// toml's own text spans several lines with a source excerpt; keep its message and say where.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().lines().next().unwrap_or("parse error").trim_end_matches('.');
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or_default();
            let line = 1 + before.matches('\n').count();
            let column = 1 + before.rsplit('\n').next().unwrap_or_default().chars().count();
            format!("{message} (line {line}, column {column})")
        }
        None => message.to_owned(),
    }
}

/// The config without what only people read: comment lines, blank lines and indentation, and the
/// indentation inside `base_statements` (JSON, where it means nothing). What CloudFormation's
/// 4,096-byte parameter and Lambda's 4 KB environment hold in single-account mode. Refused when the
/// compact text would parse to anything but the same config.
pub fn compact(text: &str) -> Result<String, ConfigError> {
    const QUOTES: [&str; 2] = ["'''", "\"\"\""];
    let before = Config::from_toml(text)?;
    let mut out = String::with_capacity(text.len());
    // Inside a multi-line string: kept as it is, but `base_statements`' JSON loses its indentation.
    let mut open: Option<(&str, bool)> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        let kept = match open {
            Some((_, true)) => trimmed,
            Some((_, false)) => line,
            None if trimmed.is_empty() || trimmed.starts_with('#') => continue,
            None => trimmed,
        };
        for quote in QUOTES {
            if kept.matches(quote).count() % 2 == 1 {
                open = match open {
                    Some((q, _)) if q == quote => None,
                    None => Some((quote, trimmed.starts_with("base_statements"))),
                    other => other,
                };
            }
        }
        out.push_str(kept);
        out.push('\n');
    }
    let after = Config::from_toml(&out)?;
    // `[defaults]` raw text differs by the indentation removed; what it configures must not.
    let effect = |c: &Config| {
        format!(
            "{:?}{:?}{:?}{:?}{:?}{:?}{:?}",
            c.buckets, c.audit, c.investigators, c.organisation, c.accounts, c.ous, c.discovery
        )
    };
    if effect(&before) != effect(&after) {
        let line = text.lines().zip(out.lines()).position(|(a, b)| a.trim() != b.trim()).unwrap_or(0) + 1;
        return Err(ConfigError::NotCompactable { line });
    }
    Ok(out)
}

/// S3 bucket naming rules (the subset that matters for ARNs and hosts).
pub fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

impl BucketConfig {
    fn from_raw(b: &RawBucket, d: &RawBucket) -> Result<BucketConfig, ConfigError> {
        let name = b.name.clone().ok_or(ConfigError::Missing { bucket: "?".into(), field: "name" })?;
        let missing = |field| ConfigError::Missing { bucket: name.clone(), field };
        let invalid = |field, value: &str, reason| ConfigError::Invalid {
            bucket: name.clone(),
            field,
            value: value.to_owned(),
            reason,
        };
        if !is_bucket_name(&name) {
            return Err(invalid("name", &name, "not a valid s3 bucket name"));
        }
        let partition_text = b.partition.as_ref().or(d.partition.as_ref()).map_or("aws", String::as_str);
        let partition = Partition::new(partition_text).ok_or_else(|| {
            invalid("partition", partition_text, "expected `aws`, `aws-cn`, `aws-us-gov`, ...")
        })?;
        let account = b.account.as_ref().or(d.account.as_ref()).ok_or_else(|| missing("account"))?.clone();
        if !is_account_id(&account) {
            return Err(invalid("account", &account, "expected 12 digits"));
        }
        let arns = |field: &'static str, list: Option<&Vec<String>>, roles_only: bool| {
            let list = list.ok_or_else(|| missing(field))?;
            if list.is_empty() {
                return Err(invalid(field, "[]", "needs at least one arn"));
            }
            let mut set = BTreeSet::new();
            for arn in list {
                let arn = &expand(&name, field, arn, &account, &partition)?;
                let prefix = format!("arn:{partition}:iam::");
                let rest =
                    arn.strip_prefix(&prefix).ok_or_else(|| invalid(field, arn, "expected an iam arn"))?;
                let (acct, resource) =
                    rest.split_once(':').ok_or_else(|| invalid(field, arn, "expected an iam arn"))?;
                let kind_ok = if roles_only {
                    resource.starts_with("role/")
                } else {
                    resource.starts_with("role/") || resource.starts_with("user/")
                };
                if !is_account_id(acct) || !kind_ok || resource.contains('*') {
                    let reason = if roles_only {
                        "expected an iam role arn"
                    } else {
                        "expected an iam role or user arn"
                    };
                    return Err(invalid(field, arn, reason));
                }
                set.insert(arn.clone());
            }
            Ok(set)
        };
        let investigator_roles = arns(
            "investigator_roles",
            b.investigator_roles.as_ref().or(d.investigator_roles.as_ref()),
            true,
        )?;
        let automation_principals = arns(
            "automation_principals",
            b.automation_principals.as_ref().or(d.automation_principals.as_ref()),
            false,
        )?;
        let max_text = b
            .max_open_duration
            .as_ref()
            .or(d.max_open_duration.as_ref())
            .ok_or_else(|| missing("max_open_duration"))?;
        let max_open_duration =
            parse_duration(max_text).filter(|d| *d <= Duration::days(31)).ok_or_else(|| {
                invalid("max_open_duration", max_text, "expected e.g. `12h`, `30m`, `2d` (at most 31d)")
            })?;

        let base_text =
            b.base_statements.as_ref().or(d.base_statements.as_ref()).map_or("[]", String::as_str);
        let base_statements = match json::parse(base_text.as_bytes()) {
            Ok(Json::Array(items)) => items.into_iter().map(Json::into_owned).collect::<Vec<_>>(),
            Ok(_) => {
                return Err(invalid("base_statements", base_text, "expected a json array of statements"))
            }
            Err(e) => {
                return Err(ConfigError::Render {
                    bucket: name.clone(),
                    source: RenderError::Json { context: "base_statements", source: e },
                })
            }
        };
        for s in &base_statements {
            if let Json::Object(members) = s {
                for (k, v) in members {
                    if let (true, Json::String(sid)) = (k == "Sid", v) {
                        if RESERVED_SIDS.contains(&sid.as_ref()) {
                            return Err(invalid("base_statements", sid, "this sid belongs to a template"));
                        }
                    }
                }
            }
        }

        let region = match b.region.as_ref().or(d.region.as_ref()) {
            Some(r) if !is_region(r) => {
                return Err(invalid("region", r, "expected a region such as `eu-central-1`"))
            }
            other => other.cloned(),
        };
        let two_person = match b.two_person.or(d.two_person) {
            Some(true) => {
                let list =
                    b.approvers.as_ref().or(d.approvers.as_ref()).ok_or_else(|| missing("approvers"))?;
                if list.is_empty() {
                    return Err(invalid(
                        "approvers",
                        "[]",
                        "the two-person rule needs at least one approver",
                    ));
                }
                let mut approvers = Vec::with_capacity(list.len());
                for a in list {
                    let a = expand(&name, "approvers", a, &account, &partition)?;
                    let ok = a.starts_with(&format!("arn:{partition}:sts::"))
                        || a.starts_with(&format!("arn:{partition}:iam::"));
                    if !ok || a.len() > 2048 || a.contains(char::is_whitespace) {
                        return Err(invalid(
                            "approvers",
                            &a,
                            "expected an sts session or iam role or user arn (`*` allowed)",
                        ));
                    }
                    approvers.push(a);
                }
                let text =
                    b.request_expiry.as_ref().or(d.request_expiry.as_ref()).map_or("24h", String::as_str);
                let request_expiry =
                    parse_duration(text).filter(|d| *d <= Duration::days(7)).ok_or_else(|| {
                        invalid("request_expiry", text, "expected e.g. `24h`, `30m` (at most 7d)")
                    })?;
                Some(TwoPerson { approvers, request_expiry })
            }
            _ => {
                if b.approvers.is_some() && b.two_person == Some(false) {
                    return Err(invalid("approvers", "[..]", "approvers are only for `two_person = true`"));
                }
                None
            }
        };
        let mut bucket = BucketConfig {
            name: name.clone(),
            partition,
            account,
            region,
            investigator_roles,
            automation_principals,
            max_open_duration,
            repair_public_access_block: b
                .repair_public_access_block
                .or(d.repair_public_access_block)
                .unwrap_or(false),
            retention_days: match b.retention_days.or(d.retention_days) {
                Some(days) if !(1..=36_500).contains(&days) => {
                    return Err(invalid("retention_days", &days.to_string(), "expected 1 to 36500"))
                }
                other => other,
            },
            two_person,
            base_statements,
            closed: Policy { version: None, id: None, statements: Vec::new() },
            closed_hash: PolicyHash::of_bytes(b""),
        };
        let render_err = |source| ConfigError::Render { bucket: name.clone(), source };
        bucket.closed = template::render(
            template::CLOSED_TEMPLATE,
            &bucket.vars(None),
            &bucket.partition,
            "closed template",
        )
        .map_err(render_err)?;
        bucket.closed_hash = bucket.closed.hash();
        // Render an OpenAccess now too, so that a base statement that breaks it fails at load time.
        let probe =
            OpenGrant { readers: bucket.investigator_roles.clone(), expiry: OffsetDateTime::UNIX_EPOCH };
        bucket.render_open_unchecked(&probe).map_err(render_err)?;
        Ok(bucket)
    }

    fn vars<'a>(&'a self, grant: Option<&'a OpenGrant>) -> Vars<'a> {
        Vars {
            bucket: &self.name,
            partition: self.partition.as_str(),
            account: &self.account,
            expiry: grant.map(|g| template::format_expiry(g.expiry)),
            readers: grant.map(|g| &g.readers),
            automation_principals: Some(&self.automation_principals),
            base_statements: Some(&self.base_statements),
        }
    }

    /// `arn:<partition>:s3:::<bucket>`.
    pub fn bucket_arn(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.name)
    }

    /// The ClosedAccess policy of this bucket.
    pub fn closed_policy(&self) -> &Policy {
        &self.closed
    }

    pub fn closed_hash(&self) -> PolicyHash {
        self.closed_hash
    }

    /// The OpenAccess policy for `grant`, after checking that it is lawful at `now`.
    pub fn render_open(&self, grant: &OpenGrant, now: OffsetDateTime) -> Result<Policy, GrantError> {
        self.check_grant(grant, now)?;
        Ok(self.render_open_unchecked(grant)?)
    }

    /// Checks readers and expiry of a grant against this bucket's rules.
    pub fn check_grant(&self, grant: &OpenGrant, now: OffsetDateTime) -> Result<(), GrantError> {
        if grant.readers.is_empty() {
            return Err(GrantError::NoReaders);
        }
        if let Some(r) = grant.readers.iter().find(|r| !self.investigator_roles.contains(*r)) {
            return Err(GrantError::ReaderNotAllowed { bucket: self.name.clone(), reader: r.clone() });
        }
        let expiry = template::format_expiry(grant.expiry);
        if grant.expiry <= now {
            return Err(GrantError::NotInFuture(expiry));
        }
        if grant.expiry - now > self.max_open_duration {
            return Err(GrantError::BeyondMaximum { expiry, max: HumanDuration(self.max_open_duration) });
        }
        Ok(())
    }

    /// The OpenAccess shape for any readers and expiry, *without* checking that the grant is lawful.
    /// The classifier uses it to test whether a policy is an OpenAccess before asking whether it is a
    /// lawful one; the operator workflow uses it for a grant it has checked itself.
    pub fn render_open_unchecked(&self, grant: &OpenGrant) -> Result<Policy, RenderError> {
        template::render(template::OPEN_TEMPLATE, &self.vars(Some(grant)), &self.partition, "open template")
    }
}

/// Parses `12h`, `30m`, `1h30m`, `2d`, `45s`: one or more number-unit pairs, total greater than zero.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok().filter(|n| *n <= 100_000)?;
        digits.clear();
        total += match c {
            'd' => Duration::days(n),
            'h' => Duration::hours(n),
            'm' => Duration::minutes(n),
            's' => Duration::seconds(n),
            _ => return None,
        };
    }
    (digits.is_empty() && total > Duration::ZERO).then_some(total)
}

/// A duration shown the way it is written in the config (`12h`, `1d2h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut secs = self.0.whole_seconds().max(0);
        if secs == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn approvers_match_sessions_of_roles_and_globs() {
        let t = TwoPerson {
            approvers: vec![
                "arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob".into(),
                "arn:aws:iam::111122223333:role/approvers/breakglass-approver".into(),
                "arn:aws:sts::111122223333:assumed-role/Security*/*".into(),
            ],
            request_expiry: Duration::hours(24),
        };
        assert!(t.may_approve("arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob"));
        assert!(!t.may_approve("arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice"));
        assert!(t.may_approve("arn:aws:sts::111122223333:assumed-role/breakglass-approver/carol"));
        assert!(!t.may_approve("arn:aws:sts::444455556666:assumed-role/breakglass-approver/carol"));
        assert!(t.may_approve("arn:aws:sts::111122223333:assumed-role/SecurityTeam/dave"));
        assert!(!t.may_approve("arn:aws:iam::111122223333:user/bob"));
        let glob = crate::eval::glob;
        assert!(glob("a*b*c", "a-x-b-y-c") && !glob("a*b", "a-x-c") && glob("*", "") && !glob("", "x"));
    }

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("12h"), Some(Duration::hours(12)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("0h"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("12"), None);
        assert_eq!(parse_duration("99999999999999999999h"), None);
        assert_eq!(HumanDuration(Duration::minutes(90)).to_string(), "1h30m");
    }

    #[test]
    fn audit_table() {
        let a = AuditConfig::new("acme-audit", "trail", 30).unwrap();
        assert_eq!((a.prefix.as_str(), a.retain), ("trail/", Duration::days(30)));
        assert!(AuditConfig::new("acme-audit", "../x//", 30).is_err());
        assert!(AuditConfig::new("acme-audit", "", 0).is_err());
        assert!(AuditConfig::new("Acme", "", 1).is_err());
    }

    #[test]
    fn bucket_names() {
        assert!(is_bucket_name("acme-audit-logs"));
        assert!(!is_bucket_name("Acme"));
        assert!(!is_bucket_name("-ab"));
    }
}

#[cfg(test)]
mod compact_tests {
    use super::*;

    #[test]
    fn the_examples_compact_to_the_same_config() {
        for text in
            [include_str!("../../examples/breakglass.toml"), include_str!("../../examples/organisation.toml")]
        {
            let small = compact(text).unwrap();
            assert!(small.len() * 3 < text.len() * 2, "{} → {}", text.len(), small.len());
            assert!(!small.lines().any(|l| l.starts_with('#') || l.trim().is_empty()));
            assert_eq!(compact(&small).unwrap(), small, "compact is idempotent");
        }
    }
}

#[cfg(test)]
mod discovery_tests {
    use super::*;

    fn org(discovery: &str) -> Config {
        let text = format!("{}\n{discovery}\n", include_str!("../../examples/organisation.toml"));
        Config::from_toml(&text).unwrap()
    }

    fn found(name: &str, account: &str, region: &str) -> Discovered {
        Discovered { name: name.into(), account: account.into(), region: region.into() }
    }

    #[test]
    fn discovered_buckets_are_protected_with_the_defaults_unless_configured_or_excluded() {
        let config = org("[discovery]\ntag = \"breakglass=protect\"\nexclude = [\"acme-scratch-logs\"]");
        let d = config.discovery.clone().unwrap();
        assert_eq!(d.tag, Some(("breakglass".into(), Some("protect".into()))));
        assert!(d.tagged(&[("breakglass".into(), "protect".into())]));
        assert!(!d.tagged(&[("breakglass".into(), "no".into())]));
        assert!(!d.tagged(&[]));
        let before = config.buckets.len();
        let (merged, refused) = config.with_discovered(&[
            found("acme-new-logs", "111100000000", "eu-west-1"),
            found("acme-scratch-logs", "111100000000", "eu-west-1"),
            // Configured by hand: the [[bucket]] wins, it is not added twice.
            found("acme-prod-cloudtrail-logs", "111100000000", "eu-central-1"),
            found("acme-elsewhere-logs", "444400000000", "eu-west-1"),
            found("other-logs", "111100000000", "eu-west-1"),
        ]);
        assert_eq!(merged.buckets.len(), before + 1);
        let new = merged.bucket("acme-new-logs").unwrap();
        assert_eq!((new.account.as_str(), new.region.as_deref()), ("111100000000", Some("eu-west-1")));
        assert_eq!(
            new.investigator_roles,
            merged
                .bucket("acme-dev-cloudtrail-logs")
                .unwrap()
                .investigator_roles
                .iter()
                .map(|r| r.replace("222200000000", "111100000000"))
                .collect()
        );
        assert!(merged.bucket("acme-scratch-logs").is_none(), "excluded");
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].to_string().contains("444400000000"), "{}", refused[0]);
    }

    #[test]
    fn discovery_is_organisation_mode_only_and_checked() {
        let single = format!("{}\n[discovery]\n", include_str!("../../examples/breakglass.toml"));
        assert!(Config::from_toml(&single).unwrap_err().to_string().contains("only in organisation mode"));
        for bad in ["tag = \"aws:createdBy\"", "tag = \"\"", "exclude = [\"Not_A_Bucket\"]"] {
            let text = format!("{}\n[discovery]\n{bad}\n", include_str!("../../examples/organisation.toml"));
            assert!(
                Config::from_toml(&text).unwrap_err().to_string().starts_with("[discovery]: invalid"),
                "{bad}"
            );
        }
    }
}
