//! Organisation mode: the `[organisation]`, its logging accounts (`[[account]]`) and organizational
//! units (`[[ou]]`).

use canonical_policies::{is_account_id, Partition};

use crate::error::ConfigError;
use crate::names::{is_region, is_role_name, lower_alnum};
use crate::raw::{RawAccount, RawOrganisation, RawOu};

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

    /// The read-only role beside the member role in each logging account (`breakglass-member-reader`):
    /// the operators' way to look (`status`, `enforce --dry-run`). The member role itself, which
    /// writes bucket policies, trusts only breakglass's functions.
    pub fn reader_role(&self) -> String {
        format!("{}-reader", self.member_role)
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

/// The Regions of an `[[account]]` or `[[ou]]`: at least one, each spelled as a Region.
fn check_regions(table: &'static str, kind: &str, id: &str, regions: &[String]) -> Result<(), ConfigError> {
    if regions.is_empty() {
        return Err(ConfigError::table(
            table,
            "regions",
            "[]",
            &format!("{kind} `{id}` needs at least one region"),
        ));
    }
    if let Some(r) = regions.iter().find(|r| !is_region(r)) {
        return Err(ConfigError::table(table, "regions", r, "expected a region such as `eu-central-1`"));
    }
    Ok(())
}

impl OrgUnit {
    pub(crate) fn from_raw(raw: &RawOu) -> Result<OrgUnit, ConfigError> {
        let part =
            |p: &str, range: std::ops::RangeInclusive<usize>| range.contains(&p.len()) && lower_alnum(p);
        let ok = raw
            .id
            .strip_prefix("ou-")
            .and_then(|rest| rest.split_once('-'))
            .is_some_and(|(root, ou)| part(root, 4..=32) && part(ou, 8..=32));
        if !ok {
            return Err(ConfigError::table(
                "[[ou]]",
                "id",
                &raw.id,
                "expected an organizational unit id such as `ou-ab12-cd34ef56`",
            ));
        }
        check_regions("[[ou]]", "ou", &raw.id, &raw.regions)?;
        Ok(OrgUnit { id: raw.id.clone(), regions: raw.regions.clone() })
    }
}

impl Organisation {
    pub(crate) fn from_raw(raw: &RawOrganisation) -> Result<Organisation, ConfigError> {
        let invalid =
            |field, value: &str, reason: &str| ConfigError::table("[organisation]", field, value, reason);
        let id_ok = raw.id.strip_prefix("o-").is_some_and(|r| (10..=32).contains(&r.len()) && lower_alnum(r));
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
    pub(crate) fn from_raw(raw: &RawAccount) -> Result<Account, ConfigError> {
        if !is_account_id(&raw.id) {
            return Err(ConfigError::table("[[account]]", "id", &raw.id, "expected 12 digits"));
        }
        check_regions("[[account]]", "account", &raw.id, &raw.regions)?;
        if let Some(a) = &raw.alias {
            let ok = (1..=63).contains(&a.len())
                && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_. ".contains(&b));
            if !ok {
                return Err(ConfigError::table(
                    "[[account]]",
                    "alias",
                    a,
                    "expected up to 63 letters, digits, `-_. `",
                ));
            }
        }
        Ok(Account { id: raw.id.clone(), alias: raw.alias.clone(), regions: raw.regions.clone() })
    }
}
