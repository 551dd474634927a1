//! Enforcer and notifier logic over in-memory ports. The same behaviours run against moto in
//! `tests/` at the workspace root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use breakglass_core::approval::NoRecords;
use breakglass_core::enforce::{Enforcer, Outcome};
use breakglass_core::event::{self, Incoming};
use breakglass_core::notify::{render, Rendered};
use breakglass_core::ports::{BusEvent, EventBus, PolicyStore, PortError};
use canonical_policies::{Config, OpenGrant};
use serde_json::{json, Value};
use time::OffsetDateTime;

const BUCKET: &str = "acme-cloudtrail-logs";
const OPERATOR: &str = "arn:aws:iam::111122223333:role/breakglass-operator";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

#[derive(Default)]
struct Store {
    policies: Mutex<HashMap<String, String>>,
    writes: Mutex<usize>,
    fail_get: Mutex<Option<PortError>>,
    /// Reading this one bucket fails (deleted, or unreadable).
    fail_bucket: Mutex<Option<String>>,
    fail_put: Mutex<Option<PortError>>,
    blocked: Mutex<Vec<String>>,
    /// Eventual consistency: the first read after a write still returns the previous policy.
    lagging: Mutex<bool>,
    stale: Mutex<Option<String>>,
}

impl PolicyStore for Store {
    async fn get_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        if let Some(e) = self.fail_get.lock().unwrap().clone() {
            return Err(e);
        }
        if self.fail_bucket.lock().unwrap().as_deref() == Some(bucket) {
            return Err(PortError::Refused("GetBucketPolicy: NoSuchBucket: gone".into()));
        }
        if let Some(old) = self.stale.lock().unwrap().take() {
            return Ok(Some(old));
        }
        Ok(self.policies.lock().unwrap().get(bucket).cloned())
    }
    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        if let Some(e) = self.fail_put.lock().unwrap().clone() {
            return Err(e);
        }
        *self.writes.lock().unwrap() += 1;
        let old = self.policies.lock().unwrap().insert(bucket.to_owned(), policy.to_owned());
        if *self.lagging.lock().unwrap() {
            *self.stale.lock().unwrap() = old;
        }
        Ok(())
    }
    async fn block_public_access(&self, bucket: &str) -> Result<(), PortError> {
        self.blocked.lock().unwrap().push(bucket.to_owned());
        Ok(())
    }
}

#[derive(Default)]
struct Bus(Mutex<Vec<BusEvent>>);

impl EventBus for Bus {
    async fn put(&self, event: &BusEvent) -> Result<(), PortError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// A file of examples/policies/.
fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../examples/policies/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn config() -> Config {
    Config::from_toml(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml"))
            .unwrap()
            .replace("two_person = true", "two_person = false"),
    )
    .unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-24T12:00:00Z", &time::format_description::well_known::Rfc3339).unwrap()
}

fn enforcer() -> Enforcer<Store, Bus> {
    Enforcer {
        config: config(),
        store: Store::default(),
        bus: Bus::default(),
        records: NoRecords,
        dry_run: false,
    }
}

fn put_event(policy: &str, actor_role: &str) -> Incoming {
    let policy: Value = serde_json::from_str(policy).unwrap();
    event::parse(&json!({
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "id": "ev-1",
        "detail": {
            "eventID": "ct-1", "eventName": "PutBucketPolicy", "eventTime": "2026-11-24T11:59:58Z",
            "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::111122223333:assumed-role/{}/alice", actor_role.rsplit('/').next().unwrap()),
                "sessionContext": {"sessionIssuer": {"arn": actor_role}, "attributes": {"mfaAuthenticated": "true"}}},
            "requestParameters": {"bucketName": BUCKET, "Host": format!("{BUCKET}.s3.eu-central-1.amazonaws.com"), "policy": "", "bucketPolicy": policy}
        }
    }))
    .unwrap()
}

fn open_policy() -> String {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let grant =
        OpenGrant { readers: BTreeSet::from([READER.to_owned()]), expiry: now() + time::Duration::hours(4) };
    b.render_open(&grant, now()).unwrap().to_pretty_json()
}

fn schedule() -> Incoming {
    event::parse(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "s"})).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn aws_normalised_closed_access_causes_no_write() {
    let e = enforcer();
    let normalised = example("closed-as-returned-by-aws.json");
    e.store.policies.lock().unwrap().insert(BUCKET.into(), normalised.clone());
    let reports = e.handle(&schedule(), now()).await.unwrap();
    assert!(reports.iter().any(|r| r.bucket == BUCKET && r.outcome == Outcome::Lawful));
    assert_eq!(e.store.policies.lock().unwrap()[BUCKET], normalised, "stored bytes untouched");
}

#[tokio::test(flavor = "current_thread")]
async fn intruder_calling_itself_closed_is_reverted_and_alerted() {
    let e = enforcer();
    let tampered = example("tampered-closed.json");
    e.store.policies.lock().unwrap().insert(BUCKET.into(), tampered.clone());
    let reports =
        e.handle(&put_event(&tampered, "arn:aws:iam::111122223333:role/mallory"), now()).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Closed);
    let bus = e.bus.0.lock().unwrap();
    assert_eq!(bus.len(), 1);
    let d = &bus[0].detail;
    assert_eq!(d["outcome"], "closed");
    assert_eq!(d["before"]["claimed"], "ClosedAccess");
    assert_eq!(d["after"]["hash"], json!(config().bucket(BUCKET).unwrap().closed_hash().to_string()));
    assert!(d["diff"].as_array().unwrap().len() == 2);
    // The remediation mail for the security team.
    let incoming =
        Incoming::Custom { id: Some("x".into()), detail_type: bus[0].detail_type.clone(), detail: d.clone() };
    let Rendered::Send(n) = &render(&config(), &incoming, now())[0] else { panic!() };
    assert!(n.subject.contains("reverted to ClosedAccess"), "{}", n.subject);
    assert!(n.email.contains("calls itself") || n.email.contains("called itself"), "{}", n.email);
}

#[tokio::test(flavor = "current_thread")]
async fn lawful_open_stays_and_stale_events_do_not_blame_it() {
    let e = enforcer();
    let open = open_policy();
    e.store.policies.lock().unwrap().insert(BUCKET.into(), open.clone());
    // Opened by the operator: lawful.
    let r = e.handle(&put_event(&open, OPERATOR), now()).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Lawful);
    // An older intruder event whose policy is not the live one: not held against the live open.
    let stale = example("tampered-closed.json");
    let r = e.handle(&put_event(&stale, "arn:aws:iam::111122223333:role/mallory"), now()).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Lawful);
    assert_eq!(*e.store.writes.lock().unwrap(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn open_access_set_by_an_intruder_is_closed() {
    let e = enforcer();
    let open = open_policy();
    e.store.policies.lock().unwrap().insert(BUCKET.into(), open.clone());
    let r = e.handle(&put_event(&open, "arn:aws:iam::111122223333:role/mallory"), now()).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Closed);
    assert!(r[0].reason.as_deref().unwrap().contains("not a break-glass principal"));
}

#[tokio::test(flavor = "current_thread")]
async fn duplicate_delivery_and_own_write_are_harmless() {
    let e = enforcer();
    let tampered = example("tampered-closed.json");
    e.store.policies.lock().unwrap().insert(BUCKET.into(), tampered.clone());
    let ev = put_event(&tampered, "arn:aws:iam::111122223333:role/mallory");
    e.handle(&ev, now()).await.unwrap();
    e.handle(&ev, now()).await.unwrap();
    // The enforcer's own write arrives as an event too.
    let closed = config().bucket(BUCKET).unwrap().closed_policy().to_pretty_json();
    e.handle(&put_event(&closed, "arn:aws:iam::111122223333:role/breakglass-enforcer"), now()).await.unwrap();
    assert_eq!(*e.store.writes.lock().unwrap(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn expired_no_policy_and_failures() {
    let e = enforcer();
    e.store.policies.lock().unwrap().insert(BUCKET.into(), open_policy());
    let later = now() + time::Duration::hours(5);
    let r = e.handle(&schedule(), later).await.unwrap();
    // Expired on one bucket, no policy on the other: both closed.
    assert!(r.iter().all(|r| r.outcome == Outcome::Closed), "{r:?}");
    // Refused: reported, not retried.
    let e = enforcer();
    *e.store.fail_put.lock().unwrap() =
        Some(PortError::Refused("MalformedPolicy: Invalid principal in policy".into()));
    let r = e.handle(&schedule(), now()).await.unwrap();
    assert!(matches!(r[0].outcome, Outcome::Refused(_)));
    assert_eq!(e.bus.0.lock().unwrap()[0].detail["outcome"], "refused");
    // Throttled: an error, so that Lambda retries.
    let e = enforcer();
    *e.store.fail_get.lock().unwrap() = Some(PortError::Retryable("SlowDown".into()));
    assert!(e.handle(&schedule(), now()).await.is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn a_write_not_yet_visible_is_reported_then_retried() {
    let e = enforcer();
    let tampered = example("tampered-closed.json");
    e.store.policies.lock().unwrap().insert(BUCKET.into(), tampered.clone());
    *e.store.lagging.lock().unwrap() = true;
    let ev = put_event(&tampered, "arn:aws:iam::111122223333:role/mallory");
    let err = e.handle(&ev, now()).await.unwrap_err();
    assert!(err.to_string().contains("wrote ClosedAccess but read back"), "{err}");
    assert_eq!(e.bus.0.lock().unwrap()[0].detail["outcome"], "unverified", "reported before failing");
    // Lambda's retry: now the write is visible, nothing more to do.
    *e.store.lagging.lock().unwrap() = false;
    assert_eq!(e.handle(&ev, now()).await.unwrap()[0].outcome, Outcome::Lawful);
}

#[tokio::test(flavor = "current_thread")]
async fn dry_run_writes_nothing_but_reports() {
    let mut e = enforcer();
    e.dry_run = true;
    let r = e.handle(&schedule(), now()).await.unwrap();
    assert!(r.iter().all(|r| r.outcome == Outcome::WouldClose));
    assert_eq!(*e.store.writes.lock().unwrap(), 0);
    assert_eq!(e.bus.0.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn weakened_public_access_block_is_reported_and_repaired() {
    let e = enforcer();
    let closed = config().bucket(BUCKET).unwrap().closed_policy().to_pretty_json();
    e.store.policies.lock().unwrap().insert(BUCKET.into(), closed);
    let ev = event::parse(&json!({"eventName": "DeleteBucketPublicAccessBlock", "eventID": "p1",
        "requestParameters": {"bucketName": BUCKET, "publicAccessBlock": ""},
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/admin"}}))
    .unwrap();
    let r = e.handle(&ev, now()).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Lawful, "the policy itself is fine");
    assert_eq!(*e.store.blocked.lock().unwrap(), [BUCKET]);
    {
        let bus = e.bus.0.lock().unwrap();
        assert_eq!(bus[0].detail_type, "breakglass exposure");
        assert_eq!(bus[0].detail["repaired"], true);
        assert_eq!(bus[0].detail["what"], "the public-access block was removed");
    }
    // A public ACL is reported, not repaired (ACLs are off under BucketOwnerEnforced anyway).
    let acl = event::parse(&json!({"eventName": "PutBucketAcl", "requestParameters": {"bucketName": BUCKET, "x-amz-acl": ["public-read"]}})).unwrap();
    e.handle(&acl, now()).await.unwrap();
    assert_eq!(e.bus.0.lock().unwrap()[1].detail["what"], "the bucket ACL was set to `public-read`");
    assert_eq!(e.store.blocked.lock().unwrap().len(), 1);
}

#[test]
fn notifier_emails_read_like_sentences() {
    let open = open_policy();
    let Rendered::Send(n) = &render(&config(), &put_event(&open, OPERATOR), now())[0] else { panic!() };
    assert_eq!(n.subject, "[breakglass] acme-cloudtrail-logs: access OPENED until 2026-11-24 16:00 UTC");
    assert!(n.email.starts_with("What happened\n  Access to log bucket acme-cloudtrail-logs was opened for LogInvestigator until 2026-11-24 16:00 UTC"), "{}", n.email);
    assert!(n.email.contains("signed in with MFA"));
    assert!(n.email.contains("using the AWS CLI"));
    assert_eq!(n.default["schema"], "breakglass.notification/1");
    assert_eq!(n.default["state"], "open");
    assert!(n.attributes.contains(&("severity".into(), "warning".into())));

    let tampered = example("tampered-closed.json");
    let Rendered::Send(n) =
        &render(&config(), &put_event(&tampered, "arn:aws:iam::111122223333:role/mallory"), now())[0]
    else {
        panic!()
    };
    assert!(n.subject.starts_with("[breakglass] ALERT"));
    assert!(n.email.contains("WARNING: the policy calls itself by that name"), "{}", n.email);
    assert!(n.email.contains("statement `LogRetentionCheck` was added"), "{}", n.email);
    assert!(n.subject.chars().count() < 100 && !n.subject.chars().any(char::is_control));
}

/// Every event file of the corpus: parsed or rejected, handled by both, never a panic.
#[tokio::test(flavor = "current_thread")]
async fn every_corpus_event_is_handled_without_panic() {
    let dir = std::env::var_os("BREAKGLASS_CORPUS").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus"))
    });
    if !dir.join("events").is_dir() {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "corpus missing under CI=true");
        eprintln!("notice: corpus not found at {}; skipping", dir.display());
        return;
    }
    let mut seen = 0;
    for sub in ["eventbridge", "cloudtrail_record_single", "cloudtrail_records", "fragments", "invalid"] {
        for entry in std::fs::read_dir(dir.join("events").join(sub)).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            seen += 1;
            let Ok(value) = serde_json::from_slice::<Value>(&bytes) else { continue };
            let Ok(incoming) = event::parse(&value) else { continue };
            let e = enforcer();
            let _ = e.handle(&incoming, now()).await;
            let _ = render(&config(), &incoming, now());
            // Again with the event's bucket renamed to a protected one: the full paths, on real shapes.
            let Incoming::ApiCalls(calls) = &incoming else { continue };
            let Some(name) = calls.iter().find_map(|c| c.bucket.clone()) else { continue };
            let text = String::from_utf8_lossy(&bytes).replace(&name, BUCKET);
            let incoming = event::parse(&serde_json::from_str(&text).unwrap()).unwrap();
            let e = enforcer();
            let _ = e.handle(&incoming, now()).await.unwrap();
            for r in render(&config(), &incoming, now()) {
                if let Rendered::Send(n) = r {
                    assert!(
                        n.subject.chars().count() < 100 && !n.subject.chars().any(char::is_control),
                        "{}",
                        n.subject
                    );
                    if std::env::var_os("SHOW_EMAILS").is_some() {
                        println!("==== {}\n{}", n.subject, n.email);
                    }
                }
            }
        }
    }
    assert!(seen >= 30);
}

mod operate {
    use super::*;
    use breakglass_core::operate::{close, open, OpenRequest, OperateError};
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
        let err =
            open(b, &store, &bus, &request(4, &["arn:aws:iam::111122223333:role/mallory"]), ALICE, now())
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
        assert_eq!(done.event["previous"]["readers"], json!([READER]));
        assert_eq!(
            close(b, &store, &bus, "", ALICE, now()).await.unwrap_err(),
            OperateError::Missing("reason")
        );
        // The notifier's mail says why.
        let incoming = Incoming::Custom {
            id: Some("r".into()),
            detail_type: "breakglass request".into(),
            detail: done.event.clone(),
        };
        let Rendered::Send(n) = &render(&config(), &incoming, now())[0] else { panic!() };
        assert_eq!(n.subject, "[breakglass] acme-cloudtrail-logs: access CLOSED");
        assert!(n.email.contains("Why\n  investigation finished"), "{}", n.email);
        let opened = bus.0.lock().unwrap()[0].detail.clone();
        let incoming = Incoming::Custom {
            id: Some("o".into()),
            detail_type: "breakglass request".into(),
            detail: opened,
        };
        let Rendered::Send(n) = &render(&config(), &incoming, now())[0] else { panic!() };
        assert!(n.subject.contains("access OPENED until 2026-11-24 16:00 UTC (INC-42)"), "{}", n.subject);
        assert!(n.email.contains("Why\n  incident 42: suspicious console logins"), "{}", n.email);
        assert!(n.attributes.contains(&("kind".into(), "request".into())));
    }
}

mod audit_trail {
    use super::*;
    use breakglass_core::audit::{Appended, AuditLog, Trail};
    use breakglass_core::history::{self, Entry};
    use breakglass_core::operate::{close, open, OpenRequest};
    use breakglass_core::ports::{Notification, Publisher};
    use breakglass_core::runtime::notify_event;
    use time::Duration;

    const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice";

    /// Write-once, like S3 with `If-None-Match: *` under Object Lock.
    #[derive(Default)]
    struct Log(Mutex<std::collections::BTreeMap<String, String>>);

    impl AuditLog for Log {
        async fn append(&self, key: &str, body: &str, _: OffsetDateTime) -> Result<Appended, PortError> {
            let mut m = self.0.lock().unwrap();
            if m.contains_key(key) {
                return Ok(Appended::AlreadyThere);
            }
            m.insert(key.to_owned(), body.to_owned());
            Ok(Appended::Written)
        }
    }

    #[derive(Default)]
    struct Mail(Mutex<Vec<Notification>>);

    impl Publisher for Mail {
        async fn publish(&self, n: &Notification) -> Result<String, PortError> {
            self.0.lock().unwrap().push(n.clone());
            Ok("m".into())
        }
    }

    fn envelope(e: &BusEvent, id: &str) -> Value {
        json!({ "source": "breakglass", "detail-type": e.detail_type, "id": id, "detail": e.detail })
    }

    fn ct_put(policy: &str, at: OffsetDateTime, id: &str) -> Value {
        json!({
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "id": format!("eb-{id}"),
            "detail": {
                "eventID": id, "eventName": "PutBucketPolicy",
                "eventTime": canonical_policies::format_expiry(at),
                "userIdentity": {"type": "AssumedRole", "arn": ALICE,
                    "sessionContext": {"sessionIssuer": {"arn": OPERATOR}}},
                "requestParameters": {"bucketName": BUCKET, "bucketPolicy": serde_json::from_str::<Value>(policy).unwrap()}
            }
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn every_step_is_recorded_once_and_history_shows_one_window() {
        let c = config();
        let b = c.bucket(BUCKET).unwrap();
        let (store, bus, mail) = (Store::default(), Bus::default(), Mail::default());
        store.policies.lock().unwrap().insert(BUCKET.into(), b.closed_policy().to_pretty_json());
        let trail = Trail { log: Log::default(), config: c.audit.clone().unwrap(), config_sha256: None };
        let req = |h| OpenRequest {
            reason: "incident 42".into(),
            ticket: "INC-42".into(),
            duration: Duration::hours(h),
            readers: BTreeSet::new(),
        };
        open(b, &store, &bus, &req(2), ALICE, now()).await.unwrap();
        let opened_policy = store.policies.lock().unwrap()[BUCKET].clone();
        let t1 = now() + Duration::minutes(30);
        open(b, &store, &bus, &req(4), ALICE, t1).await.unwrap();
        let t2 = now() + Duration::hours(1);
        close(b, &store, &bus, "done", ALICE, t2).await.unwrap();
        // A refused request after that (reader not allowed).
        let mut bad = req(1);
        bad.readers.insert("arn:aws:iam::111122223333:role/mallory".into());
        open(b, &store, &bus, &bad, ALICE, t2).await.unwrap_err();

        let mut events: Vec<Value> =
            bus.0.lock().unwrap().iter().enumerate().map(|(i, e)| envelope(e, &format!("ev-{i}"))).collect();
        // CloudTrail's record of the first write, a second after the request.
        events.push(ct_put(&opened_policy, now() - Duration::seconds(1), "ct-open"));
        for e in &events {
            notify_event(&c, &mail, Some(&trail), e, now()).await.unwrap();
        }
        let count = trail.log.0.lock().unwrap().len();
        assert_eq!(count, events.len(), "one record per notification");
        // A retried invocation records nothing new.
        let again = notify_event(&c, &mail, Some(&trail), &events[0], now()).await.unwrap();
        assert_eq!(again["recorded"][0]["new"], json!(false));
        assert_eq!(trail.log.0.lock().unwrap().len(), count);

        let records: Vec<Value> =
            trail.log.0.lock().unwrap().values().map(|t| serde_json::from_str(t).unwrap()).collect();
        for (key, r) in trail.log.0.lock().unwrap().iter() {
            assert!(key.starts_with("breakglass/acme-cloudtrail-logs/"), "{key}");
            let r: Value = serde_json::from_str(r).unwrap();
            assert_eq!(r["schema"], "breakglass.audit/1");
        }
        let (entries, unreadable) = history::build(&records);
        assert_eq!(unreadable, 0);
        assert_eq!(entries.len(), 2, "{entries:#?}");
        // Newest first: the refused request, then the one window.
        let Entry::Event(refused) = &entries[0] else { panic!("{entries:#?}") };
        assert_eq!(refused.action, "open-refused");
        let Entry::Window { opened, extensions, closed } = &entries[1] else { panic!("{entries:#?}") };
        assert_eq!(opened.time, now());
        assert_eq!(opened.why.as_deref(), Some("incident 42"));
        assert!(opened.event_ids.contains(&"ct-open".to_owned()), "CloudTrail's record folded in");
        assert_eq!(extensions.len(), 1);
        assert_eq!(history::window_expiry(opened, extensions), Some(t1 + Duration::hours(4)));
        let closed = closed.as_ref().unwrap();
        assert_eq!((closed.time, closed.why.as_deref()), (t2, Some("done")));
        let j = history::entry_json(&entries[1], t2);
        assert_eq!(j["status"], "closed");
        assert_eq!(j["closed_at"], canonical_policies::format_expiry(t2));
        assert_eq!(records.iter().filter(|r| r["kind"] == "request").count(), 4);
        let rec = records.iter().find(|r| r["action"] == "close").unwrap();
        assert_eq!(rec["policy"]["after"], json!(b.closed_hash().to_string()));
        assert!(rec["policy"]["before"].is_string(), "{rec}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn automatic_close_after_expiry_ends_the_window() {
        let c = config();
        let b = c.bucket(BUCKET).unwrap();
        let (store, bus, mail) = (Store::default(), Bus::default(), Mail::default());
        store.policies.lock().unwrap().insert(BUCKET.into(), b.closed_policy().to_pretty_json());
        let trail = Trail { log: Log::default(), config: c.audit.clone().unwrap(), config_sha256: None };
        let req = OpenRequest {
            reason: "audit".into(),
            ticket: "AUD-1".into(),
            duration: Duration::hours(1),
            readers: BTreeSet::new(),
        };
        open(b, &store, &bus, &req, ALICE, now()).await.unwrap();
        // The scheduled sweep after expiry.
        let e = Enforcer { config: config(), store, bus, records: NoRecords, dry_run: false };
        let later = now() + Duration::hours(2);
        e.handle(&schedule(), later).await.unwrap();
        let events: Vec<Value> =
            e.bus.0.lock().unwrap().iter().enumerate().map(|(i, x)| envelope(x, &format!("e{i}"))).collect();
        // The request, and one remediation per bucket (the other bucket has no policy at all).
        assert_eq!(events.len(), 3);
        for ev in &events {
            notify_event(&c, &mail, Some(&trail), ev, later).await.unwrap();
        }
        let records: Vec<Value> = trail
            .log
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("breakglass/{BUCKET}/")))
            .map(|(_, t)| serde_json::from_str(t).unwrap())
            .collect();
        let (entries, _) = history::build(&records);
        assert_eq!(entries.len(), 1, "{entries:#?}");
        let Entry::Window { closed: Some(closed), .. } = &entries[0] else { panic!("{entries:#?}") };
        assert_eq!(closed.kind, "expiry");
        assert!(closed.why.as_deref().unwrap().contains("expired"), "{closed:?}");
        let mails = mail.0.lock().unwrap();
        let m =
            mails.iter().find(|m| m.subject.contains(BUCKET) && m.subject.contains("after expiry")).unwrap();
        assert!(m.email.contains("restored ClosedAccess as planned"), "{}", m.email);
        assert!(m.attributes.contains(&("kind".into(), "expiry".into())));
    }
}

/// A stack Service Catalog provisioned from the breakglass product for an allowed operator.
struct FromCatalog;

impl breakglass_core::ports::Provenance for FromCatalog {
    async fn provisioning(&self, _: &str) -> Result<Option<breakglass_core::ports::Provisioning>, PortError> {
        Ok(Some(breakglass_core::ports::Provisioning {
            product_arn: Some("arn:aws:catalog:eu-central-1:111122223333:product/prod-open".into()),
            provisioned_product_arn: None,
            principal_arn: Some("arn:aws:sts::111122223333:assumed-role/LogTeam/alice".into()),
        }))
    }
}

fn origin() -> breakglass_core::catalog::Origin {
    breakglass_core::catalog::Origin::from_lists(
        "prod-open,prod-close",
        "arn:aws:iam::111122223333:role/LogTeam",
    )
}

mod catalog {
    use super::*;
    use super::{origin, FromCatalog};
    use breakglass_core::catalog::{handle, Catalog, Responder};

    #[derive(Default)]
    struct Cfn(Mutex<Vec<Value>>);

    impl Responder for Cfn {
        async fn respond(&self, _url: &str, body: &str) -> Result<(), PortError> {
            self.0.lock().unwrap().push(serde_json::from_str(body).unwrap());
            Ok(())
        }
    }

    /// S3 that never answers.
    struct Hanging;

    impl PolicyStore for Hanging {
        async fn get_policy(&self, _: &str) -> Result<Option<String>, PortError> {
            std::future::pending().await
        }
        async fn put_policy(&self, _: &str, _: &str) -> Result<(), PortError> {
            std::future::pending().await
        }
        async fn block_public_access(&self, _: &str) -> Result<(), PortError> {
            std::future::pending().await
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn running_out_of_time_is_answered_failed_before_lambda_stops() {
        let cfn = Cfn::default();
        let event = json!({
            "RequestType": "Create", "ResponseURL": "https://example.invalid/r", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "L",
            "ResourceProperties": {"Action": "close", "Bucket": BUCKET, "Reason": "done"}
        });
        let budget = std::time::Duration::from_millis(50);
        let (c, o) = (config(), origin());
        let catalog = Catalog {
            config: &c,
            store: &Hanging,
            bus: &Bus::default(),
            responder: &cfn,
            provenance: &FromCatalog,
            origin: &o,
        };
        let body = handle(&catalog, &event, now(), budget).await.unwrap();
        assert_eq!(body["Status"], "FAILED");
        assert!(body["Reason"].as_str().unwrap().contains("timed out"), "{body}");
        assert_eq!(cfn.0.lock().unwrap().len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_long_reason_is_cut_to_fit_the_response_limit() {
        let cfn = Cfn::default();
        let event = json!({
            "RequestType": "Create", "ResponseURL": "https://example.invalid/r", "StackId": "s",
            "RequestId": "r", "LogicalResourceId": "L",
            "ResourceProperties": {"Action": "open".repeat(1000), "Bucket": "🪣".repeat(5000),
                "Reason": "x", "Ticket": "T", "Duration": "1h"}
        });
        let (c, o) = (config(), origin());
        let catalog = Catalog {
            config: &c,
            store: &Store::default(),
            bus: &Bus::default(),
            responder: &cfn,
            provenance: &FromCatalog,
            origin: &o,
        };
        let body = handle(&catalog, &event, now(), std::time::Duration::from_secs(5)).await.unwrap();
        assert_eq!(body["Status"], "FAILED");
        assert!(body.to_string().len() < 4096, "{}", body.to_string().len());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_request_echoes_at_most_one_short_line_of_what_was_asked() {
    use breakglass_core::operate::{open, OpenRequest};
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

/// Regression: a sweep stopped at the first bucket it could not read, leaving the others unswept.
#[tokio::test(flavor = "current_thread")]
async fn one_unreadable_bucket_does_not_stop_the_sweep_of_the_others() {
    let e = enforcer();
    *e.store.fail_bucket.lock().unwrap() = Some(BUCKET.into());
    // The other bucket has no policy at all: it must still be closed.
    let err = e.handle(&schedule(), now()).await.unwrap_err();
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
    let closed = config().bucket("acme-vpc-flow-logs").unwrap().closed_policy().to_pretty_json();
    assert_eq!(e.store.policies.lock().unwrap().get("acme-vpc-flow-logs"), Some(&closed));
    assert_eq!(e.bus.0.lock().unwrap().len(), 1, "its remediation was published");
}

/// Fail closed: a create that may have opened the bucket (here the policy was written but the request
/// event could not be published) keeps its real physical id, so the stack's rollback closes it.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_open_that_may_have_written_is_closed_by_the_rollback() {
    use breakglass_core::catalog::{handle, Catalog, Responder};

    struct Cfn;
    impl Responder for Cfn {
        async fn respond(&self, _: &str, _: &str) -> Result<(), PortError> {
            Ok(())
        }
    }
    struct DeadBus;
    impl EventBus for DeadBus {
        async fn put(&self, _: &BusEvent) -> Result<(), PortError> {
            Err(PortError::Retryable("PutEvents: 503".into()))
        }
    }
    let c = config();
    let store = Store::default();
    store
        .policies
        .lock()
        .unwrap()
        .insert(BUCKET.into(), c.bucket(BUCKET).unwrap().closed_policy().to_pretty_json());
    let props = json!({"Action": "open", "Bucket": BUCKET, "Reason": "r", "Ticket": "T", "Duration": "1h"});
    let event = |kind: &str, physical: Option<&str>| {
        json!({"RequestType": kind, "ResponseURL": "https://example.invalid/r", "StackId": "s", "RequestId": "q",
            "LogicalResourceId": "L", "ResourceProperties": props, "PhysicalResourceId": physical})
    };
    let budget = std::time::Duration::from_secs(5);
    let o = origin();
    let dead = Catalog {
        config: &c,
        store: &store,
        bus: &DeadBus,
        responder: &Cfn,
        provenance: &FromCatalog,
        origin: &o,
    };
    let created = handle(&dead, &event("Create", None), now(), budget).await.unwrap();
    assert_eq!(created["Status"], "FAILED");
    let id = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_eq!(id, format!("breakglass-open-{BUCKET}"));
    assert!(matches!(
        canonical_policies::classify(
            c.bucket(BUCKET).unwrap(),
            Some(store.policies.lock().unwrap()[BUCKET].as_bytes()),
            now()
        )
        .state,
        canonical_policies::State::Open(_)
    ));
    // The rollback: Delete with that id closes (the bus is back).
    let bus = Bus::default();
    let alive = Catalog {
        config: &c,
        store: &store,
        bus: &bus,
        responder: &Cfn,
        provenance: &FromCatalog,
        origin: &o,
    };
    let deleted = handle(&alive, &event("Delete", Some(&id)), now(), budget).await.unwrap();
    assert_eq!(deleted["Status"], "SUCCESS");
    assert_eq!(
        store.policies.lock().unwrap()[BUCKET],
        c.bucket(BUCKET).unwrap().closed_policy().to_pretty_json()
    );
}

/// The two-person rule, as the example config has it: requests, decisions between two people, and
/// an enforcer that holds every OpenAccess against the approvals in the audit trail.
mod two_person {
    use super::*;
    use breakglass_core::approval::{self, Refusal};
    use breakglass_core::operate::{open, OpenRequest};
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

    struct Records(Vec<Value>);
    impl BucketRecords for Records {
        async fn records(
            &self,
            _: &canonical_policies::BucketConfig,
            _: OffsetDateTime,
        ) -> Result<Vec<Value>, PortError> {
            Ok(self.0.clone())
        }
    }
    struct Broken;
    impl BucketRecords for Broken {
        async fn records(
            &self,
            _: &canonical_policies::BucketConfig,
            _: OffsetDateTime,
        ) -> Result<Vec<Value>, PortError> {
            Err(PortError::Retryable("ListObjectVersions: 503".into()))
        }
    }

    #[test]
    fn a_request_needs_another_approver_who_is_not_the_requester() {
        let config = example();
        let b = config.bucket(BUCKET).unwrap();
        let q = approval::request(b, ALICE, "incident 7", "SEC-7", Duration::hours(2), &readers(), now())
            .unwrap();
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
        let q = approval::request(b, ALICE, "incident 7", "SEC-7", Duration::hours(2), &readers(), now())
            .unwrap();
        let d = approval::decide(b, &q, &[], BOB, true, None, now()).unwrap();
        let grant = approval::grant_of(&d).unwrap();
        let policy = b.render_open(&grant, now()).unwrap().to_pretty_json();
        let approved =
            Records(vec![record("approval", "approved", &d.time, serde_json::to_value(&d).unwrap())]);

        // Written directly with the operator role, no approval in the trail: reverted.
        let e = Enforcer {
            config: example(),
            store: Store::default(),
            bus: Bus::default(),
            records: Records(vec![]),
            dry_run: false,
        };
        e.store.policies.lock().unwrap().insert(BUCKET.into(), policy.clone());
        let r = e.handle(&put_event(&policy, OPERATOR), now()).await.unwrap();
        assert_eq!(r[0].outcome, Outcome::Closed);
        assert!(r[0].reason.as_deref().unwrap().contains("no approved request"), "{:?}", r[0].reason);

        // With the approval recorded: lawful, nothing written.
        let e = Enforcer {
            config: example(),
            store: Store::default(),
            bus: Bus::default(),
            records: approved,
            dry_run: false,
        };
        e.store.policies.lock().unwrap().insert(BUCKET.into(), policy.clone());
        let r = e.handle(&put_event(&policy, OPERATOR), now()).await.unwrap();
        assert_eq!(r[0].outcome, Outcome::Lawful);

        // A wider or longer grant than approved is not covered.
        let mut wider = grant.clone();
        wider.readers.insert("arn:aws:iam::111122223333:role/investigations/ExternalAuditor".into());
        let longer = OpenGrant { expiry: grant.expiry + Duration::hours(1), ..grant.clone() };
        for g in [wider, longer] {
            let records = vec![record("approval", "approved", &d.time, serde_json::to_value(&d).unwrap())];
            assert!(approval::check(b, &g, &records).is_err(), "{g:?}");
        }
        // An approval opens one window: after a close it does not cover a re-open.
        let records = vec![
            record("approval", "approved", &d.time, serde_json::to_value(&d).unwrap()),
            record("request", "close", "2026-11-24T12:30:00Z", json!({})),
        ];
        assert!(approval::check(b, &grant, &records).is_err());

        // A trail that cannot be read proves nothing: closed (fail closed).
        let e = Enforcer {
            config: example(),
            store: Store::default(),
            bus: Bus::default(),
            records: Broken,
            dry_run: false,
        };
        e.store.policies.lock().unwrap().insert(BUCKET.into(), policy.clone());
        let r = e.handle(&put_event(&policy, OPERATOR), now()).await.unwrap();
        assert_eq!(r[0].outcome, Outcome::Closed);
        assert!(r[0].reason.as_deref().unwrap().contains("could not be read"), "{:?}", r[0].reason);
    }
}

/// Many unlawful policies in one sweep (here eight buckets sharing a base statement an intruder
/// changed): one event and record per bucket, marked as part of one digest, and the digest, whose
/// mail names the common cause; a remediation in the digest is kept from email subscriptions.
#[tokio::test]
async fn many_remediations_in_one_sweep_are_one_digest_mail_and_one_record_each() {
    let mut text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml"))
            .unwrap()
            .replace("two_person = true", "two_person = false");
    for n in 0..6 {
        text.push_str(&format!("\n[[bucket]]\nname = \"acme-extra-logs-{n}\"\n"));
    }
    let config = Config::from_toml(&text).unwrap();
    assert_eq!(config.buckets.len(), 8);
    let e = Enforcer {
        config: config.clone(),
        store: Store::default(),
        bus: Bus::default(),
        records: NoRecords,
        dry_run: false,
    };
    for b in &config.buckets {
        e.store
            .policies
            .lock()
            .unwrap()
            .insert(b.name.clone(), r#"{"Version":"2012-10-17","Statement":[]}"#.into());
    }
    let reports = e.handle(&schedule(), now()).await.unwrap();
    assert!(reports.iter().all(|r| r.outcome == Outcome::Closed));
    let events = e.bus.0.lock().unwrap().clone();
    let (digests, remediations): (Vec<_>, Vec<_>) =
        events.iter().partition(|x| x.detail_type == "breakglass remediation digest");
    assert_eq!((remediations.len(), digests.len()), (8, 1));
    let id = digests[0].detail["id"].as_str().unwrap();
    assert!(remediations.iter().all(|r| r.detail["digest"] == id));
    assert_eq!(digests[0].detail["count"], 8);
    assert!(digests[0].detail["common_cause"].is_string(), "{}", digests[0].detail);

    // The notifier: the digest is one mail to the security team; each remediation is a message
    // marked `digested`, which the email subscriptions' filter policies exclude.
    let mail = |x: &BusEvent| {
        let incoming =
            event::parse(&json!({"detail-type": x.detail_type, "source": "breakglass", "detail": x.detail}))
                .unwrap();
        match render(&config, &incoming, now()).remove(0) {
            Rendered::Send(n) => n,
            Rendered::Ignored(why) => panic!("{why}"),
        }
    };
    let digest = mail(digests[0]);
    assert!(
        digest.subject.contains("ALERT: 8 buckets reverted to ClosedAccess, one cause"),
        "{}",
        digest.subject
    );
    assert!(digest.email.contains("acme-extra-logs-5"), "{}", digest.email);
    assert!(!digest.attributes.iter().any(|(k, _)| k == "digested"));
    for r in remediations {
        let n = mail(r);
        assert!(n.attributes.contains(&("digested".to_owned(), id.to_owned())), "{:?}", n.attributes);
    }

    // Five or fewer are mailed one by one, as before.
    let few = Enforcer {
        config: crate::config(),
        store: Store::default(),
        bus: Bus::default(),
        records: NoRecords,
        dry_run: false,
    };
    for b in &few.config.buckets {
        few.store
            .policies
            .lock()
            .unwrap()
            .insert(b.name.clone(), r#"{"Version":"2012-10-17","Statement":[]}"#.into());
    }
    few.handle(&schedule(), now()).await.unwrap();
    let events = few.bus.0.lock().unwrap().clone();
    assert!(events
        .iter()
        .all(|x| x.detail_type == "breakglass remediation" && x.detail.get("digest").is_none()));
}
