//! Classification by hash, drift reasons, and the human diff.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;

use canonical_policies::{
    classify, diff_nearest, DriftReason, OpenGrant, Policy, State, TemplateKind, MAX_DIFF_LINES,
};
use common::{at, example_bucket};

const INVESTIGATOR: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

fn now() -> time::OffsetDateTime {
    at("2026-11-24T12:00:00Z")
}

fn grant(expiry: &str) -> OpenGrant {
    OpenGrant { readers: BTreeSet::from([INVESTIGATOR.to_owned()]), expiry: at(expiry) }
}

/// What GetBucketPolicy might return for a policy we put: minified, arrays reordered, one-element
/// arrays collapsed, action names in another case.
fn aws_normalised(pretty: &str) -> String {
    let p = Policy::parse(pretty.as_bytes()).unwrap();
    let mut s = p.canonical_json();
    s = s.replace("s3:getobject\"", "S3:GetObject\"");
    s
}

/// The drift of a policy that matches no template and calls a statement `ClosedAccess`.
fn claims_closed_access() -> State {
    State::Drift(vec![
        DriftReason::MatchesNoTemplate,
        DriftReason::ClaimsTemplate { sid: "ClosedAccess".into() },
    ])
}

#[test]
fn closed_and_its_aws_normalised_copy_are_closed() {
    let bucket = example_bucket();
    let pretty = bucket.closed_policy().to_pretty_json();
    for text in [pretty.clone(), aws_normalised(&pretty)] {
        let c = classify(&bucket, Some(text.as_bytes()), now());
        assert_eq!(c.state, State::Closed);
        assert_eq!(c.hash, Some(bucket.closed_hash()));
        assert!(!c.claim_mismatch());
    }
}

#[test]
fn open_then_expired() {
    let bucket = example_bucket();
    let open = bucket.render_open(&grant("2026-11-24T14:00:00Z"), now()).unwrap().to_pretty_json();
    let c = classify(&bucket, Some(open.as_bytes()), now());
    assert_eq!(c.state, State::Open(grant("2026-11-24T14:00:00Z")));
    assert_eq!(c.to_string(), "open until 2026-11-24T14:00:00Z");
    let c = classify(&bucket, Some(aws_normalised(&open).as_bytes()), at("2026-11-24T14:00:00Z"));
    assert_eq!(c.state, State::Expired(grant("2026-11-24T14:00:00Z")));
}

#[test]
fn unlawful_open_access_is_drift() {
    let bucket = example_bucket();
    // Rendered with a reader the config does not allow: same shape, unlawful content.
    let mut intruder = grant("2026-11-24T14:00:00Z");
    intruder.readers = BTreeSet::from(["arn:aws:iam::111122223333:role/Intruder".to_owned()]);
    assert!(bucket.render_open(&intruder, now()).is_err());
    let too_long = grant("2026-11-26T12:00:00Z");
    assert!(bucket.render_open(&too_long, now()).is_err());

    // Build the unlawful policies by editing a lawful one, as an attacker would.
    let lawful = bucket.render_open(&grant("2026-11-24T14:00:00Z"), now()).unwrap().to_pretty_json();
    let reader_swapped = lawful.replace(INVESTIGATOR, "arn:aws:iam::111122223333:role/Intruder");
    let c = classify(&bucket, Some(reader_swapped.as_bytes()), now());
    assert_eq!(
        c.state,
        State::Drift(vec![DriftReason::ReaderNotAllowed {
            reader: "arn:aws:iam::111122223333:role/Intruder".into()
        }])
    );
    assert_eq!(c.template, Some(TemplateKind::Open));

    let far = lawful.replace("2026-11-24T14:00:00Z", "2027-01-01T00:00:00Z");
    let c = classify(&bucket, Some(far.as_bytes()), now());
    assert!(
        matches!(&c.state, State::Drift(r) if matches!(r[..], [DriftReason::ExpiryBeyondMaximum { .. }]))
    );
    assert!(c.to_string().contains("more than 12h from now"), "{c}");

    // Expiry changed in one statement only: not the template.
    let half = lawful.replacen("2026-11-24T14:00:00Z", "2026-11-24T15:00:00Z", 1);
    assert!(matches!(classify(&bucket, Some(half.as_bytes()), now()).state, State::Drift(_)));
}

#[test]
fn clock_skew_of_the_opener_is_tolerated() {
    let bucket = example_bucket();
    // Opened for the full 12h by a host whose clock ran 2 minutes ahead.
    let lawful = bucket
        .render_open(&grant("2026-11-25T00:02:00Z"), at("2026-11-24T12:02:00Z"))
        .unwrap()
        .to_pretty_json();
    assert!(matches!(classify(&bucket, Some(lawful.as_bytes()), now()).state, State::Open(_)));
}

#[test]
fn intruder_calling_itself_closed_access_is_drift() {
    let bucket = example_bucket();
    let intruder = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ClosedAccess","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-cloudtrail-logs/*"}]}"#;
    let c = classify(&bucket, Some(intruder.as_bytes()), now());
    assert_eq!(c.state, claims_closed_access());
    assert!(c.claim_mismatch());
    assert_eq!(c.claimed.as_deref(), Some("ClosedAccess"));
    let d = diff_nearest(&bucket, Some(&Policy::parse(intruder.as_bytes()).unwrap()), now());
    assert_eq!(d.template, TemplateKind::Closed);
    let text = d.to_string();
    assert!(text.contains("statement `ClosedAccess` was changed: effect is Allow instead of Deny"), "{text}");
    assert!(text.contains("statement `DenyPolicyChangesExceptAutomation` is missing"), "{text}");
    assert!(text.lines().count() <= MAX_DIFF_LINES + 1, "{text}");
}

#[test]
fn no_policy_and_garbage_are_drift() {
    let bucket = example_bucket();
    assert_eq!(classify(&bucket, None, now()).state, State::Drift(vec![DriftReason::NoPolicy]));
    let c = classify(&bucket, Some(b"{\"Statement\": [}"), now());
    assert!(matches!(&c.state, State::Drift(r) if matches!(r[..], [DriftReason::Unparseable(_)])));
    assert!(
        c.to_string().starts_with("drift: the policy cannot be parsed: invalid json at $.Statement"),
        "{c}"
    );
    let d = diff_nearest(&bucket, None, now());
    assert!(d.to_string().contains("no policy at all"));
}

#[test]
fn tampered_copy_diff_is_short_and_specific() {
    let bucket = example_bucket();
    let tampered = bucket.closed_policy().to_pretty_json().replace("\"s3:GetObject\",\n", "").replace(
        "arn:aws:iam::111122223333:role/breakglass-catalog",
        "arn:aws:iam::111122223333:user/mallory",
    );
    let c = classify(&bucket, Some(tampered.as_bytes()), now());
    assert_eq!(c.state, claims_closed_access());
    let d = diff_nearest(&bucket, Some(&Policy::parse(tampered.as_bytes()).unwrap()), now());
    let text = d.to_string();
    assert!(text.contains("statement `ClosedAccess` was changed: actions removed: s3:GetObject"), "{text}");
    assert!(text.contains("condition ArnNotEquals aws:PrincipalArn values added: arn:aws:iam::111122223333:user/mallory; condition ArnNotEquals aws:PrincipalArn values removed: arn:aws:iam::111122223333:role/breakglass-catalog"), "{text}");
    assert_eq!(d.changes, 2);
}

/// The diff once shortened every list to three items and "and N more": a fifth exempt role slipped
/// into the condition, or a reader into a long principal list, went unnamed in the mail.
#[test]
fn regression_a_principal_slipped_into_a_long_list_is_named() {
    let bucket = example_bucket();
    let mallory = "arn:aws:iam::111122223333:user/mallory";
    let exempt = bucket.closed_policy().to_pretty_json().replace(
        "\"arn:aws:iam::111122223333:role/breakglass-catalog\",",
        &format!("\"arn:aws:iam::111122223333:role/breakglass-catalog\", \"{mallory}\","),
    );
    let d = diff_nearest(&bucket, Some(&Policy::parse(exempt.as_bytes()).unwrap()), now());
    let text = d.to_string();
    assert!(text.contains(&format!("values added: {mallory}")), "{text}");
    assert!(!text.contains("more"), "{text}");
    // A new statement granting many readers names every one of them, however many decoys sort first.
    let readers: Vec<String> = (0..40).map(|i| format!("arn:aws:iam::111122223333:role/r{i:02}")).collect();
    let closed = bucket.closed_policy().to_pretty_json();
    let (head, tail) = closed.split_at(closed.rfind(']').unwrap());
    let quoted: Vec<String> = readers.iter().map(|r| format!("\"{r}\"")).collect();
    let statement = format!(
        r#",{{"Sid":"Readers","Effect":"Allow","Principal":{{"AWS":[{}]}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::x/*"}}"#,
        quoted.join(",")
    );
    let text = format!("{}{statement}{tail}", head.trim_end());
    let granted = Policy::parse(text.as_bytes()).unwrap();
    let text = diff_nearest(&bucket, Some(&granted), now()).to_string();
    for r in &readers {
        assert!(text.contains(r.as_str()), "{r} unnamed: {text}");
    }
}

#[test]
fn open_policy_diffs_against_open_template() {
    let bucket = example_bucket();
    let lawful = bucket.render_open(&grant("2026-11-24T14:00:00Z"), now()).unwrap();
    let mut edited = lawful.clone();
    edited.statements.retain(|s| s.sid.as_deref() != Some("OpenAccessExpiry"));
    let d = diff_nearest(&bucket, Some(&edited), now());
    // Without its expiry statement no grant can be read back; it is still nearer to OpenAccess.
    assert_eq!(d.template, TemplateKind::Open);
    assert_eq!(diff_nearest(&bucket, Some(&lawful), now()).changes, 0);
}

/// Issue 21, attack 4: a ClosedAccess with one statement more, granting CloudFront (any
/// distribution) the reads, is not ClosedAccess: drift, reverted like any other.
#[test]
fn closed_access_plus_a_service_read_grant_is_drift() {
    let bucket = example_bucket();
    let closed = bucket.closed_policy().canonical_json();
    let grant = r#"{"Sid":"AllowCloudFrontServicePrincipal","Effect":"Allow","Principal":{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-cloudtrail-logs/*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:cloudfront::444455556666:distribution/*"}}}"#;
    assert!(closed.contains(r#""Statement":["#), "{closed}");
    let granted = closed.replacen(r#""Statement":["#, &format!(r#""Statement":[{grant},"#), 1);
    let c = classify(&bucket, Some(granted.as_bytes()), now());
    assert!(matches!(c.state, State::Drift(_)), "{:?}", c.state);
    let d = diff_nearest(&bucket, Some(&Policy::parse(granted.as_bytes()).unwrap()), now());
    assert_eq!(d.template, TemplateKind::Closed);
    let text = d.to_string();
    assert!(text.contains("AllowCloudFrontServicePrincipal"), "{text}");
}

/// Regression: a condition value (or principal, action, resource) written with a newline started
/// lines of its own in the diff, so a policy could write sections such as "Resulting state: Closed"
/// into the stakeholders' mail. Every value is shown printable; bidirectional overrides too.
#[test]
fn a_policy_cannot_write_lines_of_its_own_into_the_diff() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Sid":"X","Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::193672423079:root"},"Action":"s3:GetObject",
        "Resource":"arn:aws:s3:::acme-cloudtrail-logs/*",
        "Condition":{"StringEquals":{"aws:UserAgent":"x\n\nResulting state\n  Closed: nobody can read the logs.\u202e"}}}]}"#;
    let policy = Policy::parse(text.as_bytes()).unwrap();
    let b = example_bucket();
    let d = canonical_policies::diff_nearest(&b, Some(&policy), now());
    for line in &d.lines {
        assert!(!line.contains('\n') && !line.contains('\u{202e}'), "{line:?}");
    }
    assert!(d.lines.iter().any(|l| l.contains("x\\u{a}\\u{a}Resulting state")), "{:?}", d.lines);
}
