//! `breakglass config push`: what is checked before a config replaces the one the functions read,
//! and the difference people are shown (and mailed).

use std::collections::BTreeMap;

use breakglass_config::Config;
use canonical_policies::Quoted;

/// Lines of difference shown and mailed at most; the rest is counted.
const MAX_DIFF_LINES: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PushError {
    #[error("account {} is the management account of organization {}, which no SCP binds: the administrative account must be another member (docs/deploy.md, organisation mode)", Quoted(.account), Quoted(.organisation))]
    ManagementAccount { account: String, organisation: String },
    #[error("these credentials are in account {}, but the config's administrative account is {}: run this in the administrative account", Quoted(.caller), Quoted(.config))]
    NotTheAdministrativeAccount { caller: String, config: String },
    #[error("AWS Organizations did not name the management account of organization {}: cannot tell that the administrative account is not it", Quoted(.organisation))]
    ManagementUnknown { organisation: String },
    #[error("the config names organization {}, but these credentials are in organization {}", Quoted(.config), Quoted(.actual))]
    OtherOrganisation { config: String, actual: String },
    #[error("account {} is not an active member of organization {}: breakglass would assume a role outside it", Quoted(.account), Quoted(.organisation))]
    NotMember { account: String, organisation: String },
    #[error("bucket {}: account {} is in no `[[ou]]` with region {}, as AWS Organizations lists them", Quoted(.bucket), Quoted(.account), Quoted(.region))]
    NotInOu { bucket: String, account: String, region: String },
}

/// The organisation as AWS Organizations describes and lists it (to its management account or a
/// delegated administrator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// The account of the credentials that asked (`sts:GetCallerIdentity`).
    pub caller_account: String,
    pub organisation_id: String,
    /// The management account (`MasterAccountId`), when Organizations named it.
    pub management_account: Option<String>,
    /// Every active account.
    pub active: Vec<String>,
    /// The active accounts in each organizational unit asked for, sub-OUs included.
    pub by_ou: BTreeMap<String, Vec<String>>,
}

/// The credentials are the administrative account's, and it is not the management account, which
/// SCPs never bind (an administrator there would be above every denial breakglass relies on);
/// Organizations not naming the management account is refused too. Every `[[account]]`
/// (and the administrative account) is an active member of the config's organisation, as AWS
/// Organizations lists it; a bucket of an account not listed by ID is in an `[[ou]]` that has its
/// Region.
pub fn check_members(config: &Config, members: &Members) -> Result<(), PushError> {
    let Some(org) = &config.organisation else { return Ok(()) };
    let (organisation_id, active, ou_members) = (&members.organisation_id, &members.active, &members.by_ou);
    let Some(management) = members.management_account.as_deref() else {
        return Err(PushError::ManagementUnknown { organisation: organisation_id.clone() });
    };
    if management == org.admin_account || management == members.caller_account {
        return Err(PushError::ManagementAccount {
            account: management.to_owned(),
            organisation: organisation_id.clone(),
        });
    }
    if members.caller_account != org.admin_account {
        return Err(PushError::NotTheAdministrativeAccount {
            caller: members.caller_account.clone(),
            config: org.admin_account.clone(),
        });
    }
    if org.id != *organisation_id {
        return Err(PushError::OtherOrganisation { config: org.id.clone(), actual: organisation_id.clone() });
    }
    let listed = std::iter::once(&org.admin_account).chain(config.accounts.iter().map(|a| &a.id));
    for account in listed {
        if !active.contains(account) {
            return Err(PushError::NotMember { account: account.clone(), organisation: org.id.clone() });
        }
    }
    for b in config.buckets.iter().filter(|b| config.account(&b.account).is_none()) {
        let region = b.region.clone().unwrap_or_default();
        let covered = config.ous.iter().any(|ou| {
            ou.regions.contains(&region) && ou_members.get(&ou.id).is_some_and(|m| m.contains(&b.account))
        });
        if !covered || !active.contains(&b.account) {
            return Err(PushError::NotInOu { bucket: b.name.clone(), account: b.account.clone(), region });
        }
    }
    Ok(())
}

/// A line diff (`- old`, `+ new`; unchanged lines left out), at most [`MAX_DIFF_LINES`] lines.
pub fn line_diff(before: &str, after: &str) -> String {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let mut out: Vec<String> = Vec::new();
    // Longest common subsequence when it is cheap; for very long configs, lines removed and added.
    if a.len().saturating_mul(b.len()) <= 4_000_000 {
        let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                let v = if a.get(i) == b.get(j) {
                    lcs.get(i + 1).and_then(|r| r.get(j + 1)).copied().unwrap_or(0) + 1
                } else {
                    let down = lcs.get(i + 1).and_then(|r| r.get(j)).copied().unwrap_or(0);
                    let right = lcs.get(i).and_then(|r| r.get(j + 1)).copied().unwrap_or(0);
                    down.max(right)
                };
                if let Some(cell) = lcs.get_mut(i).and_then(|r| r.get_mut(j)) {
                    *cell = v;
                }
            }
        }
        let at = |i: usize, j: usize| lcs.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0);
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(_)) if at(i + 1, j) >= at(i, j + 1) => {
                    out.push(format!("- {x}"));
                    i += 1;
                }
                (_, Some(y)) => {
                    out.push(format!("+ {y}"));
                    j += 1;
                }
                (Some(x), None) => {
                    out.push(format!("- {x}"));
                    i += 1;
                }
                (None, None) => break,
            }
        }
    } else {
        out.extend(a.iter().filter(|l| !b.contains(l)).map(|l| format!("- {l}")));
        out.extend(b.iter().filter(|l| !a.contains(l)).map(|l| format!("+ {l}")));
    }
    let total = out.len();
    if total > MAX_DIFF_LINES {
        out.truncate(MAX_DIFF_LINES);
        out.push(format!("… and {} more changed lines", total - MAX_DIFF_LINES));
    }
    out.join("\n")
}

/// The change in words, one line each: buckets added and removed, and which settings of a bucket
/// or which table changed (`before`: the live config, `None` if there is none or it does not parse).
pub fn summary(before: Option<&Config>, after: &Config) -> Vec<String> {
    let Some(before) = before else {
        return after
            .buckets
            .iter()
            .map(|b| format!("bucket {} added (account {})", Quoted(&b.name), b.account))
            .collect();
    };
    let mut out = Vec::new();
    for b in &after.buckets {
        match before.buckets.iter().find(|o| o.name == b.name) {
            None => out.push(format!("bucket {} added (account {})", Quoted(&b.name), b.account)),
            Some(o) => {
                let changed = bucket_changes(o, b);
                if !changed.is_empty() {
                    out.push(format!("bucket {}: {} changed", Quoted(&b.name), changed.join(", ")));
                }
            }
        }
    }
    for o in before.buckets.iter().filter(|o| after.bucket(&o.name).is_none()) {
        out.push(format!("bucket {} removed: no longer guarded", Quoted(&o.name)));
    }
    let tables = [
        ("[organisation]", before.organisation != after.organisation),
        ("[[account]]", before.accounts != after.accounts),
        ("[[ou]]", before.ous != after.ous),
        ("[discovery]", before.discovery != after.discovery),
        ("[audit]", before.audit != after.audit),
        ("[[investigator]]", before.investigators != after.investigators),
    ];
    out.extend(tables.iter().filter(|(_, changed)| *changed).map(|(t, _)| format!("{t} changed")));
    out
}

/// The settings of one bucket that differ, by their names in the TOML.
fn bucket_changes(o: &breakglass_config::BucketConfig, b: &breakglass_config::BucketConfig) -> Vec<String> {
    let mut changed: Vec<String> = Vec::new();
    if o.account != b.account {
        changed.push(format!("account ({} to {})", o.account, b.account));
    }
    if o.region != b.region {
        changed.push("region".into());
    }
    if o.max_open_duration != b.max_open_duration {
        changed.push(format!(
            "max_open_duration ({} to {})",
            canonical_policies::HumanDuration(o.max_open_duration),
            canonical_policies::HumanDuration(b.max_open_duration)
        ));
    }
    let sets = [
        ("investigator_roles", &o.investigator_roles, &b.investigator_roles),
        ("automation_principals", &o.automation_principals, &b.automation_principals),
    ];
    changed.extend(sets.iter().filter(|(_, x, y)| x != y).map(|(n, _, _)| (*n).to_owned()));
    let others = [
        ("repair_public_access_block", o.repair_public_access_block != b.repair_public_access_block),
        ("retention_days", o.retention_days != b.retention_days),
        ("two_person", o.two_person != b.two_person),
        ("the ClosedAccess policy", o.closed_hash() != b.closed_hash()),
    ];
    changed.extend(others.iter().filter(|(_, c)| *c).map(|(n, _)| (*n).to_owned()));
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_only_changed_lines() {
        assert_eq!(line_diff("a\nb\nc\n", "a\nB\nc\nd\n"), "- b\n+ B\n+ d");
        assert_eq!(line_diff("", "x"), "+ x");
        assert_eq!(line_diff("same", "same"), "");
    }

    #[test]
    fn summary_names_buckets_added_removed_and_settings_changed() {
        let text = include_str!("../../../examples/breakglass.toml");
        let before = Config::from_toml(text).unwrap();
        let after = text.replacen("max_open_duration = \"4h\"", "max_open_duration = \"2h\"", 1).replacen(
            "[[bucket]]\nname = \"acme-cloudtrail-logs\"",
            "[[bucket]]\nname = \"acme-new-logs\"",
            1,
        );
        let after = Config::from_toml(&after).unwrap();
        assert_eq!(
            summary(Some(&before), &after),
            [
                "bucket `acme-new-logs` added (account 111122223333)",
                "bucket `acme-vpc-flow-logs`: max_open_duration (4h to 2h) changed",
                "bucket `acme-cloudtrail-logs` removed: no longer guarded",
            ]
        );
        assert!(summary(Some(&before), &before).is_empty());
        assert_eq!(summary(None, &before).len(), 2);
    }

    /// The example organisation as Organizations would list it to a delegated administrator.
    fn example_organisation() -> (Config, Members) {
        let config = Config::from_toml(include_str!("../../../examples/organisation.toml")).unwrap();
        let mut active: Vec<String> = config.accounts.iter().map(|a| a.id.clone()).collect();
        active.extend(["999900000000".to_owned(), "000011112222".to_owned()]);
        let members = Members {
            caller_account: "999900000000".into(),
            organisation_id: "o-exampleorg1".into(),
            management_account: Some("000011112222".into()),
            active,
            by_ou: BTreeMap::new(),
        };
        (config, members)
    }

    #[test]
    fn an_administrative_account_that_is_a_member_passes() {
        let (config, members) = example_organisation();
        assert_eq!(check_members(&config, &members), Ok(()));
    }

    #[test]
    fn the_management_account_as_administrative_account_is_refused_before_anything_else() {
        let (config, mut members) = example_organisation();
        members.management_account = Some("999900000000".into());
        // Even in another organisation: no SCP would bind breakglass's own account there either.
        members.organisation_id = "o-elsewhere".into();
        let e = check_members(&config, &members).unwrap_err();
        assert_eq!(
            e,
            PushError::ManagementAccount {
                account: "999900000000".into(),
                organisation: "o-elsewhere".into()
            }
        );
        assert!(e.to_string().starts_with("account `999900000000` is the management account of organization `o-elsewhere`, which no SCP binds"), "{e}");
    }

    /// Deployed in the management account with a config that names a member as the administrative
    /// account: the credentials' own account decides, not the config's word.
    #[test]
    fn credentials_of_the_management_account_are_refused_whatever_the_config_says() {
        let (config, mut members) = example_organisation();
        members.caller_account = "000011112222".into();
        let e = check_members(&config, &members).unwrap_err();
        assert!(
            matches!(e, PushError::ManagementAccount { ref account, .. } if account == "000011112222"),
            "{e}"
        );
        members.caller_account = "111100000000".into();
        let e = check_members(&config, &members).unwrap_err();
        assert!(matches!(e, PushError::NotTheAdministrativeAccount { .. }), "{e}");
        members.caller_account = "999900000000".into();
        members.management_account = None;
        assert!(matches!(check_members(&config, &members), Err(PushError::ManagementUnknown { .. })));
    }
}
