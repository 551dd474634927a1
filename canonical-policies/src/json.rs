//! A strict JSON reader for policy documents.
//!
//! Why not serde_json: S3 lets the *last* of two duplicate keys win, so a reviewer can read one value
//! while S3 applies another; we reject duplicates at every depth. We also want a JSON path in every
//! error, a cap on nesting, S3's size rule (whitespace not counted), and number literals exactly as
//! written (AWS turns `1.50` into the string `"1.50"`, not `"1.5"`).

use crate::error::{PolicyError, SyntaxReason};

/// S3's bucket-policy limit: 20 KB, whitespace not counted.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;
/// Hard cap on raw input, so that megabytes of whitespace cannot slip past the size rule.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// A real policy nests 6 deep (`$.Statement[0].Condition.Op.key[0]`); 16 leaves room and bounds recursion.
pub const MAX_DEPTH: usize = 16;
const SMALL_OBJECT: usize = 16;

/// A JSON value. Objects keep their members in input order (keys are unique).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The literal as written, already checked against the RFC 8259 number grammar.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
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

/// A JSON path built on the stack while descending, rendered only when an error needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    pub(crate) fn key<'b>(&'b self, key: &'b str) -> Path<'b> {
        Path::Key(self, key)
    }

    pub(crate) fn index(&self, i: usize) -> Path<'_> {
        Path::Index(self, i)
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Path::Root => out.push('$'),
            Path::Key(parent, key) => {
                parent.write(out);
                let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    out.push('.');
                    out.push_str(key);
                } else {
                    out.push('[');
                    write_json_string(out, key);
                    out.push(']');
                }
            }
            Path::Index(parent, i) => {
                parent.write(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
}

/// Parses one JSON document under the policy limits.
pub fn parse(input: &[u8]) -> Result<Json, PolicyError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(PolicyError::InputTooLarge {
            size: input.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let text = match std::str::from_utf8(input) {
        Ok(text) => text,
        Err(e) => {
            let mut p = Parser::new("");
            p.pos = e.valid_up_to();
            return Err(p.syntax_at(input, &Path::Root, SyntaxReason::NotUtf8));
        }
    };
    let mut p = Parser::new(text);
    p.skip_ws();
    let value = p.value(&Path::Root, 1)?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error(&Path::Root, SyntaxReason::TrailingCharacters));
    }
    let size = input.len() - p.whitespace;
    if size > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            size,
            limit: MAX_POLICY_BYTES,
        });
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Insignificant whitespace seen so far; S3 does not count it towards the size limit.
    whitespace: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            whitespace: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
            self.whitespace += 1;
        }
    }

    fn error(&self, path: &Path<'_>, reason: SyntaxReason) -> PolicyError {
        self.syntax_at(self.bytes, path, reason)
    }

    fn syntax_at(&self, bytes: &[u8], path: &Path<'_>, reason: SyntaxReason) -> PolicyError {
        let before = bytes.get(..self.pos).unwrap_or(bytes);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = 1 + String::from_utf8_lossy(before.get(line_start..).unwrap_or_default())
            .chars()
            .count();
        PolicyError::Syntax {
            path: path.render(),
            line,
            column,
            reason,
        }
    }

    fn unexpected(&self, path: &Path<'_>) -> PolicyError {
        let reason = match self.text.get(self.pos..).and_then(|rest| rest.chars().next()) {
            Some(c) => SyntaxReason::UnexpectedChar(c),
            None => SyntaxReason::UnexpectedEnd,
        };
        self.error(path, reason)
    }

    fn value(&mut self, path: &Path<'_>, depth: usize) -> Result<Json, PolicyError> {
        match self.peek() {
            Some(b'{') => self.object(path, depth),
            Some(b'[') => self.array(path, depth),
            Some(b'"') => self.string(path).map(Json::String),
            Some(b't') => self.literal(path, "true", Json::Bool(true)),
            Some(b'f') => self.literal(path, "false", Json::Bool(false)),
            Some(b'n') => self.literal(path, "null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(path),
            _ => Err(self.unexpected(path)),
        }
    }

    fn enter(&self, path: &Path<'_>, depth: usize) -> Result<(), PolicyError> {
        if depth > MAX_DEPTH {
            return Err(PolicyError::TooDeep {
                path: path.render(),
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn object(&mut self, path: &Path<'_>, depth: usize) -> Result<Json, PolicyError> {
        self.enter(path, depth)?;
        self.pos += 1; // '{'
        let mut members: Vec<(String, Json)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(match self.peek() {
                    None => self.error(path, SyntaxReason::UnexpectedEnd),
                    Some(_) => self.error(path, SyntaxReason::ExpectedKey),
                });
            }
            let key = self.string(path)?;
            // Small objects (every real policy object) are checked as they grow; big ones once, sorted,
            // so that an object of thousands of keys costs n log n, not n².
            if members.len() < SMALL_OBJECT && members.iter().any(|(k, _)| *k == key) {
                return Err(PolicyError::DuplicateKey {
                    path: path.render(),
                    key,
                });
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error(&path.key(&key), SyntaxReason::ExpectedColon));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(&path.key(&key), depth + 1)?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    if members.len() > SMALL_OBJECT {
                        let mut keys: Vec<&String> = members.iter().map(|(k, _)| k).collect();
                        keys.sort_unstable();
                        if let Some(pair) = keys.windows(2).find(|w| w.first() == w.get(1)) {
                            let key = pair.first().map(|k| (*k).clone()).unwrap_or_default();
                            return Err(PolicyError::DuplicateKey {
                                path: path.render(),
                                key,
                            });
                        }
                    }
                    return Ok(Json::Object(members));
                }
                None => return Err(self.error(path, SyntaxReason::UnexpectedEnd)),
                Some(_) => return Err(self.error(path, SyntaxReason::ExpectedCommaOrEnd)),
            }
        }
    }

    fn array(&mut self, path: &Path<'_>, depth: usize) -> Result<Json, PolicyError> {
        self.enter(path, depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            let item = self.value(&path.index(items.len()), depth + 1)?;
            items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                None => return Err(self.error(path, SyntaxReason::UnexpectedEnd)),
                Some(_) => return Err(self.error(path, SyntaxReason::ExpectedCommaOrEnd)),
            }
        }
    }

    fn literal(&mut self, path: &Path<'_>, word: &str, value: Json) -> Result<Json, PolicyError> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected(path))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self, path: &Path<'_>) -> Result<Json, PolicyError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error(path, SyntaxReason::InvalidNumber)),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error(path, SyntaxReason::InvalidNumber));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(path, SyntaxReason::InvalidNumber));
            }
        }
        match self.text.get(start..self.pos) {
            Some(literal) => Ok(Json::Number(literal.to_owned())),
            None => Err(self.error(path, SyntaxReason::InvalidNumber)),
        }
    }

    fn hex4(&mut self, path: &Path<'_>) -> Result<u32, PolicyError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.error(path, SyntaxReason::InvalidUnicodeEscape))?;
            v = v * 16 + digit;
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self, path: &Path<'_>) -> Result<String, PolicyError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error(path, SyntaxReason::UnexpectedEnd));
            };
            match b {
                b'"' | b'\\' => {
                    // Run boundaries sit on ASCII bytes, hence on char boundaries.
                    out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
                    self.pos += 1;
                    if b == b'"' {
                        return Ok(out);
                    }
                    self.escape(path, &mut out)?;
                    run_start = self.pos;
                }
                0x00..=0x1f => return Err(self.error(path, SyntaxReason::ControlCharacter)),
                _ => self.pos += 1,
            }
        }
    }

    fn escape(&mut self, path: &Path<'_>, out: &mut String) -> Result<(), PolicyError> {
        let Some(b) = self.peek() else {
            return Err(self.error(path, SyntaxReason::UnexpectedEnd));
        };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4(path)?;
                let code = match first {
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.error(path, SyntaxReason::LoneSurrogate));
                        }
                        self.pos += 2;
                        let second = self.hex4(path)?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.error(path, SyntaxReason::LoneSurrogate));
                        }
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.error(path, SyntaxReason::LoneSurrogate)),
                    other => other,
                };
                char::from_u32(code).ok_or_else(|| self.error(path, SyntaxReason::InvalidUnicodeEscape))?
            }
            _ => return Err(self.error(path, SyntaxReason::InvalidEscape)),
        };
        out.push(c);
        Ok(())
    }
}

/// Writes `s` as a JSON string: only `"`, `\` and control characters are escaped, so the output is
/// one deterministic byte string for each input string.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
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

    fn err(input: &str) -> String {
        parse(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn parses_nested_documents() {
        let v = parse(br#" {"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00"]} "#).unwrap();
        let Json::Object(members) = v else {
            panic!("not an object")
        };
        assert_eq!(members[0].0, "a");
        let Json::Array(items) = &members[0].1 else {
            panic!("not an array")
        };
        assert_eq!(items[1], Json::Number("-2.5e3".into()));
        assert_eq!(items[5], Json::String("xé😀".into()));
    }

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        assert_eq!(err(r#"{"a":1,"a":2}"#), "duplicate key `a` at $");
        assert_eq!(
            err(r#"{"Statement":[{"Condition":{"Bool":{"k":true,"k":false}}}]}"#),
            "duplicate key `k` at $.Statement[0].Condition.Bool"
        );
    }

    #[test]
    fn duplicate_keys_are_rejected_in_big_objects() {
        let mut doc: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
        doc.push("\"k7\":0".into());
        assert_eq!(err(&format!("{{{}}}", doc.join(","))), "duplicate key `k7` at $");
    }

    #[test]
    fn syntax_errors_say_where() {
        assert_eq!(
            err("{\n  \"a\": [1,]\n}"),
            "invalid json at $.a[1] (line 2, column 11): unexpected character `]`"
        );
        assert_eq!(
            err(r#"{"a" 1}"#),
            "invalid json at $.a (line 1, column 6): expected `:` after an object key"
        );
        assert!(err("{} x").contains("trailing characters"));
        assert!(err(r#""\ud800""#).contains("unpaired utf-16 surrogate"));
        assert!(err("\"a\nb\"").contains("unescaped control character"));
        assert!(err("01").contains("trailing characters"));
        assert!(err("1.").contains("invalid number"));
        assert!(err("[").contains("unexpected end of input"));
        assert!(parse(b"\xff")
            .unwrap_err()
            .to_string()
            .contains("not valid utf-8"));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(err(&deep).starts_with("nesting deeper than 16 levels at $[0]"));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn size_limit_ignores_whitespace() {
        let body = format!("\"{}\"", "a".repeat(MAX_POLICY_BYTES - 2));
        let padded = format!("{}{}{}", " ".repeat(5000), body, "\n".repeat(5000));
        assert!(parse(padded.as_bytes()).is_ok());
        let over = format!("\"{}\"", "a".repeat(MAX_POLICY_BYTES - 1));
        assert_eq!(
            err(&over),
            "policy is 20481 bytes without whitespace, over the s3 limit of 20480"
        );
    }

    #[test]
    fn json_strings_round_trip() {
        for s in [
            "plain",
            "q\"b\\s",
            "ctl\u{1}\n\t",
            "CloudFront Origin Access Identity E1",
            "é😀",
        ] {
            let mut out = String::new();
            write_json_string(&mut out, s);
            assert_eq!(parse(out.as_bytes()).unwrap(), Json::String(s.into()));
        }
    }

    #[test]
    fn paths_quote_unusual_keys() {
        let inner = Path::Root;
        let k = inner.key("aws:SourceIp");
        assert_eq!(k.render(), "$[\"aws:SourceIp\"]");
    }
}
