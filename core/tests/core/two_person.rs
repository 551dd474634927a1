//! The two-person rule, as the example config has it: requests, decisions between two people, and
//! an enforcer that holds every OpenAccess against the approvals in the audit trail.

use super::*;
use breakglass_core::access::approval::{self, Refusal};
use breakglass_core::access::operate::{open, OpenRequest};
use breakglass_core::guard::enforce::Report;
use breakglass_core::ports::BucketRecords;
use time::Duration;

const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice";
const BOB: &str = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob";
const MALLORY: &str = "arn:aws:sts::111122223333:assumed-role/Admin/alice";
const EVE: &str = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_1234/eve";

fn example() -> Config {
    Config::from_toml(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml"))
            .unwrap(),
    )
    .unwrap()
}

fn readers() -> BTreeSet<String> {
    BTreeSet::from([READER.to_owned()])
}

/// The audit records the notifier writes for events (what `from_records` and `check` read).
fn record(kind: &str, action: &str, time: &str, detail: Value) -> Value {
    json!({"kind": kind, "action": action, "time": time, "detail": detail})
}

/// The gate's record of the same event: the only kind `check` trusts.
fn gate(kind: &str, action: &str, time: &str, detail: Value) -> Value {
    let mut r = record(kind, action, time, detail);
    r["writer"] = json!(breakglass_core::trail::audit::GATE);
    r
}

/// Alice's request, Bob's approval of it, the grant it opens and the OpenAccess that grants it.
struct Approved {
    q: breakglass_core::events::AccessRequest,
    d: breakglass_core::events::Decision,
    grant: OpenGrant,
    policy: String,
}

fn approved(b: &breakglass_config::BucketConfig) -> Approved {
    let q =
        approval::request(b, ALICE, "incident 7", "SEC-7", Duration::hours(2), &readers(), now()).unwrap();
    let d = approval::decide(b, &q, &[], BOB, true, None, now()).unwrap();
    let grant = breakglass_core::access::operate::grant_of(&d).unwrap();
    let policy = b.render_open(&grant, now()).unwrap().to_pretty_json();
    Approved { q, d, grant, policy }
}

/// The gate's records of request `q` and decision `d`.
fn by_gate(q: &breakglass_core::events::AccessRequest, d: &breakglass_core::events::Decision) -> Vec<Value> {
    vec![
        gate("approval", "requested", &q.time, serde_json::to_value(q).unwrap()),
        gate("approval", &d.decision, &d.time, serde_json::to_value(d).unwrap()),
    ]
}

/// The example's enforcer, with the audit trail `records`, on `policy` written by the operator to
/// the bucket that holds it.
async fn enforce_with(records: impl BucketRecords, policy: &str) -> Vec<Report> {
    let e =
        Enforcer { config: example(), store: Store::default(), bus: Bus::default(), records, dry_run: false };
    e.store.policies.lock().unwrap().insert(BUCKET.into(), policy.to_owned());
    e.handle(&put_event(policy, OPERATOR), now()).await.unwrap()
}

/// The audit trail the enforcer reads: its records, or the error reading it fails with.
struct Records(Result<Vec<Value>, PortError>);
impl BucketRecords for Records {
    async fn records(
        &self,
        _: &breakglass_config::BucketConfig,
        _: OffsetDateTime,
    ) -> Result<Vec<Value>, PortError> {
        self.0.clone()
    }
}

#[test]
fn a_request_needs_another_approver_who_is_not_the_requester() {
    let config = example();
    let b = config.bucket(BUCKET).unwrap();
    let q =
        approval::request(b, ALICE, "incident 7", "SEC-7", Duration::hours(2), &readers(), now()).unwrap();
    assert_eq!(q.id.len(), 12);
    assert_eq!(q.expires_at, "2026-11-25T12:00:00Z");
    // Alice again, under another role but the same session name: the same person.
    for (who, why) in [(ALICE, "the same principal"), (MALLORY, "the same session name")] {
        let (refused, r) = *approval::decide(b, &q, &[], who, true, None, now()).unwrap_err();
        assert_eq!(refused.decision, "refused");
        assert!(matches!(r, Refusal::SelfApproval { why: w, .. } if w == why), "{r}");
    }
    // Not an approver (the example: sessions of breakglass-operator).
    let (_, r) = *approval::decide(b, &q, &[], EVE, true, None, now()).unwrap_err();
    assert!(matches!(r, Refusal::NotApprover(_)), "{r}");
    // Expired after 24 h.
    let (_, r) = *approval::decide(b, &q, &[], BOB, true, None, now() + Duration::hours(25)).unwrap_err();
    assert!(matches!(r, Refusal::Expired(_)), "{r}");
    // Bob approves: exactly the readers, for the duration from now.
    let d = approval::decide(b, &q, &[], BOB, true, None, now() + Duration::minutes(5)).unwrap();
    assert_eq!((d.decision.as_str(), d.readers.clone()), ("approved", vec![READER.to_owned()]));
    assert_eq!(d.expiry.as_deref(), Some("2026-11-24T14:05:00Z"));
    // Decided once: a second decision is refused.
    let (_, r) = *approval::decide(b, &q, std::slice::from_ref(&d), BOB, false, None, now()).unwrap_err();
    assert!(matches!(r, Refusal::Decided { .. }), "{r}");
    // A bucket without the rule takes no requests; a reader the config does not allow is refused.
    let single = super::config();
    assert!(approval::request(
        single.bucket(BUCKET).unwrap(),
        ALICE,
        "x",
        "T",
        Duration::hours(1),
        &readers(),
        now()
    )
    .is_err());
    let stranger = BTreeSet::from(["arn:aws:iam::111122223333:role/mallory".to_owned()]);
    assert!(approval::request(b, ALICE, "x", "T", Duration::hours(1), &stranger, now()).is_err());
}

#[tokio::test]
async fn open_refuses_a_bucket_under_the_two_person_rule_and_records_the_attempt() {
    let config = example();
    let b = config.bucket(BUCKET).unwrap();
    let (store, bus) = (Store::default(), Bus::default());
    let req = OpenRequest {
        reason: "r".into(),
        ticket: "T".into(),
        duration: Duration::hours(1),
        readers: readers(),
    };
    let e = open(b, &store, &bus, &req, ALICE, now()).await.unwrap_err();
    assert!(e.to_string().contains("two-person rule"), "{e}");
    assert_eq!(*store.writes.lock().unwrap(), 0);
    assert_eq!(bus.0.lock().unwrap()[0].detail["outcome"], "refused");
}

#[tokio::test]
async fn the_enforcer_reverts_an_open_access_without_an_approval_and_keeps_an_approved_one() {
    let config = example();
    let b = config.bucket(BUCKET).unwrap();
    let Approved { q, d, grant, policy } = approved(b);
    let approved = Records(Ok(by_gate(&q, &d)));

    // Written directly with the operator role, no approval in the trail: reverted.
    let r = enforce_with(Records(Ok(vec![])), &policy).await;
    assert_eq!(r[0].outcome, Outcome::Closed);
    assert!(r[0].reason.as_deref().unwrap().contains("no approval by the gate"), "{:?}", r[0].reason);

    // With the approval recorded: lawful, nothing written.
    let r = enforce_with(approved, &policy).await;
    assert_eq!(r[0].outcome, Outcome::Lawful);

    // A wider or longer grant than approved is not covered.
    let mut wider = grant.clone();
    wider.readers.insert("arn:aws:iam::111122223333:role/investigations/ExternalAuditor".into());
    let longer = OpenGrant { expiry: grant.expiry + Duration::hours(1), ..grant.clone() };
    for g in [wider, longer] {
        assert!(approval::check(b, &g, &by_gate(&q, &d)).is_err(), "{g:?}");
    }
    // An approval opens one window: after a close it does not cover a re-open.
    let mut records = by_gate(&q, &d);
    records.push(record("request", "close", "2026-11-24T12:30:00Z", json!({})));
    assert!(approval::check(b, &grant, &records).is_err());

    // A trail that cannot be read proves nothing: closed (fail closed).
    let r = enforce_with(Records(Err(PortError::Retryable("ListObjectVersions: 503".into()))), &policy).await;
    assert_eq!(r[0].outcome, Outcome::Closed);
    assert!(r[0].reason.as_deref().unwrap().contains("could not be read"), "{:?}", r[0].reason);
}

/// Issue 21, attack 1: an operator put a `breakglass decision` event "approved by bob" on the bus;
/// the notifier recorded it like any other, and the enforcer's check found it covering.
#[tokio::test]
async fn regression_a_decision_or_request_not_written_by_the_gate_covers_nothing() {
    let config = example();
    let b = config.bucket(BUCKET).unwrap();
    let Approved { q, d, grant, policy } = approved(b);
    let as_notifier = |r: &Value| {
        let mut r = r.clone();
        r.as_object_mut().unwrap().remove("writer");
        r
    };
    let [request, decision] = <[Value; 2]>::try_from(by_gate(&q, &d)).unwrap();
    // Both from the bus (the notifier's records), the decision only, or the request only.
    for records in [
        vec![as_notifier(&request), as_notifier(&decision)],
        vec![as_notifier(&request), decision.clone()],
        vec![request.clone(), as_notifier(&decision)],
        vec![decision.clone()],
    ] {
        assert!(approval::check(b, &grant, &records).is_err(), "{records:?}");
        let r = enforce_with(Records(Ok(records)), &policy).await;
        assert_eq!(r[0].outcome, Outcome::Closed);
    }
    // A gate decision on another person's request than the one recorded: the requester must match,
    // and must not be the approver.
    let mut other = q.clone();
    other.requester = BOB.into();
    let records =
        vec![gate("approval", "requested", &q.time, serde_json::to_value(&other).unwrap()), decision];
    assert!(approval::check(b, &grant, &records).is_err());
    // Both from the gate: covered.
    approval::check(b, &grant, &by_gate(&q, &d)).unwrap();
}

/// Regression (review of issue 23's re-read): an approved opening whose first read is stale and
/// still shows the previous window, expired and not yet closed by the sweep, was closed on that one
/// read. Judging the read decides otherwise than judging the call: read again until it shows it.
#[tokio::test(flavor = "current_thread")]
async fn regression_a_stale_expired_read_does_not_close_an_approved_opening() {
    let config = example();
    let b = config.bucket(BUCKET).unwrap();
    let a = approved(b);
    let old = OpenGrant { readers: readers(), expiry: now() - Duration::minutes(1) };
    let expired = b.render_open(&old, now() - Duration::hours(1)).unwrap().to_pretty_json();
    let e = Enforcer {
        config: example(),
        store: Store::default(),
        bus: Bus::default(),
        records: Records(Ok(by_gate(&a.q, &a.d))),
        dry_run: false,
    };
    e.store.policies.lock().unwrap().insert(BUCKET.into(), a.policy.clone());
    *e.store.stale.lock().unwrap() = Some((expired, 1));
    let r = e.handle(&put_event(&a.policy, OPERATOR), now()).await.unwrap();
    assert_eq!((r[0].outcome.clone(), r[0].before_state), (Outcome::Lawful, "open"));
    assert_eq!(*e.store.reads.lock().unwrap(), 2, "read again once");
    assert_eq!(*e.store.writes.lock().unwrap(), 0);
}
