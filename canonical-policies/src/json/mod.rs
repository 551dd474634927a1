//! A strict JSON reader for policy documents.
//!
//! Why not serde_json: S3 lets the *last* of two duplicate keys win, so a reviewer can read one value
//! while S3 applies another; we reject duplicates at every depth. We also want a JSON path in every
//! error, a cap on nesting, S3's size rule (whitespace not counted), and number literals exactly as
//! written (AWS turns `1.50` into the string `"1.50"`, not `"1.5"`).

mod parser;

use std::borrow::Cow;

use crate::error::PolicyError;
pub(crate) use parser::{Kind, Parser, Path};

/// S3's bucket-policy limit: 20 KB, whitespace not counted.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;
/// Hard cap on raw input, so that megabytes of whitespace cannot slip past the size rule.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// A real policy nests 6 deep (`$.Statement[0].Condition.Op.key[0]`); 16 leaves room and bounds recursion.
pub(crate) const MAX_DEPTH: usize = 16;
const SMALL_OBJECT: usize = 16;

/// A JSON value. Objects keep their members in input order (keys are unique). Strings borrow from
/// the input unless they contain escapes: a policy is mostly strings, and copying each one was most of
/// the parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// The literal as written, already checked against the RFC 8259 number grammar.
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Json<'_> {
    /// The same value, owning all its text.
    pub fn into_owned(self) -> Json<'static> {
        match self {
            Json::Null => Json::Null,
            Json::Bool(b) => Json::Bool(b),
            Json::Number(n) => Json::Number(Cow::Owned(n.into_owned())),
            Json::String(s) => Json::String(Cow::Owned(s.into_owned())),
            Json::Array(items) => Json::Array(items.into_iter().map(Json::into_owned).collect()),
            Json::Object(members) => Json::Object(
                members.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())).collect(),
            ),
        }
    }

    /// The JSON type name, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses one JSON document under the policy limits into a tree (templates, config, tests). Bucket
/// policies are read without a tree, straight from the [`Parser`]; both share this tokenizer.
pub fn parse(input: &[u8]) -> Result<Json<'_>, PolicyError> {
    let mut p = Parser::new(input)?;
    let value = p.tree(&Path::Root, 1)?;
    p.finish()?;
    Ok(value)
}

impl Json<'_> {
    /// Compact JSON text of this value, members in their order.
    pub fn to_text(&self) -> String {
        self.to_text_spaced(&mut |_| {})
    }

    /// The same text with `space` called wherever JSON allows insignificant whitespace (around
    /// every value, key and closing bracket): what a writer of policies may add, for tests that
    /// prove it changes nothing.
    pub fn to_text_spaced(&self, space: &mut dyn FnMut(&mut String)) -> String {
        let mut out = String::new();
        self.write(&mut out, space);
        out
    }

    fn write(&self, out: &mut String, space: &mut dyn FnMut(&mut String)) {
        space(out);
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_json_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out, space);
                }
                space(out);
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(out);
                    write_json_string(out, k);
                    space(out);
                    out.push(':');
                    v.write(out, space);
                }
                space(out);
                out.push('}');
            }
        }
        space(out);
    }
}

/// Writes `s` as a JSON string: only `"`, `\` and control characters are escaped, so the output is
/// one deterministic byte string for each input string.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if u32::from(c) < 0x20 => "",
            _ => continue,
        };
        out.push_str(s.get(run_start..i).unwrap_or_default());
        if escaped.is_empty() {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push_str(escaped);
        }
        run_start = i + c.len_utf8();
    }
    out.push_str(s.get(run_start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_text_round_trips() {
        let text = r#"{"a":[1,-2.5e3,true,false,null,"x\"y"],"b":{}}"#;
        assert_eq!(parse(text.as_bytes()).unwrap().to_text(), text);
    }

    #[test]
    fn json_strings_round_trip() {
        for s in ["plain", "q\"b\\s", "ctl\u{1}\n\t", "CloudFront Origin Access Identity E1", "é😀"] {
            let mut out = String::new();
            write_json_string(&mut out, s);
            assert_eq!(parse(out.as_bytes()).unwrap(), Json::String(s.into()));
        }
    }
}
