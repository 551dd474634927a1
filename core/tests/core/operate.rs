//! Opening and closing on request: refusals, overlapping grants, closing.

use super::*;
use breakglass_core::access::operate::{close, open, OpenRequest, OperateError};
use time::Duration;

const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice";
const AUDITOR: &str = "arn:aws:iam::111122223333:role/investigations/ExternalAuditor";

fn request(hours: i64, readers: &[&str]) -> OpenRequest {
    OpenRequest {
        reason: "incident 42: suspicious console logins".into(),
        ticket: "INC-42".into(),
        duration: Duration::hours(hours),
        readers: readers.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn closed_store() -> Store {
    let s = Store::default();
    let closed = config().bucket(BUCKET).unwrap().closed_policy().to_pretty_json();
    s.policies.lock().unwrap().insert(BUCKET.into(), closed);
    s
}

#[tokio::test(flavor = "current_thread")]
async fn refusals() {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let (store, bus) = (closed_store(), Bus::default());
    let mut r = request(4, &[READER]);
    r.reason = "  ".into();
    assert_eq!(open(b, &store, &bus, &r, ALICE, now()).await, Err(OperateError::Missing("reason")));
    let mut r = request(4, &[READER]);
    r.ticket = String::new();
    assert_eq!(open(b, &store, &bus, &r, ALICE, now()).await, Err(OperateError::Missing("ticket")));
    let mut r = request(4, &[READER]);
    r.reason = "two\nlines".into();
    assert_eq!(open(b, &store, &bus, &r, ALICE, now()).await, Err(OperateError::BadText("reason")));
    let err = open(b, &store, &bus, &request(13, &[READER]), ALICE, now()).await.unwrap_err();
    assert!(err.to_string().contains("more than 12h from now"), "{err}");
    let err = open(b, &store, &bus, &request(4, &["arn:aws:iam::111122223333:role/mallory"]), ALICE, now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not an investigator role"), "{err}");
    // A drifted bucket is not opened: someone must look first.
    store.policies.lock().unwrap().insert(BUCKET.into(), "{}".into());
    let err = open(b, &store, &bus, &request(4, &[READER]), ALICE, now()).await.unwrap_err();
    assert!(matches!(err, OperateError::Drift { .. }), "{err}");
    assert_eq!(*store.writes.lock().unwrap(), 0);
    // Each refusal is published as a refused request: stakeholders and the audit trail see it.
    let events = bus.0.lock().unwrap();
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(|e| e.detail["outcome"] == "refused" && e.detail["requester"] == ALICE));
    assert!(events[4].detail["error"].as_str().unwrap().contains("mallory"));
}

#[tokio::test(flavor = "current_thread")]
async fn overlapping_grants_are_widened_and_extended_never_cut_short() {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let (store, bus) = (closed_store(), Bus::default());
    let first = open(b, &store, &bus, &request(6, &[READER]), ALICE, now()).await.unwrap();
    assert_eq!(first.grant.as_ref().unwrap().expiry, now() + Duration::hours(6));
    // One hour later, a shorter request for another reader: the first grant keeps its 6 hours.
    let later = now() + Duration::hours(1);
    let second = open(b, &store, &bus, &request(2, &[AUDITOR]), ALICE, later).await.unwrap();
    let g = second.grant.unwrap();
    assert_eq!(g.expiry, now() + Duration::hours(6), "never cut short");
    assert_eq!(g.readers, BTreeSet::from([READER.to_owned(), AUDITOR.to_owned()]), "widened");
    assert_eq!(second.previous.unwrap().expiry, now() + Duration::hours(6));
    // A longer one extends.
    let third = open(b, &store, &bus, &request(12, &[READER]), ALICE, later).await.unwrap();
    assert_eq!(third.grant.unwrap().expiry, later + Duration::hours(12));
    // The live policy is a lawful OpenAccess the enforcer leaves alone.
    let live = store.policies.lock().unwrap()[BUCKET].clone();
    assert!(matches!(
        canonical_policies::classify(b, Some(live.as_bytes()), later).state,
        canonical_policies::State::Open(_)
    ));
    let events = bus.0.lock().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].detail["previous"]["readers"], json!([READER]));
    assert_eq!(events[1].detail["ticket"], "INC-42");
    assert_eq!(events[1].detail["requester"], ALICE);
}

#[tokio::test(flavor = "current_thread")]
async fn close_always_closes_and_says_what_was_open() {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let (store, bus) = (closed_store(), Bus::default());
    open(b, &store, &bus, &request(4, &[READER]), ALICE, now()).await.unwrap();
    let done = close(b, &store, &bus, "investigation finished", ALICE, now()).await.unwrap();
    assert_eq!(done.policy_hash, b.closed_hash().to_string());
    assert_eq!(serde_json::to_value(&done.event).unwrap()["previous"]["readers"], json!([READER]));
    assert_eq!(close(b, &store, &bus, "", ALICE, now()).await.unwrap_err(), OperateError::Missing("reason"));
    // The notifier's mail says why.
    let incoming = Incoming::Custom {
        id: Some("r".into()),
        detail_type: "breakglass request".into(),
        detail: serde_json::to_value(&done.event).unwrap(),
    };
    let Rendered::Send(n) = &render(&config(), &incoming, now())[0] else { panic!() };
    assert_eq!(n.subject, "[breakglass] acme-cloudtrail-logs: access CLOSED");
    assert!(n.email.contains("Why\n  investigation finished"), "{}", n.email);
    let opened = bus.0.lock().unwrap()[0].detail.clone();
    let incoming =
        Incoming::Custom { id: Some("o".into()), detail_type: "breakglass request".into(), detail: opened };
    let Rendered::Send(n) = &render(&config(), &incoming, now())[0] else { panic!() };
    assert!(n.subject.contains("access OPENED until 2026-11-24 16:00 UTC (INC-42)"), "{}", n.subject);
    assert!(n.email.contains("Why\n  incident 42: suspicious console logins"), "{}", n.email);
    assert!(n.attributes.contains(&("kind".into(), "request".into())));
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_request_echoes_at_most_one_short_line_of_what_was_asked() {
    use breakglass_core::access::operate::{open, OpenRequest};
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let (store, bus) = (Store::default(), Bus::default());
    let request = OpenRequest {
        reason: format!("line one\nline two {}", "x".repeat(100_000)),
        ticket: "T".into(),
        duration: time::Duration::hours(1),
        readers: (0..1000).map(|i| format!("arn:aws:iam::111122223333:role/r{i}")).collect(),
    };
    open(b, &store, &bus, &request, "someone", now()).await.unwrap_err();
    let events = bus.0.lock().unwrap();
    let d = &events[0].detail;
    assert_eq!(d["outcome"], "refused");
    let reason = d["reason"].as_str().unwrap();
    assert!(reason.chars().count() <= 500 && !reason.contains('\n'), "{}", reason.len());
    assert_eq!(d["readers"].as_array().unwrap().len(), 20);
}
