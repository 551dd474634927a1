//! Discovery (`[discovery]`): buckets protected because of their name and tag, not listed by hand.

use std::collections::BTreeSet;

use crate::error::ConfigError;
use crate::names::is_bucket_name;
use crate::raw::RawDiscovery;

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
    pub(crate) fn from_raw(raw: &RawDiscovery) -> Result<Discovery, ConfigError> {
        let invalid =
            |field, value: &str, reason: &str| ConfigError::table("[discovery]", field, value, reason);
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
