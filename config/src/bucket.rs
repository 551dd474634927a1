//! One protected bucket (`[[bucket]]` over `[defaults]`), validated, with its templates rendered.

use std::collections::BTreeSet;

use canonical_policies::json::{self, Json};
use canonical_policies::{
    glob, is_account_id, is_reserved_sid, BucketTemplates, GrantError, OpenGrant, Partition, Policy,
    PolicyHash, RenderError, ServiceRead, TemplateInputs,
};
use time::{Duration, OffsetDateTime};

use crate::duration::parse_duration;
use crate::error::ConfigError;
use crate::names::{bucket_name_problem, is_region};
use crate::raw::RawBucket;

/// One protected bucket, validated, with its ClosedAccess policy rendered once.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The KMS key that encrypts the logs (SSE-KMS, `kms_key`): disabling it, scheduling its
    /// deletion or replacing its policy makes the logs unreadable for ever (crypto-shredding), so
    /// those calls are alerted on both channels, and the SCPs deny them (the organisation's on the
    /// configured keys, the single-account one on keys tagged `breakglass-logs=true`).
    pub kms_key: Option<String>,
    /// The template inputs above, handed to the policy crate, and the ClosedAccess rendered from them.
    templates: BucketTemplates,
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
            glob(p, caller)
                || role.as_ref().is_some_and(|(head, name)| {
                    p.strip_prefix(&format!("{head}:role/"))
                        .is_some_and(|path| path.rsplit('/').next().is_some_and(|n| glob(n, name)))
                })
        })
    }
}

impl AsRef<BucketTemplates> for BucketConfig {
    fn as_ref(&self) -> &BucketTemplates {
        &self.templates
    }
}

impl BucketConfig {
    /// `arn:<partition>:s3:::<bucket>`.
    pub fn bucket_arn(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.name)
    }

    /// The ClosedAccess policy of this bucket.
    pub fn closed_policy(&self) -> &Policy {
        self.templates.closed_policy()
    }

    pub fn closed_hash(&self) -> PolicyHash {
        self.templates.closed_hash()
    }

    /// The OpenAccess policy for `grant`, after checking that it is lawful at `now`.
    pub fn render_open(&self, grant: &OpenGrant, now: OffsetDateTime) -> Result<Policy, GrantError> {
        self.templates.render_open(grant, now)
    }

    /// Checks readers and expiry of a grant against this bucket's rules.
    pub fn check_grant(&self, grant: &OpenGrant, now: OffsetDateTime) -> Result<(), GrantError> {
        self.templates.check_grant(grant, now)
    }

    /// The OpenAccess shape for any readers and expiry, *without* checking that the grant is lawful
    /// (see [`BucketTemplates::render_open_unchecked`]).
    pub fn render_open_unchecked(&self, grant: &OpenGrant) -> Result<Policy, RenderError> {
        self.templates.render_open_unchecked(grant)
    }

    /// A `[[bucket]]` (`b`) over `[defaults]` (`d`): the bucket's own value wins.
    pub(crate) fn from_raw(
        b: &RawBucket,
        d: &RawBucket,
        service_reads: &BTreeSet<ServiceRead>,
    ) -> Result<BucketConfig, ConfigError> {
        let name = b.name.clone().ok_or(ConfigError::Missing { bucket: "?".into(), field: "name" })?;
        let missing = |field| ConfigError::Missing { bucket: name.clone(), field };
        let invalid = |field, value: &str, reason| ConfigError::invalid(&name, field, value, reason);
        if let Some(why) = bucket_name_problem(&name) {
            return Err(invalid("name", &name, why));
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
        // S3 wants each statement's Sid unique within a policy: a repeated one would pass here and
        // be refused by PutBucketPolicy on the day the glass is broken.
        let mut sids: Vec<&str> = Vec::new();
        for s in &base_statements {
            if let Json::Object(members) = s {
                for (k, v) in members {
                    if let (true, Json::String(sid)) = (k == "Sid", v) {
                        if is_reserved_sid(sid) {
                            return Err(invalid("base_statements", sid, "this sid belongs to a template"));
                        }
                        if sids.contains(&sid.as_ref()) {
                            return Err(invalid(
                                "base_statements",
                                sid,
                                "this sid is given to two statements",
                            ));
                        }
                        sids.push(sid);
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
        let retention_days = match b.retention_days.or(d.retention_days) {
            Some(days) if !(1..=36_500).contains(&days) => {
                return Err(invalid("retention_days", &days.to_string(), "expected 1 to 36500"))
            }
            other => other,
        };
        let kms_key = match b.kms_key.as_ref().or(d.kms_key.as_ref()) {
            None => None,
            Some(k) => Some(key_arn(k, &partition).ok_or_else(|| {
                invalid(
                    "kms_key",
                    k,
                    "expected a key ARN such as `arn:aws:kms:eu-central-1:111122223333:key/<id>` (the key id in lowercase)",
                )
            })?),
        };
        // Both templates are rendered now, so that a base statement that breaks one fails at load time.
        let templates = BucketTemplates::new(TemplateInputs {
            bucket: name.clone(),
            partition: partition.clone(),
            account: account.clone(),
            investigator_roles: investigator_roles.clone(),
            automation_principals: automation_principals.clone(),
            max_open_duration,
            base_statements,
            service_reads: service_reads.clone(),
        })
        .map_err(|source| ConfigError::Render { bucket: name.clone(), source })?;
        Ok(BucketConfig {
            name,
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
            retention_days,
            two_person,
            kms_key,
            templates,
        })
    }

    /// Whether `key` (a key ARN, or a key id as a request may name it) is this bucket's log key.
    pub fn is_log_key(&self, key: &str) -> bool {
        // Key ids are lowercase (`kms_key` is checked so); a request may spell one otherwise.
        let key = key.to_ascii_lowercase();
        self.kms_key
            .as_deref()
            .is_some_and(|k| k == key || k.strip_suffix(key.as_str()).is_some_and(|h| h.ends_with('/')))
    }
}

/// `text` if it is a KMS key ARN of `partition` (not an alias: policies and CloudTrail's
/// `resources` name the key).
fn key_arn(text: &str, partition: &Partition) -> Option<String> {
    let arn = canonical_policies::Arn::parse(text).ok()?;
    let id = arn.resource.strip_prefix("key/")?;
    let ok = arn.partition == partition.as_str()
        && arn.service == "kms"
        && is_region(arn.region)
        && is_account_id(arn.account)
        && !id.is_empty()
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then(|| text.to_owned())
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
