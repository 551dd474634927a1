//! Tamper detection for the audit trail: what the versions of its records say about who touched
//! them. The store (S3 with Object Lock and versioning) only lists and fetches; the verdicts are made
//! here. A record is written once under a key that is its content's hash, so a second version of a
//! key, a delete marker, or a record without the notifier's signature never happens unless someone
//! tampered: each becomes a warning, and the original is shown where there is one.

/// What reading a trail found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRead {
    /// (key, text) in key order.
    pub records: Vec<(String, String)>,
    /// Signs of tampering or damage, one sentence each.
    pub warnings: Vec<String>,
}

/// Why a record's signature does not make it the notifier's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    /// It carries no signature (or one that is not hex).
    Unsigned,
    /// Its signature is not the one the records' key makes for its bytes.
    Mismatch,
}

impl Forgery {
    /// The warning for the record `key`.
    pub fn warning(self, key: &str) -> String {
        match self {
            Forgery::Unsigned => {
                format!("record `{key}` is FORGED: it carries no signature of the notifier; not shown")
            }
            Forgery::Mismatch => format!("record `{key}` is FORGED: its signature does not match; not shown"),
        }
    }
}

/// One version of a record as the store gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Its bytes, signature checked (or no signing key configured).
    Bytes(Vec<u8>),
    /// Its signature is missing or wrong.
    Forged(Forgery),
    /// No such record (or version) any more.
    Missing,
}

/// One thing to do while reading the trail, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Fetch this version: the original of its key.
    Read { key: String, version: String },
    /// A sign of tampering found in the listing itself.
    Warn(String),
}

/// The reading plan for a listing: `versions` as (key, version id) in the store's order (a key's
/// versions newest first), `hidden` the keys behind a delete marker. Every key's *original* version
/// is read (Object Lock keeps it under anything written over it); delete markers and later versions
/// are warnings.
pub fn plan(mut versions: Vec<(String, String)>, mut hidden: Vec<String>) -> Vec<Step> {
    // Reversing puts every key's original first (the sort is stable, and timestamps are too coarse
    // to order two writes within one second).
    versions.reverse();
    versions.sort_by(|a, b| a.0.cmp(&b.0));
    hidden.sort();
    hidden.dedup();
    let mut steps: Vec<Step> = hidden
        .into_iter()
        .map(|key| Step::Warn(format!("record `{key}` is hidden behind a delete marker; shown anyway")))
        .collect();
    let mut last_key: Option<String> = None;
    for (key, version) in versions {
        if last_key.as_deref() == Some(key.as_str()) {
            steps.push(Step::Warn(format!(
                "record `{key}` has another version `{version}` written over it; the original is shown"
            )));
            continue;
        }
        last_key = Some(key.clone());
        steps.push(Step::Read { key, version });
    }
    steps
}

impl AuditRead {
    /// Takes in what fetching `version` of `key` gave: a record, or a warning.
    pub fn take(&mut self, key: String, version: &str, fetched: Fetched) {
        match fetched {
            Fetched::Bytes(bytes) => match String::from_utf8(bytes) {
                Ok(text) => self.records.push((key, text)),
                Err(_) => self.warnings.push(format!("record `{key}` is not utf-8; not shown")),
            },
            Fetched::Forged(f) => self.warnings.push(f.warning(&key)),
            Fetched::Missing => {
                self.warnings.push(format!("record `{key}` version `{version}` vanished while read"));
            }
        }
    }
}

/// A signature as stored in the record's metadata (hex); `None` when it is not hex.
pub fn parse_mac(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() % 2 != 0 || s.is_empty() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(key: &str, id: &str) -> (String, String) {
        (key.to_owned(), id.to_owned())
    }

    fn read(key: &str, version: &str) -> Step {
        Step::Read { key: key.to_owned(), version: version.to_owned() }
    }

    #[test]
    fn an_untouched_trail_reads_every_record_once() {
        let steps = plan(vec![v("a", "1"), v("b", "2")], vec![]);
        assert_eq!(steps, vec![read("a", "1"), read("b", "2")]);
    }

    #[test]
    fn a_record_written_over_shows_its_original_and_a_warning() {
        // Newest first, as S3 lists a key's versions.
        let steps = plan(vec![v("a", "new"), v("a", "old"), v("b", "1")], vec![]);
        assert_eq!(
            steps,
            vec![
                read("a", "old"),
                Step::Warn(
                    "record `a` has another version `new` written over it; the original is shown".into()
                ),
                read("b", "1"),
            ]
        );
    }

    #[test]
    fn a_hidden_record_is_read_and_warned_about_once() {
        let steps = plan(vec![v("a", "1")], vec!["a".into(), "a".into()]);
        assert_eq!(
            steps,
            vec![
                Step::Warn("record `a` is hidden behind a delete marker; shown anyway".into()),
                read("a", "1")
            ]
        );
    }

    #[test]
    fn what_a_fetch_gives_becomes_a_record_or_a_warning() {
        let mut out = AuditRead::default();
        out.take("a".into(), "1", Fetched::Bytes(b"{}".to_vec()));
        out.take("b".into(), "2", Fetched::Bytes(vec![0xff]));
        out.take("c".into(), "3", Fetched::Forged(Forgery::Unsigned));
        out.take("d".into(), "4", Fetched::Forged(Forgery::Mismatch));
        out.take("e".into(), "5", Fetched::Missing);
        assert_eq!(out.records, vec![("a".to_owned(), "{}".to_owned())]);
        assert_eq!(
            out.warnings,
            vec![
                "record `b` is not utf-8; not shown",
                "record `c` is FORGED: it carries no signature of the notifier; not shown",
                "record `d` is FORGED: its signature does not match; not shown",
                "record `e` version `5` vanished while read",
            ]
        );
    }

    #[test]
    fn a_signature_is_hex_or_nothing() {
        assert_eq!(parse_mac(" 0aff "), Some(vec![0x0a, 0xff]));
        assert_eq!(parse_mac("abc"), None);
        assert_eq!(parse_mac(""), None);
        assert_eq!(parse_mac("zz"), None);
    }
}
