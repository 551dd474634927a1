//! Mails of the two-person rule: a request waiting for another person's approval (to the security
//! team, who approve, and the stakeholders), its approval or denial, and refused decisions
//! (self-approval, not an approver, expired), which are attempts.

use serde_json::Value;

use super::mail::{happened, human_text, own_message, section, Rendered, Route, Severity};
use crate::access::approval::decide_command;
use crate::events::{self, AccessRequest, Decision};

/// `account`: the bucket's account in organisation mode, which the commands must name.
pub(super) fn request(q: &AccessRequest, account: Option<&str>, d: &Value, id: Option<&str>) -> Rendered {
    let bucket = q.bucket.as_str();
    let mut email = happened(&format!(
            "{} asks for read access to log bucket {bucket} for {}. Nothing is open yet: the two-person rule needs another person to approve.",
            q.requester, q.duration
        ));
    section(&mut email, "Why", &q.reason);
    section(&mut email, "Ticket", &q.ticket);
    section(&mut email, "Who would read", &q.readers.join("\n"));
    section(
        &mut email,
        "To decide",
        &format!(
            "As an approver other than the requester, with BREAKGLASS_CONFIG pointing at the breakglass config (or add --config FILE):\n  {}\n  {}\nThe request expires at {}.",
            decide_command("approve", &q.id, bucket, account, None),
            decide_command("deny", &q.id, bucket, account, None),
            human_text(&q.expires_at)
        ),
    );
    let subject = format!("{bucket}: access REQUESTED ({}), waiting for approval [{}]", q.ticket, q.id);
    let route = Route {
        kind: "approval",
        state: "requested",
        severity: Severity::Warning,
        bucket,
        detail_type: events::ACCESS_REQUEST,
    };
    own_message(subject, email, d, route, id)
}

pub(super) fn decision(x: &Decision, d: &Value, id: Option<&str>) -> Rendered {
    let bucket = x.bucket.as_str();
    let mut email = String::new();
    let (subject, kind, severity) = match x.decision.as_str() {
        "approved" => {
            section(
                &mut email,
                "What happened",
                &format!(
                    "{} APPROVED request {} of {} for log bucket {bucket}. The bucket opens for the readers below until {}.",
                    x.by,
                    x.id,
                    x.requester,
                    x.expiry.as_deref().map_or_else(|| "?".to_owned(), human_text)
                ),
            );
            section(&mut email, "Who may read", &x.readers.join("\n"));
            (format!("{bucket}: request {} APPROVED by another person", x.id), "approval", Severity::Warning)
        }
        "denied" => {
            section(
                &mut email,
                "What happened",
                &format!(
                    "{} DENIED request {} of {} for log bucket {bucket}. Nothing was opened.",
                    x.by, x.id, x.requester
                ),
            );
            (format!("{bucket}: request {} denied", x.id), "approval", Severity::Info)
        }
        _ => {
            section(
                &mut email,
                "What happened",
                &format!(
                    "{} tried to decide request {} of {} for log bucket {bucket}, and breakglass REFUSED it. Nothing was opened.",
                    x.by, x.id, x.requester
                ),
            );
            section(&mut email, "Why it was refused", x.error.as_deref().unwrap_or("not given"));
            (format!("{bucket}: REFUSED decision on request {}", x.id), "attempt", Severity::Warning)
        }
    };
    if let Some(r) = &x.reason {
        section(&mut email, "Reason of the request", r);
    }
    if let Some(t) = &x.ticket {
        section(&mut email, "Ticket", t);
    }
    let route = Route { kind, state: &x.decision, severity, bucket, detail_type: events::DECISION };
    own_message(subject, email, d, route, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(account: Option<&str>) -> String {
        let q = AccessRequest::example();
        match request(&q, account, &serde_json::json!({}), Some("ev-1")) {
            Rendered::Send(n) => n.email,
            Rendered::Ignored(why) => panic!("ignored: {why}"),
        }
    }

    /// The mail knows no config path: its commands name bucket and account, and it says once how
    /// the config is found.
    #[test]
    fn the_mailed_decide_commands_name_bucket_and_account() {
        let org = mail(Some("111122223333"));
        for verb in ["approve", "deny"] {
            let want = format!("breakglass {verb} 0123456789ab --bucket acme-logs --account 111122223333");
            assert!(org.lines().any(|l| l.trim() == want), "{org}");
        }
        assert_eq!(org.matches("BREAKGLASS_CONFIG").count(), 1, "{org}");
        let single = mail(None);
        assert!(single.contains("breakglass approve 0123456789ab --bucket acme-logs\n"), "{single}");
        assert!(!single.contains("--account"), "{single}");
    }
}
