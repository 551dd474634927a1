//! Typed errors. Every message is one lowercase line; input text appears in backticks, escaped and
//! shortened, because policies and events are attacker-controlled and end up in logs and emails.

use std::fmt;

/// Why a policy document was rejected. `path` is a JSON path such as `$.Statement[1].Action`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("input is {size} bytes, over the {limit}-byte read limit")]
    InputTooLarge { size: usize, limit: usize },
    #[error("policy is {size} bytes without whitespace, over the s3 limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid json at {path} (line {line}, column {column}): {reason}")]
    Syntax { path: String, line: usize, column: usize, reason: SyntaxReason },
    #[error("nesting deeper than {limit} levels at {path}")]
    TooDeep { path: String, limit: usize },
    #[error("duplicate key {} at {path}", Quoted(.key))]
    DuplicateKey { path: String, key: String },
    #[error("unknown key {} at {path}", Quoted(.key))]
    UnknownKey { path: String, key: String },
    #[error("expected {expected} at {path}, found {found}")]
    WrongType { path: String, expected: &'static str, found: &'static str },
    #[error("missing {} at {path}", Quoted(.key))]
    Missing { path: String, key: &'static str },
    #[error("both `{first}` and `{second}` at {path}; a statement takes exactly one of them")]
    Both { path: String, first: &'static str, second: &'static str },
    #[error("neither `{first}` nor `{second}` at {path}; a bucket-policy statement needs one of them")]
    Neither { path: String, first: &'static str, second: &'static str },
    #[error("empty {what} at {path}")]
    Empty { path: String, what: &'static str },
    #[error("invalid value {} at {path}: {reason}", Quoted(.value))]
    InvalidValue { path: String, value: String, reason: &'static str },
}

/// What exactly was wrong with the JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxReason {
    NotUtf8,
    UnexpectedEnd,
    UnexpectedChar(char),
    ExpectedColon,
    ExpectedCommaOrEnd,
    ExpectedKey,
    InvalidEscape,
    InvalidUnicodeEscape,
    LoneSurrogate,
    ControlCharacter,
    InvalidNumber,
    TrailingCharacters,
}

impl fmt::Display for SyntaxReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => f.write_str("input is not valid utf-8"),
            Self::UnexpectedEnd => f.write_str("unexpected end of input"),
            Self::UnexpectedChar(c) => write!(f, "unexpected character {}", Quoted(&c.to_string())),
            Self::ExpectedColon => f.write_str("expected `:` after an object key"),
            Self::ExpectedCommaOrEnd => f.write_str("expected `,` or the end of the container"),
            Self::ExpectedKey => f.write_str("expected a string key"),
            Self::InvalidEscape => f.write_str("invalid escape sequence"),
            Self::InvalidUnicodeEscape => f.write_str("invalid \\u escape"),
            Self::LoneSurrogate => f.write_str("unpaired utf-16 surrogate in \\u escape"),
            Self::ControlCharacter => f.write_str("unescaped control character in string"),
            Self::InvalidNumber => f.write_str("invalid number"),
            Self::TrailingCharacters => f.write_str("trailing characters after the document"),
        }
    }
}

/// Whether `c` would change how the text around it reads rather than be seen: control characters
/// (a newline starts a line of its own in a mail), line and paragraph separators, and the
/// invisible format characters that reorder or hide text (bidirectional overrides, zero widths).
pub fn hides_or_moves_text(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `text` as a person may safely read it inside a line of a mail: every character that
/// [`hides_or_moves_text`] shown as `\u{…}`. Values out of a policy or an event (condition values,
/// object keys) are the attacker's: unescaped, a newline in one would write sections of its own into
/// the stakeholders' mail.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(hides_or_moves_text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hides_or_moves_text(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Shows untrusted text in backticks: control characters escaped, at most 80 characters, so that a
/// message stays on one line whatever the input.
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 80;
        f.write_str("`")?;
        for (i, c) in self.0.chars().enumerate() {
            if i == MAX_CHARS {
                f.write_str("…")?;
                break;
            }
            match c {
                '`' => f.write_str("\\`")?,
                c if hides_or_moves_text(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes_newlines_and_truncates() {
        let long = "a".repeat(200);
        let shown = Quoted(&long).to_string();
        assert_eq!(shown.chars().count(), 83);
        assert_eq!(Quoted("x\ny`").to_string(), "`x\\u{a}y\\``");
    }
}
