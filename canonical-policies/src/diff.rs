//! A human diff against the nearest template: statement-level, in plain English, short enough for an
//! email to a works council. Statements are matched by canonical form, then paired by Sid, so that a
//! changed statement reads as "changed" and not as "one removed, one added".

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use time::OffsetDateTime;

use crate::classify::open_grant_candidate;
use crate::grant::BucketTemplates;
use crate::policy::{Clause, Effect, Policy, Principal, Statement};
use crate::template::{OpenGrant, TemplateKind};

/// At most this many lines of changes; an email is not a log file.
pub const MAX_LINES: usize = 12;
/// At most this many actions or resources of a statement are named before "and N more".
const MAX_ITEMS: usize = 3;
/// Who a statement names (principals, condition values such as exempt roles), what changed, and
/// what an allowing statement grants are named in full: "and N more" must not hide the one
/// principal or read action slipped in among decoys. A bucket policy's 20 KB bound the length.
const MAX_NAMED: usize = usize::MAX;

/// The differences between a policy and one template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub template: TemplateKind,
    /// Statements equal in both.
    pub unchanged: usize,
    /// One plain-English line per difference, at most [`MAX_LINES`] (then a line "… and N more").
    pub lines: Vec<String>,
    /// Number of differences before truncation; 0 means the policy is this template.
    pub changes: usize,
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.template {
            TemplateKind::Closed => "ClosedAccess",
            TemplateKind::Open => "OpenAccess",
        };
        if self.changes == 0 {
            return writeln!(f, "Identical to the {name} template.");
        }
        let s = if self.changes == 1 { "" } else { "s" };
        writeln!(
            f,
            "Compared with the {name} template ({} difference{s}, {} statement(s) unchanged):",
            self.changes, self.unchanged
        )?;
        for line in &self.lines {
            writeln!(f, "- {line}")?;
        }
        Ok(())
    }
}

/// Diffs `policy` against whichever template it is nearer to (ClosedAccess wins a tie: it is what the
/// enforcer restores). The OpenAccess compared with uses the policy's own readers and expiry when it
/// has them, else all investigator roles and `now` as a stand-in expiry.
pub fn diff_nearest(
    bucket: &(impl AsRef<BucketTemplates> + ?Sized),
    policy: Option<&Policy>,
    now: OffsetDateTime,
) -> Diff {
    let bucket = bucket.as_ref();
    let closed = diff(bucket.closed_policy(), policy, TemplateKind::Closed);
    let grant = policy
        .and_then(open_grant_candidate)
        .unwrap_or_else(|| OpenGrant { readers: bucket.inputs().investigator_roles.clone(), expiry: now });
    match bucket.render_open_unchecked(&grant) {
        Ok(open_policy) => {
            let open = diff(&open_policy, policy, TemplateKind::Open);
            if open.changes < closed.changes {
                open
            } else {
                closed
            }
        }
        Err(_) => closed,
    }
}

/// Diffs `actual` (None: no policy at all) against `template`.
pub fn diff(template: &Policy, actual: Option<&Policy>, kind: TemplateKind) -> Diff {
    let mut lines = Vec::new();
    let Some(actual) = actual else {
        lines.push("the bucket has no policy at all, so nothing denies reading objects".to_owned());
        return finish(kind, 0, lines);
    };
    if actual.version != template.version {
        let show = |v: Option<crate::Version>| v.map_or("absent".to_owned(), |v| format!("`{}`", v.as_str()));
        lines.push(format!("Version is {} instead of {}", show(actual.version), show(template.version)));
    }
    if actual.id != template.id {
        lines.push(format!("policy Id is {} instead of {}", opt(&actual.id), opt(&template.id)));
    }

    // Match identical statements first (canonical equality), as multisets.
    let mut want: Vec<(String, &Statement)> =
        template.statements.iter().map(|s| (s.canonical_json(), s)).collect();
    let mut extra: Vec<&Statement> = Vec::new();
    let mut unchanged = 0;
    for s in &actual.statements {
        let c = s.canonical_json();
        match want.iter().position(|(w, _)| *w == c) {
            Some(i) => {
                want.remove(i);
                unchanged += 1;
            }
            None => extra.push(s),
        }
    }
    let mut missing: Vec<&Statement> = want.into_iter().map(|(_, s)| s).collect();

    // Pair what is left by Sid: same name, different content = changed.
    let mut changed = Vec::new();
    extra.retain(|e| {
        let pos = e.sid.as_ref().and_then(|sid| missing.iter().position(|m| m.sid.as_ref() == Some(sid)));
        match pos {
            Some(i) => {
                changed.push((missing.remove(i), *e));
                false
            }
            None => true,
        }
    });

    for (t, a) in &changed {
        lines.push(format!("statement {} was changed: {}", name(a), changes(t, a).join("; ")));
    }
    for e in &extra {
        lines.push(format!("statement {} was added: it {}", name(e), present_tense(&describe(e))));
    }
    for m in &missing {
        lines.push(format!("statement {} is missing: it should {}", name(m), describe(m)));
    }
    finish(kind, unchanged, lines)
}

fn finish(template: TemplateKind, unchanged: usize, mut lines: Vec<String>) -> Diff {
    let changes = lines.len();
    if lines.len() > MAX_LINES {
        let more = lines.len() - (MAX_LINES - 1);
        lines.truncate(MAX_LINES - 1);
        lines.push(format!("… and {more} more differences"));
    }
    Diff { template, unchanged, lines, changes }
}

fn opt(s: &Option<String>) -> String {
    s.as_ref().map_or("absent".to_owned(), |s| format!("{}", crate::Quoted(s)))
}

fn name(s: &Statement) -> String {
    match &s.sid {
        Some(sid) => format!("{}", crate::Quoted(sid)),
        None => "without a Sid".to_owned(),
    }
}

/// The first `most` items, then "and N more": "a, b, c and 4 more".
fn list_up_to<'a>(items: impl ExactSizeIterator<Item = &'a str>, most: usize) -> String {
    let total = items.len();
    // The values are the policy writer's: shown so that none can start a line of its own.
    let shown: Vec<std::borrow::Cow<'_, str>> = items.take(most).map(crate::printable).collect();
    let mut out = shown.join(", ");
    if total > most {
        out.push_str(&format!(" and {} more", total - most));
    }
    out
}

fn principals(p: &Principal) -> String {
    match p {
        Principal::Anyone => "everyone".to_owned(),
        Principal::Typed(map) => {
            let all: Vec<&str> = map.values().flatten().map(String::as_str).collect();
            if all == ["*"] {
                "every AWS principal".to_owned()
            } else {
                list_up_to(all.into_iter(), MAX_NAMED)
            }
        }
    }
}

/// "allow …" → "allows …", "deny …" → "denies …".
fn present_tense(description: &str) -> String {
    match description.split_once(' ') {
        Some(("allow", rest)) => format!("allows {rest}"),
        Some(("deny", rest)) => format!("denies {rest}"),
        _ => description.to_owned(),
    }
}

/// "deny everyone s3:GetObject, … on arn:… when ArnNotEquals aws:PrincipalArn …" (imperative, so it
/// reads after "it should"; [`present_tense`] makes "it denies").
pub fn describe(s: &Statement) -> String {
    let verb = match s.effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    };
    let who = principals(&s.principal.values);
    let who = if s.principal.negated { format!("everyone except {who}") } else { who };
    // What an Allow grants is named in full; a Deny's long lists are the templates' own.
    let most = match s.effect {
        Effect::Allow => MAX_NAMED,
        Effect::Deny => MAX_ITEMS,
    };
    let actions = list_up_to(s.action.values.iter().map(|a| a.as_str()), most);
    let actions = if s.action.negated { format!("every action except {actions}") } else { actions };
    let resources = list_up_to(s.resource.values.iter().map(String::as_str), most);
    let resources = if s.resource.negated { format!("everything except {resources}") } else { resources };
    let mut out = format!("{verb} {who} {actions} on {resources}");
    if !s.condition.is_empty() {
        out.push_str(&format!(" when {}", conditions(s)));
    }
    out
}

fn conditions(s: &Statement) -> String {
    let parts: Vec<String> = s
        .condition
        .iter()
        .flat_map(|(op, keys)| {
            keys.iter().map(move |(k, v)| {
                format!(
                    "{op} {} {}",
                    crate::printable(k.as_str()),
                    list_up_to(v.iter().map(String::as_str), MAX_NAMED)
                )
            })
        })
        .collect();
    parts.join(" and ")
}

/// Added and removed members of a set. Items are (comparison key, as shown): actions compare
/// case-insensitively but are shown as written.
fn set_change<'a>(
    what: &str,
    t: impl Iterator<Item = (Cow<'a, str>, &'a str)>,
    a: impl Iterator<Item = (Cow<'a, str>, &'a str)>,
) -> Vec<String> {
    let t: BTreeMap<Cow<'a, str>, &str> = t.collect();
    let a: BTreeMap<Cow<'a, str>, &str> = a.collect();
    let mut out = Vec::new();
    let added: Vec<&str> = a.iter().filter(|(k, _)| !t.contains_key(*k)).map(|(_, v)| *v).collect();
    let removed: Vec<&str> = t.iter().filter(|(k, _)| !a.contains_key(*k)).map(|(_, v)| *v).collect();
    if !added.is_empty() {
        out.push(format!("{what} added: {}", list_up_to(added.into_iter(), MAX_NAMED)));
    }
    if !removed.is_empty() {
        out.push(format!("{what} removed: {}", list_up_to(removed.into_iter(), MAX_NAMED)));
    }
    out
}

fn negation<T>(what: &str, t: &Clause<T>, a: &Clause<T>) -> Option<String> {
    (t.negated != a.negated).then(|| {
        if a.negated {
            format!("{what} turned into Not{what} (it now means everything except these)")
        } else {
            format!("Not{what} turned into {what}")
        }
    })
}

/// The field-level changes from template statement `t` to actual statement `a`.
fn changes(t: &Statement, a: &Statement) -> Vec<String> {
    let mut out = Vec::new();
    if t.effect != a.effect {
        out.push(format!("effect is {} instead of {}", a.effect.as_str(), t.effect.as_str()));
    }
    out.extend(negation("Principal", &t.principal, &a.principal));
    if t.principal.values != a.principal.values {
        match (&t.principal.values, &a.principal.values) {
            (Principal::Typed(tm), Principal::Typed(am)) => out.extend(set_change(
                "principals",
                tm.values().flatten().map(|p| (Cow::Borrowed(p.as_str()), p.as_str())),
                am.values().flatten().map(|p| (Cow::Borrowed(p.as_str()), p.as_str())),
            )),
            _ => out.push(format!(
                "principal is {} instead of {}",
                principals(&a.principal.values),
                principals(&t.principal.values)
            )),
        }
    }
    out.extend(negation("Action", &t.action, &a.action));
    out.extend(set_change(
        "actions",
        t.action.values.iter().map(|x| (x.folded(), x.as_str())),
        a.action.values.iter().map(|x| (x.folded(), x.as_str())),
    ));
    out.extend(negation("Resource", &t.resource, &a.resource));
    out.extend(set_change(
        "resources",
        t.resource.values.iter().map(|r| (Cow::Borrowed(r.as_str()), r.as_str())),
        a.resource.values.iter().map(|r| (Cow::Borrowed(r.as_str()), r.as_str())),
    ));
    if t.condition != a.condition {
        out.extend(condition_changes(t, a));
    }
    if out.is_empty() {
        // Same content under canonical comparison would have matched; only the spelling differs.
        out.push("its content differs".to_owned());
    }
    out
}

/// A condition's changes key by key: the values added to or removed from each operator and key
/// (an exempt role slipped into `ArnNotEquals aws:PrincipalArn` is named), and whole keys added or
/// removed with their values.
fn condition_changes(t: &Statement, a: &Statement) -> Vec<String> {
    // Keyed as IAM compares (keys case-insensitively), shown as written.
    type Keyed = BTreeMap<(String, String), (String, Vec<String>)>;
    let keys = |s: &Statement| -> Keyed {
        s.condition
            .iter()
            .flat_map(|(op, keys)| {
                keys.iter().map(move |(k, v)| {
                    let name = format!("{op} {}", k.as_str());
                    ((op.clone(), k.as_str().to_ascii_lowercase()), (name, v.iter().cloned().collect()))
                })
            })
            .collect()
    };
    let shown = |v: &[String]| list_up_to(v.iter().map(String::as_str), MAX_NAMED);
    let (tk, ak) = (keys(t), keys(a));
    let mut out = Vec::new();
    for (id, (name, values)) in &ak {
        match tk.get(id) {
            None => out.push(format!("condition added: {name} {}", shown(values))),
            Some((_, before)) => out.extend(set_change(
                &format!("condition {name} values"),
                before.iter().map(|v| (Cow::Borrowed(v.as_str()), v.as_str())),
                values.iter().map(|v| (Cow::Borrowed(v.as_str()), v.as_str())),
            )),
        }
    }
    for (id, (name, values)) in &tk {
        if !ak.contains_key(id) {
            out.push(format!("condition removed: {name} {}", shown(values)));
        }
    }
    out
}
