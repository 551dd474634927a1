//! Policy strings as patterns: variable substitution and the `*` / `?` wildcards, of plain strings
//! and of ARNs (part by part).

use super::conditions::is_multivalued;
use super::Context;
use crate::Arn;

/// A policy string after variable substitution: literal characters and the policy's own wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok {
    Lit(char),
    /// `*` written in the policy (a wildcard where the operator allows them).
    Star,
    /// `?` written in the policy.
    One,
}

pub(super) enum Resolved {
    Tokens(Vec<Tok>),
    /// A variable whose key is absent (or multivalued) and that has no default: nothing matches.
    NoValue,
    /// A variable whose key is present with an unknown value.
    Unknown,
}

/// Substitutes policy variables (policy version 2012-10-17 only; before it they are literal text):
/// `${key}` with the key's single value, `${key, 'default'}` with the default when the key is absent,
/// `${*}`, `${?}`, `${$}` with the literal character. Substituted text is never a wildcard.
pub(super) fn resolve(text: &str, ctx: &Context, vars: bool) -> Resolved {
    let plain = |s: &str, out: &mut Vec<Tok>| {
        out.extend(s.chars().map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        }))
    };
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("${").filter(|_| vars) {
        plain(before, &mut out);
        let Some((inner, tail)) = after.split_once('}') else {
            // No closing brace: not a variable.
            plain("${", &mut out);
            rest = after;
            continue;
        };
        match inner {
            "*" | "?" | "$" => out.extend(inner.chars().map(Tok::Lit)),
            _ => match variable(inner, ctx) {
                Resolved::Tokens(t) => out.extend(t),
                other => return other,
            },
        }
        rest = tail;
    }
    plain(rest, &mut out);
    Resolved::Tokens(out)
}

pub(super) fn variable(inner: &str, ctx: &Context) -> Resolved {
    let (name, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((name, default)) => {
            let quoted = default.trim().strip_prefix('\'').and_then(|d| d.strip_suffix('\''));
            match quoted {
                // Inside the quotes, '' stands for one quote.
                Some(d) => (name.trim(), Some(d.replace("''", "'"))),
                None => return Resolved::NoValue,
            }
        }
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Resolved::NoValue;
    }
    let literal = |s: &str| Resolved::Tokens(s.chars().map(Tok::Lit).collect());
    let key = name.to_lowercase();
    match ctx.get(&key) {
        Some(None) => Resolved::Unknown,
        Some(Some(values)) if !values.is_empty() && !is_multivalued(&key, values) => {
            values.first().map_or(Resolved::NoValue, |v| literal(v))
        }
        _ => default.as_deref().map_or(Resolved::NoValue, literal),
    }
}

/// The tokens as plain text (operators without wildcards read `*` and `?` literally).
pub(super) fn literal(tokens: &[Tok]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Tok::Lit(c) => *c,
            Tok::Star => '*',
            Tok::One => '?',
        })
        .collect()
}

/// `*` matches any run of characters (also empty), `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let Resolved::Tokens(p) = resolve(pattern, &Context::new(), false) else {
        return false;
    };
    let t: Vec<char> = text.chars().collect();
    glob_tokens(&p, &t)
}

pub(super) fn glob_tokens(p: &[Tok], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match (p.get(pi), t.get(ti)) {
            (Some(Tok::Star), _) => {
                star = Some((pi, ti));
                pi += 1;
            }
            (Some(Tok::One), Some(_)) => {
                pi += 1;
                ti += 1;
            }
            (Some(Tok::Lit(pc)), Some(tc)) if pc == tc => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Backtrack: let the last `*` swallow one more character.
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == Tok::Star))
}

/// ARN matching as IAM does it: the six colon-separated parts are matched one by one (the last part
/// keeps any further colons), each with `*` and `?` wildcards. `*` alone matches any resource.
#[cfg(test)]
pub(super) fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match resolve(pattern, &Context::new(), false) {
        Resolved::Tokens(p) => arn_tokens_match(&p, arn).unwrap_or(false),
        Resolved::NoValue | Resolved::Unknown => false,
    }
}

/// `None` when either side is not an ARN (fewer than six parts, or not starting with `arn`).
pub(super) fn arn_tokens_match(pattern: &[Tok], arn: &str) -> Option<bool> {
    let mut p: Vec<&[Tok]> = Vec::with_capacity(6);
    let mut rest = pattern;
    while p.len() < 5 {
        let at = rest.iter().position(|t| *t == Tok::Lit(':'))?;
        let (part, tail) = rest.split_at(at);
        p.push(part);
        rest = tail.get(1..)?;
    }
    p.push(rest);
    let a: Vec<Vec<char>> = Arn::parse(arn).ok()?.parts().iter().map(|s| s.chars().collect()).collect();
    if p.first().map(|s| literal(s)).as_deref() != Some("arn") {
        return None;
    }
    Some(p.iter().zip(&a).all(|(p, a)| glob_tokens(p, a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("s3:get*", "s3:getobject"));
        assert!(glob("s3:*", "s3:"));
        assert!(glob("a?c*", "abcdef"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*a*b*", "xxaxxbxx"));
        assert!(!glob("*a*b", "xxaxxbxxc"));
        assert!(arn_like("arn:aws:s3:::b/*", "arn:aws:s3:::b/k:with:colons"));
        assert!(!arn_like("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(arn_like("arn:aws:s3:::b*", "arn:aws:s3:::b:x:y:z:w"));
        assert!(!arn_like("arn:aws:s3:::*", "arn:aws:iam::111122223333:root"));
    }
}
