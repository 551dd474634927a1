//! The canonical form: one byte string per equivalence class of policies, and its SHA-256.
//!
//! The contract (tested in `tests/canonical_contract.rs`, explained in `docs/canonical-form.md`):
//! minified JSON; keys in the order GetBucketPolicy returns them (`Version, Id, Statement`;
//! `Sid, Effect, Principal, Action, Resource, Condition`); `Statement` always an array, its statements
//! sorted by their own canonical bytes; every set sorted bytewise, duplicates dropped, a one-element set
//! written as a bare string; action names and condition keys lowercase; no empty Sid.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::json::write_json_string;
use crate::policy::{CiString, Clause, Policy, Principal, Statement};

/// SHA-256 of a policy's canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyHash([u8; 32]);

impl PolicyHash {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        PolicyHash(Sha256::digest(bytes).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 12 hex characters, for subjects and one-line summaries.
    pub fn short(&self) -> String {
        let mut s = self.to_string();
        s.truncate(12);
        s
    }
}

impl fmt::Display for PolicyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Parses 64 lowercase hex characters.
impl FromStr for PolicyHash {
    type Err = InvalidHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(InvalidHash);
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hex = std::str::from_utf8(pair).map_err(|_| InvalidHash)?;
            *o = u8::from_str_radix(hex, 16).map_err(|_| InvalidHash)?;
        }
        Ok(PolicyHash(out))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a policy hash is 64 lowercase hex characters")]
pub struct InvalidHash;

impl Policy {
    /// The canonical JSON text (see the module docs for the rules).
    pub fn canonical_json(&self) -> String {
        let mut w = Writer::new(Style::Canonical);
        w.policy(self);
        w.out
    }

    /// SHA-256 of [`Policy::canonical_json`].
    pub fn hash(&self) -> PolicyHash {
        PolicyHash::of_bytes(self.canonical_json().as_bytes())
    }

    /// Indented JSON in statement order, with names as written: what `policy render` prints and what
    /// is put on the bucket.
    pub fn to_pretty_json(&self) -> String {
        let mut w = Writer::new(Style::Pretty);
        w.policy(self);
        w.out.push('\n');
        w.out
    }
}

impl Statement {
    /// One statement in canonical form; the unit the policy's statement order is sorted by.
    pub fn canonical_json(&self) -> String {
        let mut w = Writer::new(Style::Canonical);
        w.statement(self);
        w.out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Canonical,
    Pretty,
}

struct Writer {
    out: String,
    style: Style,
    depth: usize,
}

impl Writer {
    fn new(style: Style) -> Self {
        Writer { out: String::with_capacity(1024), style, depth: 0 }
    }

    fn newline(&mut self) {
        if self.style == Style::Pretty {
            self.out.push('\n');
            for _ in 0..self.depth {
                self.out.push_str("  ");
            }
        }
    }

    fn open(&mut self, c: char) {
        self.out.push(c);
        self.depth += 1;
    }

    fn close(&mut self, c: char) {
        self.depth = self.depth.saturating_sub(1);
        self.newline();
        self.out.push(c);
    }

    /// Starts a member or element: a comma unless first, then a new line in pretty style.
    fn item(&mut self, first: &mut bool) {
        if !*first {
            self.out.push(',');
        }
        *first = false;
        self.newline();
    }

    fn key(&mut self, first: &mut bool, key: &str) {
        self.item(first);
        write_json_string(&mut self.out, key);
        self.out.push(':');
        if self.style == Style::Pretty {
            self.out.push(' ');
        }
    }

    /// A set: one element as a bare string (as AWS returns it), more as an array.
    fn set<T>(&mut self, items: impl ExactSizeIterator<Item = T>, mut write: impl FnMut(&mut Self, T)) {
        if items.len() == 1 {
            for item in items {
                write(self, item);
            }
            return;
        }
        self.open('[');
        let mut first = true;
        for item in items {
            self.item(&mut first);
            write(self, item);
        }
        self.close(']');
    }

    fn str(&mut self, s: &str) {
        write_json_string(&mut self.out, s);
    }

    /// A case-insensitive name: lowercase in canonical style, as written in pretty style. The common
    /// case (ASCII, nothing to escape) is lowercased straight into the output, without a copy.
    fn ci(&mut self, s: &CiString) {
        let text = s.as_str();
        match self.style {
            Style::Pretty => write_json_string(&mut self.out, text),
            Style::Canonical
                if text.bytes().all(|b| b.is_ascii() && b >= 0x20 && b != b'"' && b != b'\\') =>
            {
                self.out.reserve(text.len() + 2);
                self.out.push('"');
                self.out.extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
                self.out.push('"');
            }
            Style::Canonical => write_json_string(&mut self.out, &s.folded()),
        }
    }

    fn policy(&mut self, p: &Policy) {
        self.open('{');
        let mut first = true;
        if let Some(v) = p.version {
            self.key(&mut first, "Version");
            write_json_string(&mut self.out, v.as_str());
        }
        if let Some(id) = &p.id {
            self.key(&mut first, "Id");
            write_json_string(&mut self.out, id);
        }
        self.key(&mut first, "Statement");
        match self.style {
            Style::Canonical => {
                // Statement order carries no meaning (IAM evaluates all of them), so sort. Statements
                // are written once into this buffer and sorted as byte ranges: no string per statement.
                let start = self.out.len();
                let mut ranges = Vec::with_capacity(p.statements.len());
                for s in &p.statements {
                    let from = self.out.len();
                    self.statement(s);
                    ranges.push(from - start..self.out.len() - start);
                }
                let written = self.out.split_off(start);
                let bytes = written.as_bytes();
                ranges.sort_unstable_by(|a, b| bytes.get(a.clone()).cmp(&bytes.get(b.clone())));
                self.out.push('[');
                for (i, r) in ranges.into_iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    // Ranges start and end at `{` / `}`, so they are char boundaries.
                    self.out.push_str(written.get(r).unwrap_or_default());
                }
                self.out.push(']');
            }
            Style::Pretty => {
                self.open('[');
                let mut first = true;
                for s in &p.statements {
                    self.item(&mut first);
                    self.statement(s);
                }
                self.close(']');
            }
        }
        self.close('}');
    }

    fn statement(&mut self, s: &Statement) {
        self.open('{');
        let mut first = true;
        if let Some(sid) = &s.sid {
            self.key(&mut first, "Sid");
            write_json_string(&mut self.out, sid);
        }
        self.key(&mut first, "Effect");
        write_json_string(&mut self.out, s.effect.as_str());

        self.key(&mut first, negatable("Principal", &s.principal));
        match &s.principal.values {
            Principal::Anyone => write_json_string(&mut self.out, "*"),
            Principal::Typed(map) => {
                self.open('{');
                let mut inner = true;
                for (kind, values) in map {
                    self.key(&mut inner, kind.as_str());
                    self.set(values.iter(), |w, v| w.str(v));
                }
                self.close('}');
            }
        }

        self.key(&mut first, negatable("Action", &s.action));
        self.set(s.action.values.iter(), Self::ci);

        self.key(&mut first, negatable("Resource", &s.resource));
        self.set(s.resource.values.iter(), |w, v| w.str(v));

        if !s.condition.is_empty() {
            self.key(&mut first, "Condition");
            self.open('{');
            let mut ops = true;
            for (op, keys) in &s.condition {
                self.key(&mut ops, op);
                self.open('{');
                let mut inner = true;
                for (key, values) in keys {
                    self.item(&mut inner);
                    self.ci(key);
                    self.out.push(':');
                    if self.style == Style::Pretty {
                        self.out.push(' ');
                    }
                    self.set(values.iter(), |w, v| w.str(v));
                }
                self.close('}');
            }
            self.close('}');
        }
        self.close('}');
    }
}

fn negatable<T>(name: &'static str, clause: &Clause<T>) -> &'static str {
    match (name, clause.negated) {
        ("Principal", true) => "NotPrincipal",
        ("Action", true) => "NotAction",
        ("Resource", true) => "NotResource",
        (name, _) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_of_a_messy_policy() {
        let p = Policy::parse(
            br#"{ "Statement": { "Condition": {"Bool": {"AWS:SecureTransport": false}},
                  "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b", "arn:aws:s3:::b"],
                  "Action": ["S3:GetObject"], "Principal": {"AWS": ["123456789012"]},
                  "Effect": "Deny", "Sid": "" }, "Version": "2012-10-17" }"#,
        )
        .unwrap();
        assert_eq!(
            p.canonical_json(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:getobject","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:securetransport":"false"}}}]}"#
        );
    }

    #[test]
    fn hash_is_lowercase_hex_and_round_trips() {
        let h = PolicyHash::of_bytes(b"");
        assert_eq!(h.to_string(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(h.to_string().parse::<PolicyHash>().unwrap(), h);
        assert!("E3B0".parse::<PolicyHash>().is_err());
        assert_eq!(h.short(), "e3b0c44298fc");
    }

    #[test]
    fn pretty_output_parses_back_to_the_same_policy() {
        let src = br#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"B","Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:role/a","arn:aws:iam::111122223333:role/b"]},"NotAction":"s3:Put*","NotResource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":["a/*","b/*"]}}},{"Sid":"A","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
        let p = Policy::parse(src).unwrap();
        let pretty = p.to_pretty_json();
        assert!(pretty.starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Id\": \"x\",\n  \"Statement\": [\n    {\n      \"Sid\": \"B\""));
        assert_eq!(Policy::parse(pretty.as_bytes()).unwrap(), p);
        assert_eq!(
            Policy::parse(p.canonical_json().as_bytes()).unwrap().canonical_json(),
            p.canonical_json()
        );
    }
}
