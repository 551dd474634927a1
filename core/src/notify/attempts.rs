//! The mail of guarded calls AWS refused, digested per bucket (or target) and slot by the recorder:
//! for stakeholders and the security team, as each refused attempt was before, once a slot.

use std::fmt::Write as _;

use breakglass_config::Config;
use serde_json::Value;

use super::mail::{happened, human_text, own_message, section, Rendered, Route, Severity};
use crate::command::command_line;
use crate::events::{self, RefusedCalls};
use crate::guarded::{GuardedCall, Target};
use crate::trail::audit::CONTROL;

pub(super) fn refused_calls(config: &Config, g: &RefusedCalls, d: &Value, id: Option<&str>) -> Rendered {
    let bucket = g.bucket.as_str();
    let what = match &g.target {
        Some(t) if bucket == CONTROL => format!("on {t}"),
        // Counted unread in a flood: the target is in each call's record.
        None if bucket == CONTROL => "outside S3".to_owned(),
        _ => format!("on log bucket {bucket}"),
    };
    let mut email = happened(&format!(
        "AWS REFUSED {} guarded call(s) {what} (recorded between {} and {}). Nothing changed. Each refused call has its own record in the audit trail.",
        g.count, human_text(&g.from), human_text(&g.to)
    ));
    let mut by = String::new();
    for b in &g.by {
        let _ = writeln!(
            by,
            "{} by {}: {} refused, {} to {}",
            b.call,
            b.principal,
            b.count,
            human_text(&b.first),
            human_text(&b.last)
        );
    }
    let others = g.count.saturating_sub(g.by.iter().map(|b| b.count).sum());
    if others > 0 {
        let _ = writeln!(by, "and {others} more by other callers (each in the audit trail)");
    }
    section(&mut email, "Who tried what", by.trim_end());
    let examples: Vec<String> = g
        .examples
        .iter()
        .map(|e| {
            let mut line = format!("{}  {}  {}", e.time, e.principal, e.call);
            if let Some(code) = &e.error {
                let _ = write!(line, " [{code}]");
            }
            if let Some(ip) = &e.source_ip {
                let _ = write!(line, ", from {ip}");
            }
            if let Some(id) = &e.event_id {
                let _ = write!(line, ", event {id}");
            }
            line
        })
        .collect();
    section(&mut email, "First of them", &examples.join("\n"));
    let all = match config.bucket(bucket) {
        Some(b) => {
            let account = config.organisation.as_ref().map(|_| b.account.as_str());
            let mut flags = vec![("--bucket", bucket)];
            flags.extend(account.map(|a| ("--account", a)));
            format!(
                "With BREAKGLASS_CONFIG pointing at the breakglass config (or add --config FILE):\n{}",
                command_line(&["history"], None, &flags)
            )
        }
        None => "Their records are under _attempts/_control/ in the audit bucket.".to_owned(),
    };
    section(&mut email, "All of them", &all);
    let subject =
        format!("{}: {} refused attempt(s) to change it", g.target.as_deref().unwrap_or(bucket), g.count);
    let route = Route {
        kind: "attempt",
        state: "unchanged",
        severity: Severity::Warning,
        bucket: if config.bucket(bucket).is_some() { bucket } else { CONTROL },
        detail_type: events::REFUSED_CALLS,
    };
    let mut rendered = own_message(subject, email, d, route, id);
    // An attempt on the mail channel itself (the key, a topic) also goes to the second channel.
    let on_channel = g.by.iter().any(|b| {
        GuardedCall::ALL
            .iter()
            .any(|c| c.name() == b.call && matches!(c.target(), Target::Key | Target::Topic))
    });
    if let Rendered::Send(n) = &mut rendered {
        n.second_channel = on_channel;
    }
    rendered
}
