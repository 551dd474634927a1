//! The tokenizer: a pull parser over policy JSON, with the paths its errors name.

use std::borrow::Cow;

use super::{write_json_string, Json, MAX_DEPTH, MAX_INPUT_BYTES, MAX_POLICY_BYTES, SMALL_OBJECT};
use crate::error::{PolicyError, SyntaxReason};

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

/// The type of the next value, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// A pull parser: the caller asks for the value it expects next, so a reader can build its own model
/// with no intermediate tree. It enforces the syntax, the input and S3 size limits and (for
/// [`Parser::tree`]) duplicate keys; a caller that reads objects itself must reject duplicates itself.
pub(crate) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Insignificant whitespace seen so far; S3 does not count it towards the size limit.
    whitespace: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Result<Self, PolicyError> {
        if input.len() > MAX_INPUT_BYTES {
            return Err(PolicyError::InputTooLarge { size: input.len(), limit: MAX_INPUT_BYTES });
        }
        match std::str::from_utf8(input) {
            Ok(text) => Ok(Parser { text, bytes: input, pos: 0, whitespace: 0 }),
            Err(e) => {
                let p = Parser { text: "", bytes: input, pos: e.valid_up_to(), whitespace: 0 };
                Err(p.error(&Path::Root, SyntaxReason::NotUtf8))
            }
        }
    }

    /// After the top-level value: nothing but whitespace may follow, and the S3 size limit holds.
    pub(crate) fn finish(mut self) -> Result<(), PolicyError> {
        self.skip_ws();
        if self.pos != self.bytes.len() {
            return Err(self.error(&Path::Root, SyntaxReason::TrailingCharacters));
        }
        let size = self.bytes.len() - self.whitespace;
        if size > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge { size, limit: MAX_POLICY_BYTES });
        }
        Ok(())
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

    pub(crate) fn error(&self, path: &Path<'_>, reason: SyntaxReason) -> PolicyError {
        let before = self.bytes.get(..self.pos).unwrap_or(self.bytes);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column =
            1 + String::from_utf8_lossy(before.get(line_start..).unwrap_or_default()).chars().count();
        PolicyError::Syntax { path: path.render(), line, column, reason }
    }

    fn unexpected(&self, path: &Path<'_>) -> PolicyError {
        let reason = match self.text.get(self.pos..).and_then(|rest| rest.chars().next()) {
            Some(c) => SyntaxReason::UnexpectedChar(c),
            None => SyntaxReason::UnexpectedEnd,
        };
        self.error(path, reason)
    }

    /// The type of the next value, or a syntax error if no value starts here.
    pub(crate) fn peek_kind(&mut self, path: &Path<'_>) -> Result<Kind, PolicyError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b'"') => Ok(Kind::String),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            _ => Err(self.unexpected(path)),
        }
    }

    /// Enters an object or array; `depth` is the depth of the container being entered.
    fn enter(&mut self, path: &Path<'_>, depth: usize) -> Result<(), PolicyError> {
        if depth > MAX_DEPTH {
            return Err(PolicyError::TooDeep { path: path.render(), limit: MAX_DEPTH });
        }
        self.pos += 1; // '{' or '['
        Ok(())
    }

    /// Consumes `{`; the caller has checked [`Parser::peek_kind`].
    pub(crate) fn begin_object(&mut self, path: &Path<'_>, depth: usize) -> Result<(), PolicyError> {
        self.enter(path, depth)
    }

    /// The next key of the current object (with its `:` consumed), or `None` at its `}`.
    pub(crate) fn next_key(
        &mut self,
        path: &Path<'_>,
        first: &mut bool,
    ) -> Result<Option<Cow<'a, str>>, PolicyError> {
        self.skip_ws();
        match (self.peek(), *first) {
            (Some(b'}'), _) => {
                self.pos += 1;
                return Ok(None);
            }
            (Some(b','), false) => {
                self.pos += 1;
                self.skip_ws();
            }
            (None, _) => return Err(self.error(path, SyntaxReason::UnexpectedEnd)),
            (Some(_), false) => return Err(self.error(path, SyntaxReason::ExpectedCommaOrEnd)),
            (Some(_), true) => {}
        }
        *first = false;
        match self.peek() {
            Some(b'"') => {}
            None => return Err(self.error(path, SyntaxReason::UnexpectedEnd)),
            Some(_) => return Err(self.error(path, SyntaxReason::ExpectedKey)),
        }
        let key = self.string(path)?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.error(&path.key(&key), SyntaxReason::ExpectedColon));
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// Consumes `[`; the caller has checked [`Parser::peek_kind`].
    pub(crate) fn begin_array(&mut self, path: &Path<'_>, depth: usize) -> Result<(), PolicyError> {
        self.enter(path, depth)
    }

    /// True if another element of the current array follows (its `,` consumed), false at its `]`.
    pub(crate) fn next_item(&mut self, path: &Path<'_>, first: &mut bool) -> Result<bool, PolicyError> {
        self.skip_ws();
        match (self.peek(), *first) {
            (Some(b']'), _) => {
                self.pos += 1;
                Ok(false)
            }
            (Some(b','), false) => {
                self.pos += 1;
                Ok(true)
            }
            (None, _) => Err(self.error(path, SyntaxReason::UnexpectedEnd)),
            (Some(_), false) => Err(self.error(path, SyntaxReason::ExpectedCommaOrEnd)),
            (Some(_), true) => {
                *first = false;
                Ok(true)
            }
        }
    }

    /// A scalar value: string, number, boolean or null (as a tree node, to keep one representation).
    pub(crate) fn scalar(&mut self, path: &Path<'_>) -> Result<Json<'a>, PolicyError> {
        match self.peek_kind(path)? {
            Kind::String => self.string(path).map(Json::String),
            Kind::Number => self.number(path),
            Kind::Bool if self.peek() == Some(b't') => self.literal(path, "true", Json::Bool(true)),
            Kind::Bool => self.literal(path, "false", Json::Bool(false)),
            Kind::Null => self.literal(path, "null", Json::Null),
            Kind::Array | Kind::Object => Err(self.unexpected(path)),
        }
    }

    /// Any value as a tree; `depth` is the depth the value sits at (1 for the document).
    pub(crate) fn tree(&mut self, path: &Path<'_>, depth: usize) -> Result<Json<'a>, PolicyError> {
        match self.peek_kind(path)? {
            Kind::Object => {
                self.begin_object(path, depth)?;
                let mut members: Vec<(Cow<'a, str>, Json<'a>)> = Vec::new();
                let mut first = true;
                while let Some(key) = self.next_key(path, &mut first)? {
                    // Small objects (every real policy object) are checked as they grow; big ones
                    // once, sorted, so that thousands of keys cost n log n, not n².
                    if members.len() < SMALL_OBJECT && members.iter().any(|(k, _)| *k == key) {
                        return Err(PolicyError::DuplicateKey { path: path.render(), key: key.into_owned() });
                    }
                    let value = self.tree(&path.key(&key), depth + 1)?;
                    members.push((key, value));
                }
                if members.len() > SMALL_OBJECT {
                    let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
                    keys.sort_unstable();
                    if let Some(pair) = keys.windows(2).find(|w| w.first() == w.get(1)) {
                        let key = pair.first().map(|k| (*k).to_owned()).unwrap_or_default();
                        return Err(PolicyError::DuplicateKey { path: path.render(), key });
                    }
                }
                Ok(Json::Object(members))
            }
            Kind::Array => {
                self.begin_array(path, depth)?;
                let mut items = Vec::new();
                let mut first = true;
                while self.next_item(path, &mut first)? {
                    items.push(self.tree(&path.index(items.len()), depth + 1)?);
                }
                Ok(Json::Array(items))
            }
            _ => self.scalar(path),
        }
    }

    fn literal(&mut self, path: &Path<'_>, word: &str, value: Json<'a>) -> Result<Json<'a>, PolicyError> {
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

    fn number(&mut self, path: &Path<'_>) -> Result<Json<'a>, PolicyError> {
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
            Some(literal) => Ok(Json::Number(Cow::Borrowed(literal))),
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

    /// A string value; the caller has checked that one starts here.
    pub(crate) fn string(&mut self, path: &Path<'_>) -> Result<Cow<'a, str>, PolicyError> {
        self.pos += 1; // opening quote
        let start = self.pos;
        // Fast path: most strings have no escapes and can be borrowed from the input.
        let rest = self.bytes.get(start..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20) {
            Some(i) if rest.get(i) == Some(&b'"') => {
                self.pos = start + i + 1;
                return Ok(Cow::Borrowed(self.text.get(start..start + i).unwrap_or_default()));
            }
            Some(i) => self.pos = start + i,
            None => {
                self.pos = self.bytes.len();
                return Err(self.error(path, SyntaxReason::UnexpectedEnd));
            }
        }
        let mut out = String::from(self.text.get(start..self.pos).unwrap_or_default());
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
                        return Ok(Cow::Owned(out));
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

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn err(input: &str) -> String {
        parse(input.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn parses_nested_documents() {
        let v = parse(br#" {"a": [1, -2.5e3, true, false, null, "x\u00e9\ud83d\ude00"]} "#).unwrap();
        let Json::Object(members) = v else { panic!("not an object") };
        assert_eq!(members[0].0, "a");
        let Json::Array(items) = &members[0].1 else { panic!("not an array") };
        assert_eq!(items[1], Json::Number("-2.5e3".into()));
        assert_eq!(items[5], Json::String("xé😀".into()));
        assert!(matches!(&members[0].0, Cow::Borrowed(_)), "plain strings are borrowed");
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
        assert!(parse(b"\xff").unwrap_err().to_string().contains("not valid utf-8"));
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
        assert_eq!(err(&over), "policy is 20481 bytes without whitespace, over the s3 limit of 20480");
    }

    #[test]
    fn paths_quote_unusual_keys() {
        let inner = Path::Root;
        let k = inner.key("aws:SourceIp");
        assert_eq!(k.render(), "$[\"aws:SourceIp\"]");
    }
}
