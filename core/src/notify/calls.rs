//! Mails about CloudTrail's records of guarded calls: policy changes, refused attempts, setting
//! changes that weaken a bucket, and calls on what breakglass depends on (roles, key, topics).

use std::fmt::Write as _;

use breakglass_config::{BucketConfig, Config};
use canonical_policies::{
    classify, classify_text, diff_nearest, format_expiry, Classification, Policy, Quoted, State,
};
use time::OffsetDateTime;

use crate::guard::enforce::exposure;
use crate::guarded::{GuardedCall, Response, Target};
use crate::inbound::event::ApiCall;
use crate::ports::Notification;
use crate::time::{parse_time, role_name};

use super::mail::{finish, happened, human_time, section, Rendered, Scope, Severity};
use crate::notice::{Call, PolicyDocument};

pub(super) fn api_call(config: &Config, scope: &Scope, call: &ApiCall, now: OffsetDateTime) -> Rendered {
    let Some(guarded) = call.guarded() else {
        return Rendered::Ignored(format!("{} is not a guarded call", Quoted(&call.event.name)));
    };
    if guarded.target() != Target::Bucket {
        return control_call(config, scope, guarded, call);
    }
    let Some(name) = call.bucket.as_deref() else {
        // Never silent: a guarded call on an unknown bucket may be on a protected one.
        return Rendered::Send(Box::new(no_bucket(guarded, call)));
    };
    let Some(bucket) = config.bucket(name) else {
        return Rendered::Ignored(format!("bucket {} is not protected", Quoted(name)));
    };
    if call.is_attempt() {
        return Rendered::Send(Box::new(attempt(bucket, guarded, call)));
    }
    if !guarded.touches_policy() {
        return Rendered::Send(Box::new(setting_change(config, bucket, guarded, call)));
    }
    Rendered::Send(Box::new(policy_change(bucket, guarded, call, now)))
}

/// The state a policy call leaves the bucket in, judged from the policy in the event.
fn resulting(
    bucket: &BucketConfig,
    guarded: GuardedCall,
    call: &ApiCall,
    now: OffsetDateTime,
) -> (Classification, Option<Policy>) {
    match (guarded, call.policy_text()) {
        (GuardedCall::PutBucketPolicy, Some(text)) => {
            let at = call.event.time.as_deref().and_then(parse_time).unwrap_or(now);
            classify_text(bucket, Some(text.as_bytes()), at)
        }
        _ => (classify(bucket, None, now), None),
    }
}

fn policy_change(
    bucket: &BucketConfig,
    guarded: GuardedCall,
    call: &ApiCall,
    now: OffsetDateTime,
) -> Notification {
    let (c, policy) = resulting(bucket, guarded, call, now);
    let b = &bucket.name;
    let (headline, subject, severity) = match (&c.state, guarded) {
        (_, GuardedCall::DeleteBucketPolicy) => (
            format!("The bucket policy of log bucket {b} was deleted. Until ClosedAccess is back, anyone whose own AWS permissions allow reading files can read the logs. breakglass puts ClosedAccess back at once, and the security team is told whether that worked."),
            format!("ALERT {b}: bucket policy DELETED"),
            Severity::Critical,
        ),
        (State::Closed, _) => (
            format!("Access to log bucket {b} was closed: nobody can read the logs (ClosedAccess)."),
            format!("{b}: access CLOSED"),
            Severity::Info,
        ),
        (State::Open(_), _) if !call.actor.principal_arns().any(|a| bucket.automation_principals.contains(a)) => (
            format!("Access to log bucket {b} was opened by someone who is not a break-glass operator. breakglass closes it again at once, and the security team is told whether that worked."),
            format!("ALERT {b}: access opened by an unauthorised principal"),
            Severity::Critical,
        ),
        (State::Open(g), _) => (
            format!(
                "Access to log bucket {b} was opened for {} until {} (OpenAccess). Reading ends at that time even if nobody closes it.",
                g.readers.iter().map(|r| role_name(r)).collect::<Vec<_>>().join(", "),
                human_time(g.expiry)
            ),
            format!("{b}: access OPENED until {}", human_time(g.expiry)),
            Severity::Warning,
        ),
        (State::Expired(g), _) => (
            format!("An OpenAccess for log bucket {b} was written that had already expired at {}.", human_time(g.expiry)),
            format!("{b}: expired OpenAccess written"),
            Severity::Warning,
        ),
        (State::Drift(_), _) => (
            format!("The bucket policy of log bucket {b} was changed to a policy that is neither ClosedAccess nor a lawful OpenAccess. Until ClosedAccess is back, the logs may be readable. breakglass puts ClosedAccess back at once, and the security team is told whether that worked."),
            format!("ALERT {b}: unlawful bucket policy written"),
            Severity::Critical,
        ),
    };
    // A put whose policy the record lacks, or holds unreadable, left *a* policy, not none: said so,
    // rather than "no bucket policy" (the enforcer reads the live one either way).
    let unseen = guarded == GuardedCall::PutBucketPolicy && policy.is_none();
    let headline = match unseen {
        true => format!("The bucket policy of log bucket {b} was replaced, and the record does not show it readably. breakglass reads the live policy and puts ClosedAccess back if it is not lawful; the security team is told what it found."),
        false => headline,
    };
    let mut email = happened(&headline);
    let state = match (unseen, call.policy_text()) {
        (true, None) => "A policy the record does not show: breakglass reads the live one.".to_owned(),
        (true, Some(_)) => format!("A policy that cannot be read ({c}): breakglass reads the live one."),
        (false, _) => state_text(&c),
    };
    section(&mut email, "Resulting state", &state);
    if unseen {
        // Nothing to compare with the templates.
    } else if matches!(c.state, State::Drift(_)) || guarded == GuardedCall::DeleteBucketPolicy {
        let diff = diff_nearest(bucket, policy.as_ref(), now);
        section(&mut email, "How it differs from the lawful policy", diff.to_string().trim_end());
    }
    who_when_where(&mut email, call);
    let state = match guarded {
        GuardedCall::DeleteBucketPolicy => "none",
        _ => c.state.word(),
    };
    let document = Call { policy: Some(state_json(&c)), ..call_document(severity, b, guarded, state, call) };
    finish(subject, email, "change", severity, document)
}

fn attempt(bucket: &BucketConfig, guarded: GuardedCall, call: &ApiCall) -> Notification {
    let b = &bucket.name;
    let code = call.error.code.as_deref().unwrap_or("an error");
    let mut email = happened(&format!(
        "Someone tried to change log bucket {b} ({}), and AWS refused it with {code}. Nothing changed.",
        call_in_words(guarded)
    ));
    if let Some(msg) = &call.error.message {
        section(&mut email, "AWS said", msg);
    }
    who_when_where(&mut email, call);
    let document = Call {
        error: Some(call.error.clone()),
        ..call_document(Severity::Warning, b, guarded, "unchanged", call)
    };
    let subject = format!("{b}: refused attempt to {} ({code})", call_in_words(guarded));
    finish(subject, email, "attempt", Severity::Warning, document)
}

/// A bucket setting change that destroys, copies out or exposes the logs, in words.
fn weakening(config: &Config, guarded: GuardedCall, call: &ApiCall) -> Option<String> {
    if let Some(e) = exposure(guarded, call) {
        return Some(e);
    }
    match guarded {
        GuardedCall::PutBucketTagging | GuardedCall::DeleteBucketTagging => untagged(config, guarded, call),
        GuardedCall::PutBucketVersioning => call
            .versioning
            .as_deref()
            .filter(|v| *v != "Enabled")
            .map(|v| format!("versioning set to `{v}`; breakglass turns it back on")),
        GuardedCall::PutBucketLifecycle => Some(
            "the lifecycle rules were changed; breakglass removes them if any expires logs sooner than the retention"
                .into(),
        ),
        GuardedCall::PutBucketReplication => {
            Some("replication was configured, which copies every log object elsewhere; breakglass removes it".into())
        }
        // A public grant is an exposure (above); any other ACL is no weakening: ClosedAccess's
        // explicit deny outranks every ACL grant of reading objects.
        GuardedCall::DeleteBucketLifecycle | GuardedCall::PutBucketAcl => None,
        g => matches!(g.response(), Response::Alert).then(|| format!("a change that can {}", g.threat())),
    }
}

/// A tagging call that took the discovery tag (`[discovery] tag`) off, in words; `None` when no
/// discovery tag is configured or the new tag set still carries it.
fn untagged(config: &Config, guarded: GuardedCall, call: &ApiCall) -> Option<String> {
    let discovery = config.discovery.as_ref()?;
    let (key, value) = discovery.tag.as_ref()?;
    let kept = match guarded {
        // A record without the tag set cannot show the tag kept: assume the worst.
        GuardedCall::PutBucketTagging => call.tags.as_deref().is_some_and(|t| discovery.tagged(t)),
        _ => false,
    };
    let shown = value.as_ref().map_or_else(|| key.clone(), |v| format!("{key}={v}"));
    (!kept).then(|| {
        format!(
            "the tag `{shown}` that marks protected log buckets was removed; the bucket stays protected, and breakglass puts the tag back"
        )
    })
}

fn setting_change(
    config: &Config,
    bucket: &BucketConfig,
    guarded: GuardedCall,
    call: &ApiCall,
) -> Notification {
    let b = &bucket.name;
    let weakening = weakening(config, guarded, call);
    let severity = if weakening.is_some() { Severity::Critical } else { Severity::Info };
    let mut email = String::new();
    // What happens next, as breakglass does it: a reader must know whether anyone has to act.
    let next = match guarded {
        GuardedCall::PutBucketAcl => {
            "breakglass does not undo an ACL change: the security team is alerted and must set it back to private."
        }
        GuardedCall::PutBucketPublicAccessBlock | GuardedCall::DeleteBucketPublicAccessBlock
            if bucket.repair_public_access_block =>
        {
            "breakglass turns the public-access block back on, and the security team is alerted."
        }
        GuardedCall::PutBucketPublicAccessBlock | GuardedCall::DeleteBucketPublicAccessBlock => {
            "breakglass does not turn it back on for this bucket (its `repair_public_access_block` is off): the security team is alerted and must."
        }
        GuardedCall::PutBucketOwnershipControls | GuardedCall::DeleteBucketOwnershipControls => {
            "breakglass puts BucketOwnerEnforced back, which turns ACLs off, and the security team is alerted."
        }
        g if matches!(g.response(), Response::Alert) => {
            "breakglass does not undo this change: the security team is alerted and must check it."
        }
        _ => "The security team is alerted.",
    };
    let headline = match &weakening {
        Some(w) => {
            format!("A setting that keeps the logs of bucket {b} private and intact was changed: {w}. {next}")
        }
        None => format!(
            "The {} of log bucket {b} {} changed; the change does not open the bucket.",
            setting_name(guarded),
            if setting_name(guarded) == "tags" { "were" } else { "was" }
        ),
    };
    section(&mut email, "What happened", &headline);
    who_when_where(&mut email, call);
    let state = if weakening.is_some() { "exposed" } else { "unchanged" };
    let subject = match weakening {
        Some(_) => format!("ALERT {b}: {} weakened", setting_name(guarded)),
        None => format!("{b}: {} changed", setting_name(guarded)),
    };
    let document = Call { exposure: Some(weakening), ..call_document(severity, b, guarded, state, call) };
    finish(subject, email, "change", severity, document)
}

pub(super) fn state_text(c: &Classification) -> String {
    let mut out = match &c.state {
        State::Closed => "Closed: nobody can read the logs.".to_owned(),
        State::Open(g) => format!(
            "Open until {} for: {}.",
            human_time(g.expiry),
            g.readers.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
        ),
        State::Expired(g) => format!("Expired at {}: nobody can read the logs.", human_time(g.expiry)),
        State::Drift(reasons)
            if reasons.iter().any(|r| matches!(r, canonical_policies::DriftReason::NoPolicy)) =>
        {
            "No bucket policy: anyone whose own AWS permissions allow reading files can read the logs."
                .to_owned()
        }
        State::Drift(_) => format!("Not a lawful policy ({c})."),
    };
    if let Some(h) = c.hash {
        let _ = write!(out, "\nPolicy SHA-256: {h}");
    }
    if let Some(sid) = &c.claimed {
        let _ = write!(out, "\nFirst statement: {}", Quoted(sid));
        if c.claim_mismatch() {
            out.push_str(
                "\nWARNING: the policy calls itself by that name, but its content is not that policy.",
            );
        }
    }
    out
}

pub(super) fn state_json(c: &Classification) -> PolicyDocument {
    let (expiry, readers) = match &c.state {
        State::Open(g) | State::Expired(g) => {
            (Some(format_expiry(g.expiry)), g.readers.iter().cloned().collect())
        }
        _ => (None, Vec::new()),
    };
    let reasons: Vec<String> = match &c.state {
        State::Drift(rs) => rs.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    };
    PolicyDocument {
        hash: c.hash.map(|h| h.to_string()),
        first_sid: c.claimed.clone(),
        claim_mismatch: c.claim_mismatch(),
        expiry,
        readers,
        reasons,
    }
}

pub(super) fn who_when_where(email: &mut String, call: &ApiCall) {
    section(email, "Who", &call.actor.describe());
    let when = call.event.time.as_deref().and_then(parse_time).map(human_time);
    section(email, "When", when.as_deref().or(call.event.time.as_deref()).unwrap_or("unknown"));
    let ip = call.event.source_ip.as_deref().unwrap_or("an unknown address");
    section(email, "From where", &format!("{ip}, using {}", client(call.event.user_agent.as_deref())));
    if let Some(id) = &call.event.id {
        let _ = writeln!(email, "Event id: {id}");
    }
}

/// The JSON document of a CloudTrail call: the fields every call has; the caller adds its own.
pub(super) fn call_document(
    severity: Severity,
    bucket: &str,
    guarded: GuardedCall,
    state: &str,
    call: &ApiCall,
) -> Call {
    Call {
        severity: severity.word().into(),
        bucket: bucket.into(),
        call: guarded.name().into(),
        state: state.into(),
        event: call.event.clone(),
        actor: call.actor.clone(),
        target: None,
        policy: None,
        exposure: None,
        error: None,
    }
}

/// Which kind of client made the call, from the user agent, in words.
fn client(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent else { return "an unknown client".into() };
    let lower = ua.to_ascii_lowercase();
    let kind = if lower.contains("signin.amazonaws.com") || lower.contains("console") {
        "the AWS console"
    } else if lower.starts_with("aws-cli") {
        "the AWS CLI"
    } else if lower.contains("cloudformation") {
        "CloudFormation"
    } else if lower.contains("terraform") {
        "Terraform"
    } else if lower.contains("sdk") || lower.contains("boto") {
        "an AWS SDK"
    } else {
        "another client"
    };
    let shown: String =
        ua.chars().filter(|c| !canonical_policies::hides_or_moves_text(*c)).take(80).collect();
    format!("{kind} ({shown})")
}

pub(super) fn call_in_words(g: GuardedCall) -> &'static str {
    match g {
        GuardedCall::PutBucketPolicy => "change the bucket policy",
        GuardedCall::DeleteBucketPolicy => "delete the bucket policy",
        GuardedCall::PutBucketAcl => "change the bucket ACL",
        GuardedCall::PutBucketPublicAccessBlock => "change the public-access block",
        GuardedCall::DeleteBucketPublicAccessBlock => "remove the public-access block",
        GuardedCall::PutBucketOwnershipControls => "change object ownership",
        GuardedCall::DeleteBucketOwnershipControls => "remove object ownership controls",
        GuardedCall::PutBucketLifecycle => "change the lifecycle rules",
        GuardedCall::DeleteBucketLifecycle => "remove the lifecycle rules",
        GuardedCall::PutBucketVersioning => "change versioning",
        GuardedCall::PutBucketEncryption => "change default encryption",
        GuardedCall::DeleteBucketEncryption => "remove default encryption",
        GuardedCall::PutBucketReplication => "configure replication",
        GuardedCall::PutBucketNotification => "change event notifications",
        GuardedCall::PutBucketInventoryConfiguration => "configure an inventory",
        GuardedCall::DeleteBucket => "delete the bucket",
        GuardedCall::PutBucketTagging => "change the bucket's tags",
        GuardedCall::DeleteBucketTagging => "remove the bucket's tags",
        GuardedCall::PutObjectLockConfiguration => "change the Object Lock configuration",
        GuardedCall::PutBucketLogging => "change server access logging",
        GuardedCall::PutBucketIntelligentTieringConfiguration => "configure Intelligent-Tiering archiving",
        GuardedCall::DeleteBucketIntelligentTieringConfiguration => {
            "remove an Intelligent-Tiering configuration"
        }
        GuardedCall::CreateAccessPoint => "create an access point on the bucket",
        GuardedCall::UpdateAssumeRolePolicy => "change a role's trust policy",
        GuardedCall::CreateRole => "create a role",
        GuardedCall::DeleteRole => "delete a role",
        GuardedCall::PutRolePolicy | GuardedCall::AttachRolePolicy => "give a role more permissions",
        GuardedCall::PutRolePermissionsBoundary | GuardedCall::DeleteRolePermissionsBoundary => {
            "change a role's permissions boundary"
        }
        GuardedCall::DisableKey => "disable the KMS key",
        GuardedCall::ScheduleKeyDeletion => "schedule the KMS key's deletion",
        GuardedCall::PutKeyPolicy => "replace the KMS key's policy",
        GuardedCall::DeleteAlias => "delete the KMS alias",
        GuardedCall::UpdateAlias => "re-point the KMS alias",
        GuardedCall::Unsubscribe => "remove a subscription",
        GuardedCall::SetSubscriptionAttributes => "change a subscription",
        GuardedCall::Subscribe => "add a subscription",
        GuardedCall::PutDataProtectionPolicy => "set a data-protection policy on a topic",
        GuardedCall::CreateFunction => "create a function with a breakglass role",
        GuardedCall::UpdateFunctionConfiguration => "give a function a breakglass role",
        GuardedCall::CreateStack => "create a stack with the deployment role",
        GuardedCall::StopLogging => "stop the trail of object reads",
        GuardedCall::DeleteTrail => "delete the trail of object reads",
        GuardedCall::UpdateTrail => "change the trail of object reads",
        GuardedCall::PutEventSelectors => "change what the trail of object reads records",
    }
}

fn setting_name(g: GuardedCall) -> &'static str {
    match g {
        GuardedCall::PutBucketAcl => "bucket ACL",
        GuardedCall::PutBucketOwnershipControls | GuardedCall::DeleteBucketOwnershipControls => {
            "object ownership"
        }
        GuardedCall::PutBucketPublicAccessBlock | GuardedCall::DeleteBucketPublicAccessBlock => {
            "public-access block"
        }
        GuardedCall::PutBucketLifecycle | GuardedCall::DeleteBucketLifecycle => "lifecycle configuration",
        GuardedCall::PutBucketVersioning => "versioning",
        GuardedCall::PutBucketEncryption | GuardedCall::DeleteBucketEncryption => "default encryption",
        GuardedCall::PutBucketReplication => "replication",
        GuardedCall::PutBucketNotification => "event notification",
        GuardedCall::PutBucketInventoryConfiguration => "inventory",
        GuardedCall::DeleteBucket => "bucket itself",
        GuardedCall::PutBucketTagging | GuardedCall::DeleteBucketTagging => "tags",
        GuardedCall::PutObjectLockConfiguration => "Object Lock configuration",
        GuardedCall::PutBucketLogging => "server access logging",
        GuardedCall::PutBucketIntelligentTieringConfiguration
        | GuardedCall::DeleteBucketIntelligentTieringConfiguration => "Intelligent-Tiering configuration",
        GuardedCall::CreateAccessPoint => "access points",
        _ => "configuration",
    }
}

/// A guarded call outside the buckets: the investigator and breakglass roles, breakglass's key and
/// topics, and functions or stacks given a breakglass role. Not watched: ignored.
fn control_call(config: &Config, scope: &Scope, guarded: GuardedCall, call: &ApiCall) -> Rendered {
    let Some(raw) = call.target.as_deref() else {
        return Rendered::Send(Box::new(no_bucket(guarded, call)));
    };
    // The name comes from the request: one printable line, of bounded length, in mail and document.
    let target: String = raw.chars().filter(|c| !c.is_control()).take(256).collect();
    let target = target.as_str();
    let role_name = |t: &str| t.rsplit('/').next().unwrap_or(t).to_owned();
    // IAM role names are case-insensitive: `BREAKGLASS-enforcer` is breakglass's role.
    let ours = |t: &str, prefix: &str| role_name(t).to_ascii_lowercase().starts_with(prefix);
    // The logs' own keys (`kms_key`): losing one loses the logs it encrypts, for ever.
    let log_buckets: Vec<&str> = match guarded.target() {
        Target::Key => config.log_key_buckets(target).iter().map(|b| b.name.as_str()).collect(),
        _ => Vec::new(),
    };
    // Roles that may become an investigator role (`assumable_by`): whoever takes one over reads
    // during the next lawful window.
    let assumed: Vec<&str> = match guarded.target() {
        Target::Role if !config.is_investigator_role(target) => config
            .assumed_by_role(target, call.accounts.first().map(String::as_str))
            .iter()
            .map(|i| i.role_name())
            .collect(),
        _ => Vec::new(),
    };
    let watched = match guarded.target() {
        Target::Role => {
            !assumed.is_empty() || config.is_investigator_role(target) || ours(target, "breakglass-")
        }
        Target::Key => {
            !log_buckets.is_empty()
                || target.starts_with("alias/breakglass")
                || scope.key_arn.as_deref().is_some_and(|k| k == target || k.ends_with(&format!("/{target}")))
        }
        Target::Topic => target.contains(":breakglass-"),
        Target::FunctionRole | Target::StackRole => ours(target, "breakglass-"),
        // A trail is named by its name or ARN (`…:trail/breakglass-reads`).
        Target::Trail => ours(target, "breakglass"),
        Target::Bucket => true,
    };
    if !watched {
        return Rendered::Ignored(format!(
            "{} on {} is not breakglass's",
            Quoted(&call.event.name),
            Quoted(target)
        ));
    }
    let who = call.actor.describe();
    let threat = if !assumed.is_empty() {
        format!(
            "let someone else become this role, which may assume the investigator role(s) {}, and read the logs during the next lawful window",
            assumed.join(", ")
        )
    } else if log_buckets.is_empty() {
        guarded.threat().to_owned()
    } else {
        format!(
            "make the logs of {} unreadable for ever: they are encrypted with this key (crypto-shredding)",
            log_buckets.join(", ")
        )
    };
    let mut email = String::new();
    let (subject, severity, kind) = if let Some(code) = &call.error.code {
        section(
            &mut email,
            "What happened",
            &format!("{who} tried to {} ({target}), and AWS refused it with {code}. Nothing changed. Had it worked, it could {threat}.", call_in_words(guarded)),
        );
        (format!("refused attempt to {} ({code})", call_in_words(guarded)), Severity::Warning, "attempt")
    } else {
        let response = match guarded.response() {
            _ if !assumed.is_empty() => {
                "breakglass keeps the investigator roles' trust, not this role's: review the change now, and who can become this role."
            }
            Response::RevertTrust if config.investigator(target).is_some() => {
                "breakglass puts the configured trust policy back and checks it on every sweep."
            }
            Response::RevertTrust => {
                "No trust policy is configured for this role ([[investigator]]): review it now."
            }
            Response::Revert => "breakglass puts the lawful state back.",
            Response::Alert => "breakglass cannot undo this: review it now.",
        };
        // A log key can still be saved by hand: say how.
        let saved = match guarded {
            GuardedCall::ScheduleKeyDeletion => format!(
                " The key can be saved until its deletion date: `aws kms cancel-key-deletion --key-id {target}`, then `aws kms enable-key --key-id {target}`."
            ),
            GuardedCall::DisableKey => format!(
                " Until it is enabled again (`aws kms enable-key --key-id {target}`), nobody can read these logs and new logs cannot be written."
            ),
            _ => " Its key policy decides who can decrypt the logs.".to_owned(),
        };
        let response =
            if log_buckets.is_empty() { response.to_owned() } else { format!("{response}{saved}") };
        section(
            &mut email,
            "What happened",
            &format!(
                "Someone managed to {} ({target}). Whoever did it could {threat}. {response}",
                call_in_words(guarded),
            ),
        );
        (format!("ALERT: {} ({})", call_in_words(guarded), role_name(target)), Severity::Critical, "change")
    };
    who_when_where(&mut email, call);
    let state = if call.is_attempt() { "unchanged" } else { "changed" };
    let document = Call {
        target: Some(target.to_owned()),
        ..call_document(severity, crate::trail::audit::CONTROL, guarded, state, call)
    };
    let mut n = finish(subject, email, kind, severity, document);
    n.second_channel = matches!(guarded.target(), Target::Key | Target::Topic);
    Rendered::Send(Box::new(n))
}

/// A guarded call whose record names no bucket (or role, key, topic): breakglass cannot tell what
/// it touched, so it says so loudly and the enforcer sweeps every bucket.
fn no_bucket(guarded: GuardedCall, call: &ApiCall) -> Notification {
    // Only what a sweep reads back is checked on every bucket; the rest must be checked by people.
    let (what, check) = match guarded.target() {
        Target::Bucket if guarded.swept() => ("bucket", "It may have touched a protected log bucket: breakglass checks every protected bucket now, and the security team must look at the event."),
        Target::Bucket => ("bucket", "It may have touched a protected log bucket: breakglass checks every protected bucket's policy now, but cannot check what this call changes without the bucket's name: the security team must check that setting on every protected bucket and look at the event."),
        // The sentinel acts on what a call names: nothing is checked for one that names nothing.
        Target::Role | Target::FunctionRole | Target::StackRole => ("role", "breakglass cannot check it: the security team must check the investigator roles' trust policies and breakglass's own roles now."),
        Target::Key => ("key", "breakglass cannot check it: the security team must check breakglass's key and the logs' keys now."),
        Target::Topic => ("topic", "breakglass checks its topics' subscriptions now; the security team must look at the event."),
        Target::Trail => ("trail", "breakglass cannot check it: the security team must check breakglass's trail now."),
    };
    let mut email = happened(&format!(
        "CloudTrail recorded a call to {} that names nothing breakglass can check (its request parameters are empty). {check}",
        call_in_words(guarded)
    ));
    who_when_where(&mut email, call);
    let document = call_document(Severity::Critical, crate::trail::audit::CONTROL, guarded, "unknown", call);
    finish(
        format!("ALERT: {} naming no {what}", guarded.name()),
        email,
        "change",
        Severity::Critical,
        document,
    )
}
