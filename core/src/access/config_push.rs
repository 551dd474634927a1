//! `breakglass config push`: what is checked before a config replaces the one the functions read,
//! and the difference people are shown (and mailed).

use std::collections::BTreeMap;

use breakglass_config::Config;
use canonical_policies::Quoted;

/// Lines of difference shown and mailed at most; the rest is counted.
const MAX_DIFF_LINES: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PushError {
    #[error("the config names organization {}, but these credentials are in organization {}", Quoted(.config), Quoted(.actual))]
    OtherOrganisation { config: String, actual: String },
    #[error("account {} is not an active member of organization {}: breakglass would assume a role outside it", Quoted(.account), Quoted(.organisation))]
    NotMember { account: String, organisation: String },
    #[error("bucket {}: account {} is in no `[[ou]]` with region {}, as AWS Organizations lists them", Quoted(.bucket), Quoted(.account), Quoted(.region))]
    NotInOu { bucket: String, account: String, region: String },
}

/// Every `[[account]]` (and the administrative account) must be an active member of the config's
/// organisation, as AWS Organizations lists it; a bucket of an account not listed by ID must be in
/// an `[[ou]]` (`ou_members`: the active accounts in each, sub-OUs included) that has its Region.
pub fn check_members(
    config: &Config,
    organisation_id: &str,
    active: &[String],
    ou_members: &BTreeMap<String, Vec<String>>,
) -> Result<(), PushError> {
    let Some(org) = &config.organisation else { return Ok(()) };
    if org.id != organisation_id {
        return Err(PushError::OtherOrganisation {
            config: org.id.clone(),
            actual: organisation_id.to_owned(),
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_shows_only_changed_lines() {
        assert_eq!(line_diff("a\nb\nc\n", "a\nB\nc\nd\n"), "- b\n+ B\n+ d");
        assert_eq!(line_diff("", "x"), "+ x");
        assert_eq!(line_diff("same", "same"), "");
    }
}
