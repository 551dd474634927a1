//! The spellings AWS accepts for the names a configuration holds.

/// `eu-central-1`, `us-gov-west-1`, `cn-north-1`: lowercase words and a number, joined by `-`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    (3..=5).contains(&parts.len())
        && s.len() <= 32
        && parts.iter().all(|p| !p.is_empty() && lower_alnum(p))
        && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// An IAM role name: 1-64 of `\w+=,.@-`.
pub(crate) fn is_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// S3 bucket naming rules (the subset that matters for ARNs and hosts).
pub fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// Only lowercase ASCII letters and digits (AWS's ids of organisations, OUs and Region parts).
pub(crate) fn lower_alnum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}
