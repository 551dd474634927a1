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

/// S3's general purpose bucket naming rules.
pub fn is_bucket_name(s: &str) -> bool {
    bucket_name_problem(s).is_none()
}

/// Why `s` is not a name S3 gives a general purpose bucket (the S3 User Guide's "Bucket naming
/// rules"), or `None` when it is one.
pub fn bucket_name_problem(s: &str) -> Option<&'static str> {
    const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    if !(3..=63).contains(&s.len()) {
        Some("not a valid s3 bucket name: 3 to 63 characters")
    } else if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        Some("not a valid s3 bucket name: only lowercase letters, digits, `.` and `-`")
    } else if !s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        || !s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
    {
        Some("not a valid s3 bucket name: it begins and ends with a letter or digit")
    } else if s.contains("..") || s.contains(".-") || s.contains("-.") {
        Some("not a valid s3 bucket name: no `..`, `.-` or `-.`")
    } else if s.split('.').count() == 4
        && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        Some("not a valid s3 bucket name: it is not an IP address")
    } else if PREFIXES.iter().any(|p| s.starts_with(p)) {
        Some("not a valid s3 bucket name: `xn--`, `sthree-` and `amzn-s3-demo-` are reserved prefixes")
    } else if SUFFIXES.iter().any(|x| s.ends_with(x)) {
        Some("not a valid s3 bucket name: `-s3alias`, `--ol-s3`, `.mrap`, `--x-s3` and `--table-s3` are reserved suffixes")
    } else {
        None
    }
}

/// Only lowercase ASCII letters and digits (AWS's ids of organisations, OUs and Region parts).
pub(crate) fn lower_alnum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}
