//! The config made small enough for a CloudFormation parameter or a Lambda environment.

use crate::config::Config;
use crate::error::ConfigError;

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
