//! Mails about breakglass's own events, read through their types (`crate::events`): requests,
//! remediations, exposures, misrouted events, config changes and the sentinel's repairs.

use std::fmt::Write as _;

use breakglass_config::Config;
use canonical_policies::Quoted;
use serde_json::Value;

use crate::events::REPAIR;
use crate::events::{self, OwnEvent, OwnEventError};
use crate::time::{parse_time, role_name};

use super::mail::{happened, human_time, own_message, section, Rendered, Route, Severity};

/// breakglass's own events: requests for everybody, remediations, exposures and repairs for the
/// security team, the planned close after expiry for stakeholders. Read through their types
/// (`crate::events`), not by string keys.
pub(super) fn custom(config: &Config, detail_type: &str, d: &Value, id: Option<&str>) -> Rendered {
    let event = match OwnEvent::from_bus(detail_type, d) {
        Ok(e) => e,
        Err(OwnEventError::Unknown(other)) => {
            return Rendered::Ignored(format!("breakglass event {} is not mailed", Quoted(&other)))
        }
        Err(e) => return Rendered::Ignored(e.to_string()),
    };
    if let OwnEvent::Repair(r) = &event {
        return repair(r, d, id);
    }
    if let OwnEvent::Config(c) = &event {
        return config_change(c, d, id);
    }
    if let OwnEvent::RefusedCalls(g) = &event {
        return super::attempts::refused_calls(config, g, d, id);
    }
    if let OwnEvent::Unreadable(u) = &event {
        return super::reads::unreadable(u, d, id);
    }
    if let OwnEvent::RemediationDigest(g) = &event {
        return remediation_digest(config, g, d, id);
    }
    if let OwnEvent::SweepIncomplete(x) = &event {
        return sweep_incomplete(config, x, d, id);
    }
    if let OwnEvent::Discovery(x) = &event {
        return discovery(config, x, d, id);
    }
    let Some(bucket) = event.bucket().filter(|b| config.bucket(b).is_some()).map(str::to_owned) else {
        return Rendered::Ignored("breakglass event for an unknown bucket".into());
    };
    match &event {
        OwnEvent::ReadAlert(a) => return super::reads::read_alert(a, d, id),
        OwnEvent::Denied(g) => return super::reads::denied(g, d, id),
        OwnEvent::WindowReport(r) => return super::reads::window_report(r, d, id),
        OwnEvent::AccessRequest(q) => {
            let account =
                config.organisation.as_ref().and(config.bucket(&bucket)).map(|b| b.account.as_str());
            return super::approval::request(q, account, d, id);
        }
        OwnEvent::Decision(x) => return super::approval::decision(x, d, id),
        _ => {}
    }
    let mut email = String::new();
    let (subject, kind, state, severity) = match &event {
        // The planned end of a window: stakeholders are told, it is not an alert.
        OwnEvent::Remediation(r) if r.outcome == "closed" && r.before.state == "expired" => {
            let reason = r.reason.as_deref().unwrap_or("the OpenAccess expired");
            section(
                &mut email,
                "What happened",
                &format!("The access window of log bucket {bucket} has ended ({reason}). breakglass restored ClosedAccess as planned: nobody can read the logs."),
            );
            if let Some(after) = &r.after.hash {
                section(&mut email, "Policy SHA-256", after);
            }
            (format!("{bucket}: access CLOSED after expiry"), "expiry", "closed".to_owned(), Severity::Info)
        }
        OwnEvent::Remediation(r) => {
            let outcome = r.outcome.as_str();
            let headline = match outcome {
                "closed" => format!("breakglass found an unlawful policy on log bucket {bucket} and restored ClosedAccess. It checked the result: nobody can read the logs."),
                "dry-run" => format!("breakglass found an unlawful policy on log bucket {bucket}. It runs in dry-run mode and changed nothing: act now."),
                "refused" => format!("breakglass found an unlawful policy on log bucket {bucket}, but S3 REFUSED ClosedAccess ({}). The bucket may be readable: act now.", r.error.as_deref().unwrap_or("no detail")),
                "unverified" => format!("breakglass found an unlawful policy on log bucket {bucket} and wrote ClosedAccess, but reading it back still showed {}. It checks again automatically; if this repeats, act now.", r.error.as_deref().unwrap_or("another policy")),
                other => format!("breakglass remediation of log bucket {bucket}: {other}."),
            };
            section(&mut email, "What happened", &headline);
            section(&mut email, "Why", r.reason.as_deref().unwrap_or("not given"));
            let mut state = format!(
                "Before: {} (SHA-256 {})",
                r.before.state,
                r.before.hash.as_deref().unwrap_or("none")
            );
            if let Some(sid) = &r.before.claimed {
                let _ = write!(state, "\nIts first statement called itself {}.", Quoted(sid));
            }
            if let Some(after) = &r.after.hash {
                let _ = write!(state, "\nAfter: SHA-256 {after}");
            }
            section(&mut email, "Policy", &state);
            if !r.diff.is_empty() {
                let text: Vec<String> = r.diff.iter().map(|l| format!("- {l}")).collect();
                section(&mut email, "What was wrong", &text.join("\n"));
            }
            if let Some(t) = &r.trigger {
                section(
                    &mut email,
                    "Triggered by",
                    &match t.event_time.as_deref() {
                        Some(at) => format!(
                            "{} by {} at {}",
                            t.event_name,
                            t.actor.as_deref().unwrap_or("unknown"),
                            super::mail::human_text(at)
                        ),
                        None => format!("{} by {}", t.event_name, t.actor.as_deref().unwrap_or("unknown")),
                    },
                );
            }
            let subject = match outcome {
                "closed" => format!("ALERT {bucket}: unlawful policy reverted to ClosedAccess"),
                "refused" => format!("ALERT {bucket}: S3 REFUSED ClosedAccess, act now"),
                _ => format!("ALERT {bucket}: unlawful policy found ({outcome})"),
            };
            (subject, "remediation", outcome.to_owned(), Severity::Critical)
        }
        OwnEvent::Exposure(x) => {
            section(&mut email, "What happened", &format!("On log bucket {bucket}: {}.", x.what));
            section(
                &mut email,
                "Repair",
                if x.repaired {
                    "The public-access block was turned back on."
                } else {
                    "Not repaired automatically: please review."
                },
            );
            (format!("ALERT {bucket}: {}", x.what), "remediation", "exposed".to_owned(), Severity::Critical)
        }
        OwnEvent::Request(q) => {
            let (subject, state, severity) = request_mail(&mut email, &bucket, q);
            (subject, "request", state.to_owned(), severity)
        }
        OwnEvent::Misrouted(m) => {
            let from = match m.event_accounts.as_slice() {
                [] => "an event that names no account".to_owned(),
                accounts => format!(
                    "an event from account {}",
                    accounts.iter().map(|a| config.account_label(a)).collect::<Vec<_>>().join(" and ")
                ),
            };
            section(
                &mut email,
                "What happened",
                &format!(
                    "breakglass received {from} ({} by {}) that names log bucket {bucket}, which belongs to account {}. It read and wrote NOTHING for it: an event may only act in the account it came from. Someone forged this event, or an event rule forwards from the wrong account: please investigate.",
                    m.event_name,
                    m.actor.as_deref().unwrap_or("an unknown principal"),
                    config.account_label(&m.bucket_account),
                ),
            );
            section(
                &mut email,
                "The bucket",
                "Still checked: the scheduled sweep reads its policy from its own account as always.",
            );
            (
                format!("ALERT {bucket}: event from another account refused"),
                "remediation",
                "misrouted".to_owned(),
                Severity::Critical,
            )
        }
        OwnEvent::Repair(_)
        | OwnEvent::Config(_)
        | OwnEvent::Unreadable(_)
        | OwnEvent::ReadAlert(_)
        | OwnEvent::Denied(_)
        | OwnEvent::RefusedCalls(_)
        | OwnEvent::WindowReport(_)
        | OwnEvent::AccessRequest(_)
        | OwnEvent::Decision(_)
        | OwnEvent::RemediationDigest(_)
        | OwnEvent::SweepIncomplete(_)
        | OwnEvent::Discovery(_) => return Rendered::Ignored("handled above".into()),
    };
    if let OwnEvent::Remediation(r) = &event {
        if let Some(digest) = &r.digest {
            let _ = writeln!(
                email,
                "One of many remediations of this sweep, mailed to people as one digest ({digest})."
            );
        }
    }
    let route = Route { kind, state: &state, severity, bucket: &bucket, detail_type };
    let mut rendered = own_message(subject, email, d, route, id);
    // Part of a digest: email subscriptions skip it (their filter policies exclude `digested`);
    // machine subscribers still get it, and it is recorded.
    if let (Rendered::Send(n), OwnEvent::Remediation(r)) = (&mut rendered, &event) {
        if let Some(digest) = &r.digest {
            n.attributes.push(("digested".into(), digest.clone()));
        }
    }
    rendered
}

/// Many remediations of one sweep, in one mail for people: how many, the common cause when there
/// is one, every cause with its count, and the buckets.
fn remediation_digest(
    config: &Config,
    g: &events::RemediationDigest,
    d: &Value,
    id: Option<&str>,
) -> Rendered {
    // Said as it is: a bucket S3 refused, or that could not be verified closed, may be readable now.
    let closed = g.count.saturating_sub(g.not_closed + g.dry_run);
    let mut what = format!("breakglass found {} log buckets with an unlawful policy in one sweep", g.count);
    if closed == g.count {
        what.push_str(" and restored ClosedAccess on them.");
    } else {
        what.push_str(&format!(". It restored ClosedAccess on {closed} of them."));
        if g.dry_run > 0 {
            what.push_str(&format!(
                " {} were only reported: breakglass runs in dry-run mode and changed nothing.",
                g.dry_run
            ));
        }
        if g.not_closed > 0 {
            what.push_str(&format!(" On {}, S3 refused the change or it could not be verified: those buckets may still be readable. Act now on the buckets marked refused or unverified below.", g.not_closed));
        }
    }
    what.push_str(" Each has its own record in the audit trail; this mail replaces one mail per bucket.");
    let mut email = happened(&what);
    if let Some(cause) = &g.common_cause {
        section(&mut email, "Common cause", cause);
    }
    let mut causes: Vec<String> =
        g.causes.iter().map(|c| format!("{} bucket(s): {}", c.count, c.cause)).collect();
    let unnamed = g.count.saturating_sub(g.causes.iter().map(|c| c.count).sum());
    if unnamed > 0 {
        causes.push(format!("{unnamed} bucket(s): other causes (in each bucket's own record)"));
    }
    section(&mut email, "Causes", &causes.join("\n"));
    // Organisation mode: each bucket with its account (alias) and Region, as single mails name them.
    let place = |name: &str| match config.bucket(name) {
        Some(b) if config.organisation.is_some() => {
            format!(" in {} {}", config.account_label(&b.account), b.region.as_deref().unwrap_or_default())
        }
        _ => String::new(),
    };
    let mut buckets: Vec<String> = g
        .buckets
        .iter()
        .map(|b| format!("{}{} ({} -> {})", b.bucket, place(&b.bucket), b.before, b.outcome))
        .collect();
    if g.count > g.buckets.len() {
        buckets.push(format!("and {} more (each has its own record)", g.count - g.buckets.len()));
    }
    section(&mut email, "Buckets", &buckets.join("\n"));
    let subject = match (&g.common_cause, g.not_closed) {
        (_, n) if n > 0 => {
            format!("ALERT: {n} of {} unlawful bucket policies NOT reverted, act now", g.count)
        }
        _ if g.dry_run > 0 => {
            format!("ALERT: {} buckets with an unlawful policy (dry run: not reverted)", g.count)
        }
        (Some(_), _) => format!("ALERT: {} buckets reverted to ClosedAccess, one cause", g.count),
        (None, _) => format!("ALERT: {} buckets reverted to ClosedAccess", g.count),
    };
    let route = Route::control("remediation", "closed", Severity::Critical, events::REMEDIATION_DIGEST);
    own_message(subject, email, d, route, id)
}

/// A shard of the sweep failed on every try: the security team must know which buckets went
/// unchecked, and where.
fn sweep_incomplete(config: &Config, x: &events::SweepIncomplete, d: &Value, id: Option<&str>) -> Rendered {
    let mut email = String::new();
    let place = match &x.place.region {
        Some(r) => format!("account {} in {r}", config.account_label(&x.place.account)),
        None => format!("account {}", config.account_label(&x.place.account)),
    };
    section(
        &mut email,
        "What happened",
        &format!(
            "The scheduled sweep {} could not check {} log bucket(s) of {place}, after {} tries. Their policies and settings were NOT verified by this sweep: an unlawful policy there may still stand. The next sweep tries again in 15 minutes; if this repeats, check the member role and the buckets now.",
            x.sweep,
            x.unchecked.len(),
            x.attempts
        ),
    );
    let lines: Vec<String> = x.unchecked.iter().map(|u| format!("{}: {}", u.bucket, u.error)).collect();
    section(&mut email, "Unchecked buckets", &lines.join("\n"));
    let subject = format!("ALERT sweep incomplete: {} bucket(s) unchecked in {place}", x.unchecked.len());
    let route = Route::control("remediation", "unchecked", Severity::Critical, events::SWEEP_INCOMPLETE);
    own_message(subject, email, d, route, id)
}

/// Discovery: buckets now protected (stakeholders and security are told, as of a config change),
/// places that could not be listed, or a registry that could not be read (an alert).
fn discovery(config: &Config, x: &events::DiscoveryEvent, d: &Value, id: Option<&str>) -> Rendered {
    let mut email = String::new();
    let (subject, state, severity) = if let Some(e) = &x.error {
        section(&mut email, "What happened", &format!("breakglass could not read its registry of discovered buckets: {e}. Nothing was added or removed; the functions keep protecting the buckets of the last good registry."));
        (
            "ALERT discovery: registry unreadable, last good one in force".to_owned(),
            "unreadable",
            Severity::Critical,
        )
    } else {
        if !x.added.is_empty() {
            let lines: Vec<String> = x
                .added
                .iter()
                .map(|e| format!("{} in {} {}", e.name, config.account_label(&e.account), e.region))
                .collect();
            section(&mut email, "Now protected", &format!("breakglass found {} new log bucket(s) by the organisation's prefix and tag. Every function protects them within a minute, and the next sweep (within 15 minutes) puts ClosedAccess on any that lacks it; they stay protected when the tag is removed; only `[discovery] exclude` in the config takes one out.\n\n{}", x.added.len(), lines.join("\n")));
        }
        if !x.failed.is_empty() {
            let lines: Vec<String> = x
                .failed
                .iter()
                .map(|f| format!("{} {}: {}", config.account_label(&f.account), f.region, f.error))
                .collect();
            section(&mut email, "Not listed", &format!("These accounts and Regions could not be listed; buckets created there are not discovered until they can be:\n\n{}", lines.join("\n")));
        }
        match (x.added.len(), x.failed.is_empty()) {
            (n, true) => (format!("{n} new log bucket(s) now protected"), "discovered", Severity::Info),
            (n, false) => (
                format!("ALERT discovery: {} place(s) not listed, {n} bucket(s) added", x.failed.len()),
                "unlisted",
                Severity::Warning,
            ),
        }
    };
    let route = Route {
        kind: "change",
        state,
        severity,
        bucket: crate::trail::audit::CONTROL,
        detail_type: events::DISCOVERY,
    };
    own_message(subject, email, d, route, id)
}

/// The mail of an operator's request: (subject, state, severity).
fn request_mail(email: &mut String, bucket: &str, q: &events::Request) -> (String, &'static str, Severity) {
    let requester = q.requester.as_str();
    let until = |g: &events::Grant| parse_time(&g.expiry).map(human_time).unwrap_or_else(|| "?".into());
    let readers = |g: &events::Grant| g.readers.join(", ");
    let result = match (q.action.as_str(), &q.grant) {
        (action, _) if q.refused() => {
            section(
                email,
                "What happened",
                &format!("{requester} asked to {action} log bucket {bucket}, and breakglass REFUSED it. Nothing changed."),
            );
            section(email, "Why it was refused", q.error.as_deref().unwrap_or("not given"));
            section(email, "Reason given", q.reason.as_deref().filter(|r| !r.is_empty()).unwrap_or("none"));
            section(email, "Ticket given", q.ticket.as_deref().filter(|r| !r.is_empty()).unwrap_or("none"));
            (format!("{bucket}: REFUSED request to {action} access"), "refused", Severity::Warning)
        }
        ("open", Some(g)) => {
            let mut what = format!("{requester} opened log bucket {bucket} for reading until {}.", until(g));
            if let Some(p) = &q.previous {
                let _ = write!(
                    what,
                    " It was already open until {} for {}; no grant was cut short.",
                    until(p),
                    readers(p)
                );
            }
            section(email, "What happened", &what);
            section(email, "Why", q.reason.as_deref().unwrap_or("not given"));
            section(email, "Ticket", q.ticket.as_deref().unwrap_or("not given"));
            section(email, "Who may read", &readers(g));
            section(email, "Until", &format!("{} (the policy itself denies reading after that)", until(g)));
            (
                format!(
                    "{bucket}: access OPENED until {} ({})",
                    until(g),
                    q.ticket.as_deref().unwrap_or("no ticket")
                ),
                "open",
                Severity::Warning,
            )
        }
        _ => {
            let mut what = format!("{requester} closed log bucket {bucket}: nobody can read the logs.");
            if let Some(p) = &q.previous {
                let _ = write!(what, " Access had been open until {} for {}.", until(p), readers(p));
            }
            section(email, "What happened", &what);
            section(email, "Why", q.reason.as_deref().unwrap_or("not given"));
            (format!("{bucket}: access CLOSED"), "closed", Severity::Info)
        }
    };
    section(email, "When", &super::mail::human_text(&q.time));
    if let Some(h) = &q.policy_hash {
        section(email, "Policy SHA-256", h);
    }
    result
}

/// The sentinel's finding around a bucket (settings), an investigator role (trust) or a topic
/// (subscriptions): always an alert for the security team.
/// A new config: which buckets are protected, who may read, who may act. The security team reads
/// every change of it, as of any policy.
fn config_change(c: &events::ConfigChange, d: &Value, id: Option<&str>) -> Rendered {
    let proposal = c.proposal.as_deref().unwrap_or("?");
    let what = match (c.state.as_deref(), &c.approved_by) {
        (Some("proposed"), _) => format!(
            "{} PROPOSED a new breakglass config for {}. Nothing changes until another operator approves it: breakglass config approve {proposal}",
            c.by, c.location
        ),
        (Some("approved"), Some(approver)) => format!(
            "{approver} approved the breakglass config that {} proposed ({proposal}); the gate wrote it to {}. The functions use it within a minute.",
            c.by, c.location
        ),
        _ => format!(
            "{} pushed a new breakglass config to {}. The functions use it within a minute.",
            c.by, c.location
        ),
    };
    let mut email = happened(&what);
    if !c.changes.is_empty() {
        section(&mut email, "In words", &c.changes.join("\n"));
    }
    section(
        &mut email,
        "Config SHA-256",
        &format!(
            "Before: {}\nAfter: {}",
            c.before_sha256.as_deref().unwrap_or("(none: the first push)"),
            c.after_sha256
        ),
    );
    section(&mut email, "What changed", if c.diff.is_empty() { "(nothing)" } else { &c.diff });
    let short = c.after_sha256.get(..12).unwrap_or(&c.after_sha256);
    let (subject, state) = match c.state.as_deref() {
        Some("proposed") => (format!("breakglass config change PROPOSED ({short}) [{proposal}]"), "proposed"),
        _ => (format!("breakglass config changed ({short})"), "changed"),
    };
    let route = Route::control("config", state, Severity::Warning, events::CONFIG);
    own_message(subject, email, d, route, id)
}

fn repair(r: &events::Repair, d: &Value, id: Option<&str>) -> Rendered {
    let subject = r.subject.as_str();
    let mut email = String::new();
    let thing = match r.kind.as_str() {
        "bucket" => format!("log bucket {subject}"),
        "role" => format!("investigator role {subject}"),
        "heartbeat" => format!("the heartbeat of {subject}"),
        "config" => format!("the config object {subject}"),
        "alarm-topic" => {
            format!("the alarm topic {subject} (the second channel, which carries alerts when mail fails)")
        }
        _ => format!("notification topic {subject}"),
    };
    section(&mut email, "What happened", &format!("On {thing}: {}.", r.what));
    let outcome = match (r.repaired, &r.error) {
        _ if r.kind == "config" => "Every function refused it and keeps the last config the gate sealed. Act now: find who wrote it (the config bucket's CloudTrail data events), and propose any change through the gate: its next write supersedes that version (docs/runbook.md).".to_owned(),
        (true, _) => "breakglass put the lawful state back; the next sweep checks it again.".to_owned(),
        (false, Some(e)) => format!("breakglass could NOT put it back: AWS refused ({e}). Act now."),
        (false, None) => "breakglass cannot put this back by itself: act now.".to_owned(),
    };
    section(&mut email, "Repair", &outcome);
    let short = r.what.split(';').next().unwrap_or(&r.what);
    let route = Route {
        kind: "remediation",
        state: if r.repaired { "repaired" } else { "exposed" },
        severity: Severity::Critical,
        bucket: r.bucket.as_deref().unwrap_or(subject),
        detail_type: REPAIR,
    };
    let mut rendered = own_message(format!("ALERT {}: {short}", role_name(subject)), email, d, route, id);
    // A topic lost a subscription: the alarm topic carries it too.
    if let Rendered::Send(n) = &mut rendered {
        n.second_channel = r.kind == "topic";
    }
    rendered
}
