//! All protected buckets: the TOML read, every table validated, and what callers ask of it.

use crate::audit::AuditConfig;
use crate::bucket::BucketConfig;
use crate::discovery::{Discovered, Discovery};
use crate::error::ConfigError;
use crate::investigator::Investigator;
use crate::organisation::{Account, OrgUnit, Organisation};
use crate::raw::{RawBucket, RawConfig};
use crate::service_reads;

use canonical_policies::ServiceRead;
use std::collections::BTreeSet;

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
    /// The AWS services that may read the buckets' objects, each for its source
    /// (`[[service_reads]]`, every bucket and the RCP); empty: none may.
    pub service_reads: BTreeSet<ServiceRead>,
    /// `[defaults]`, kept to configure a discovered bucket as a `[[bucket]]` with only its name,
    /// account and Region would be.
    defaults: RawBucket,
}

/// A table that only organisation mode has, in a config without `[organisation]`.
fn organisation_only(table: &'static str, field: &'static str, value: String, what: &str) -> ConfigError {
    ConfigError::Organisation {
        table,
        field,
        value,
        reason: format!("{what} only in organisation mode (add `[organisation]`)"),
    }
}

/// The entries of a table that only organisation mode has (`[[account]]`, `[[ou]]`): each parsed,
/// refused outside organisation mode, and listed once.
fn organisation_entries<R, T>(
    raws: &[R],
    in_organisation: bool,
    parse: impl Fn(&R) -> Result<T, ConfigError>,
    id: impl Fn(&T) -> &str,
    outside: impl Fn(T) -> ConfigError,
    twice: impl Fn(T) -> ConfigError,
) -> Result<Vec<T>, ConfigError> {
    let mut entries: Vec<T> = Vec::with_capacity(raws.len());
    for raw in raws {
        let entry = parse(raw)?;
        if !in_organisation {
            return Err(outside(entry));
        }
        if entries.iter().any(|x| id(x) == id(&entry)) {
            return Err(twice(entry));
        }
        entries.push(entry);
    }
    Ok(entries)
}

impl Config {
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        if raw.bucket.is_empty() {
            return Err(ConfigError::NoBuckets);
        }
        let organisation = raw.organisation.as_ref().map(Organisation::from_raw).transpose()?;
        let in_organisation = organisation.is_some();
        let accounts = organisation_entries(
            &raw.account,
            in_organisation,
            Account::from_raw,
            |a| &a.id,
            |a| organisation_only("[[account]]", "id", a.id, "accounts are listed"),
            |a| ConfigError::DuplicateAccount(a.id),
        )?;
        let ous = organisation_entries(
            &raw.ou,
            in_organisation,
            OrgUnit::from_raw,
            |o| &o.id,
            |o| organisation_only("[[ou]]", "id", o.id, "organizational units are listed"),
            |o| ConfigError::table("[[ou]]", "id", &o.id, "listed twice"),
        )?;
        let service_reads = service_reads::parse(&raw.service_reads)?;
        let mut buckets: Vec<BucketConfig> = Vec::with_capacity(raw.bucket.len());
        for b in &raw.bucket {
            let bucket = BucketConfig::from_raw(b, &raw.defaults, &service_reads)?;
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
                    return Err(ConfigError::invalid(
                        &bucket.name,
                        "name",
                        &bucket.name,
                        "does not start with `[organisation] bucket_prefix`: the member role, SCP and RCP would not cover it",
                    ));
                }
            }
            buckets.push(bucket);
        }
        let audit = raw.audit.as_ref().map(AuditConfig::from_raw).transpose()?;
        if let Some(a) = &audit {
            if buckets.iter().any(|b| b.name == a.bucket) {
                return Err(ConfigError::invalid(
                    "[audit]",
                    "bucket",
                    &a.bucket,
                    "the audit bucket cannot be a protected log bucket",
                ));
            }
        }
        let investigators = raw
            .investigator
            .iter()
            .map(|i| Investigator::from_raw(i, &buckets, in_organisation))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((_, dup)) = investigators
            .iter()
            .enumerate()
            .find(|(i, x)| investigators.iter().take(*i).any(|y| y.role == x.role))
        {
            return Err(ConfigError::invalid("[[investigator]]", "role", &dup.role, "configured twice"));
        }
        let discovery = match &raw.discovery {
            Some(_) if organisation.is_none() => {
                return Err(organisation_only("[discovery]", "tag", String::new(), "buckets are discovered"));
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
            service_reads,
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
        self.investigators.iter().find(|i| i.is(role))
    }

    /// Whether `role` (an ARN or a role name) is an investigator role of any bucket.
    pub fn is_investigator_role(&self, role: &str) -> bool {
        self.buckets
            .iter()
            .flat_map(|b| &b.investigator_roles)
            .any(|r| crate::investigator::names_role(r, role))
    }

    /// The investigator roles that role `role` (its name as IAM's calls give it, or its ARN) may
    /// assume (`assumable_by`), when it is in `account` (the call's; `None`: any account).
    pub fn assumed_by_role(&self, role: &str, account: Option<&str>) -> Vec<&Investigator> {
        let matches = |a: &str| {
            let Ok(arn) = canonical_policies::Arn::parse(a) else { return false };
            let Some(path) = arn.resource.strip_prefix("role/") else { return false };
            let name = path.rsplit('/').next().unwrap_or(path);
            // IAM role names are case-insensitive.
            (a.eq_ignore_ascii_case(role) || name.eq_ignore_ascii_case(role))
                && account.is_none_or(|acc| acc == arn.account)
        };
        self.investigators.iter().filter(|i| i.assumable_by.iter().any(|a| matches(a))).collect()
    }

    /// The buckets whose logs `key` (a key ARN or id) encrypts (`kms_key`).
    pub fn log_key_buckets(&self, key: &str) -> Vec<&BucketConfig> {
        self.buckets.iter().filter(|b| b.is_log_key(key)).collect()
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
            let checked = BucketConfig::from_raw(&raw, &self.defaults, &self.service_reads).and_then(|b| {
                check_route(&b, &self.accounts, &self.ous)?;
                match &self.organisation {
                    Some(org) if b.name.starts_with(&org.bucket_prefix) => Ok(b),
                    _ => Err(ConfigError::invalid(
                        &b.name,
                        "name",
                        &b.name,
                        "a discovered bucket outside `[organisation] bucket_prefix`",
                    )),
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

/// In organisation mode every bucket names a listed account and one of that account's Regions: the
/// functions must know where a bucket is, never guess it.
fn check_route(bucket: &BucketConfig, accounts: &[Account], ous: &[OrgUnit]) -> Result<(), ConfigError> {
    let invalid = |field, value: &str, reason| ConfigError::invalid(&bucket.name, field, value, reason);
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

/// toml's own text spans several lines with a source excerpt; keep its message and say where.
fn toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message().lines().next().unwrap_or("parse error").trim_end_matches('.').to_owned();
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or_default();
            let line = 1 + before.matches('\n').count();
            let column = 1 + before.rsplit('\n').next().unwrap_or_default().chars().count();
            ConfigError::TomlAt { message, line, column }
        }
        None => ConfigError::Toml(message),
    }
}

/// The line (1-based) of the first `name = "…"` that names `bucket` in `text`, for an error about
/// it (a bucket configured twice: the second of [`bucket_lines`]).
pub fn bucket_line(text: &str, bucket: &str) -> Option<usize> {
    bucket_lines(text, bucket).next()
}

/// Every line (1-based) of a `name = "…"` that names `bucket` in `text`, in order.
pub fn bucket_lines<'t>(text: &'t str, bucket: &str) -> impl Iterator<Item = usize> + 't {
    let quoted = [format!("\"{bucket}\""), format!("'{bucket}'")];
    text.lines().enumerate().filter_map(move |(i, l)| {
        let names = l
            .trim_start()
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('='))
            .is_some_and(|v| {
                let v = v.split('#').next().unwrap_or_default().trim();
                quoted.iter().any(|q| q == v)
            });
        names.then_some(i + 1)
    })
}
