//! The gate: the caller from the function URL's IAM identity only, a typed body, every check
//! before anything is written, and its own signed record before it acts.

use super::*;
use breakglass_core::access::approval::{self, TrailRecords};
use breakglass_core::access::gate::{self, caller, parse_op, Answer, Gate, GateError, Op};
use breakglass_core::testing::{example_config, Log};
use breakglass_core::trail::audit::Trail;
use canonical_policies::{classify, State};

const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice";
const BOB: &str = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob";
/// Alice again, under another session name of another configured role: not an approver.
const OTHER_ROLE: &str = "arn:aws:sts::111122223333:assumed-role/Admin/carol";

fn roles() -> Vec<String> {
    vec!["breakglass-operator".to_owned(), "Admin".to_owned()]
}

/// The function URL event AWS sends for an IAM-authorised POST by `arn`.
fn url_event(arn: &str, body: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.eu-west-1.on.aws",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "breakglass"},
            "authorizer": {"iam": {
                "accessKey": "ASIAEXAMPLE", "accountId": "111122223333", "callerId": "AROAEXAMPLE:x",
                "cognitoIdentity": null, "principalOrgId": "o-example", "userArn": arn, "userId": "AROAEXAMPLE:x"
            }},
            "requestId": "r-1", "routeKey": "$default", "stage": "$default",
            "time": "24/Nov/2026:12:00:00 +0000", "timeEpoch": 1795521600000_u64
        },
        "body": body, "isBase64Encoded": false
    })
}

struct World {
    config: Config,
    store: Store,
    bus: Bus,
    trail: Trail<Log>,
    roles: Vec<String>,
}

impl World {
    fn new() -> World {
        World::with(example_config())
    }

    /// `config`, with the bucket closed.
    fn with(config: Config) -> World {
        let closed = config.bucket(BUCKET).unwrap().closed_policy().to_pretty_json();
        let store = Store::default();
        store.policies.lock().unwrap().insert(BUCKET.to_owned(), closed);
        let trail = Trail {
            log: Log::default(),
            config: config.audit.clone().unwrap(),
            config_sha256: Some("c0nf".into()),
        };
        World { config, store, bus: Bus::default(), trail, roles: roles() }
    }

    async fn call(&self, arn: &str, body: &str, at: OffsetDateTime) -> Answer {
        let records = TrailRecords {
            reader: &self.trail.log,
            prefix: self.trail.config.prefix.clone(),
            organisation: false,
        };
        let g = Gate {
            config: &self.config,
            store: &self.store,
            bus: &self.bus,
            trail: &self.trail,
            records: &records,
            roles: &self.roles,
        };
        gate::handle(&g, None::<&breakglass_core::testing::ConfigObject>, &url_event(arn, body), at).await
    }

    fn written(&self) -> usize {
        self.trail.log.records.lock().unwrap().len()
    }

    fn state(&self) -> State {
        let b = self.config.bucket(BUCKET).unwrap();
        let live = self.store.policies.lock().unwrap().get(BUCKET).cloned();
        classify(b, live.as_deref().map(str::as_bytes), now()).state
    }
}

fn request_body() -> String {
    json!({"op": "request", "bucket": BUCKET, "readers": [READER], "duration": "2h", "reason": "incident 7", "ticket": "SEC-7"})
        .to_string()
}

fn error_line(a: &Answer) -> String {
    a.body["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn alice_requests_and_bob_approves_exactly_what_was_asked() {
    let w = World::new();
    let a = w.call(ALICE, &request_body(), now()).await;
    assert_eq!(a.status, 200, "{a:?}");
    let id = a.body["id"].as_str().unwrap().to_owned();
    // The gate's own record of the request, stamped with its clock, before the mail.
    let records: Vec<Value> = w.trail.log.under("breakglass/").into_iter().map(|(_, v)| v).collect();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0]["writer"].as_str(), records[0]["action"].as_str()),
        (Some("gate"), Some("requested"))
    );
    assert_eq!(records[0]["time"], "2026-11-24T12:00:00Z");
    assert!(matches!(w.bus.events().as_slice(), [breakglass_core::events::OwnEvent::AccessRequest(_)]));
    assert_eq!(w.state(), State::Closed);

    let later = now() + time::Duration::minutes(5);
    let a = w.call(BOB, &json!({"op": "approve", "request": id}).to_string(), later).await;
    assert_eq!(a.status, 200, "{a:?}");
    let State::Open(g) = w.state() else { panic!("{:?}", w.state()) };
    assert_eq!(g.readers, BTreeSet::from([READER.to_owned()]));
    assert_eq!(canonical_policies::format_expiry(g.expiry), "2026-11-24T14:05:00Z");
    let records: Vec<Value> = w.trail.log.under("breakglass/").into_iter().map(|(_, v)| v).collect();
    let (requests, decisions) = approval::from_gate_records(&records);
    assert_eq!((requests.len(), decisions.len()), (1, 1));
    assert_eq!((decisions[0].decision.as_str(), decisions[0].by.as_str()), ("approved", BOB));
    // The enforcer's check finds the approval covering what is open.
    approval::check(w.config.bucket(BUCKET).unwrap(), &g, &records).unwrap();
    // Approved once: the same approver again opens what the recorded approval says (a retry after
    // a failure), and records nothing new.
    let a = w.call(BOB, &json!({"op": "approve", "request": id}).to_string(), later).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(w.written(), 2);
}

#[tokio::test]
async fn self_approval_and_a_non_approver_are_refused_and_nothing_is_written() {
    let w = World::new();
    let id = w.call(ALICE, &request_body(), now()).await.body["id"].as_str().unwrap().to_owned();
    let approve = json!({"op": "approve", "request": id}).to_string();
    for who in [ALICE, "arn:aws:sts::111122223333:assumed-role/Admin/alice", OTHER_ROLE] {
        let a = w.call(who, &approve, now()).await;
        assert_eq!(a.status, 403, "{who}: {a:?}");
        assert!(error_line(&a).starts_with("refused: "), "{a:?}");
        assert_eq!(w.written(), 1, "only the request is recorded");
        assert_eq!(w.state(), State::Closed);
    }
}

#[tokio::test]
async fn only_sessions_of_the_operator_roles_may_call() {
    let w = World::new();
    for who in [
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:root",
        "arn:aws:sts::111122223333:assumed-role/SomeOtherRole/alice",
        "arn:aws:sts::111122223333:federated-user/alice",
        "arn:aws:sts::111122223333:assumed-role/breakglass-operator/",
    ] {
        let a = w.call(who, &request_body(), now()).await;
        assert_eq!(a.status, 403, "{who}: {a:?}");
    }
    assert_eq!(w.written(), 0);
    let c = caller(BOB, &roles()).unwrap();
    assert_eq!((c.role.as_str(), c.person.as_str()), ("breakglass-operator", "bob"));
}

/// Issue 21, one person is one identity: an IAM Identity Center permission set's own sessions,
/// which AWS names after the person who signed in, may call the gate when the permission set is
/// named (`AWSReservedSSO_<name>_*`); another permission set whose name only begins the same, or a
/// role named like one without Identity Center's 16 hex digits, may not.
#[test]
fn an_identity_center_permission_sets_sessions_are_people() {
    let roles = vec!["breakglass-operator".to_owned(), "AWSReservedSSO_BreakglassOperator_*".to_owned()];
    let sso = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_BreakglassOperator_0123456789abcdef/alice@example.com";
    let c = caller(sso, &roles).unwrap();
    assert_eq!(c.person, "alice@example.com");
    assert_eq!(c.role, "AWSReservedSSO_BreakglassOperator_0123456789abcdef");
    for other in [
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_BreakglassOperator_Evil_0123456789abcdef/alice",
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_BreakglassOperator_0123456789abcde/alice",
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_BreakglassOperator_0123456789abcdeg/alice",
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_BreakglassOperator_/alice",
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice",
    ] {
        assert!(caller(other, &roles).is_err(), "{other}");
    }
    // A `*` means Identity Center's suffix only: no other role name is a pattern.
    assert!(caller(
        "arn:aws:sts::111122223333:assumed-role/breakglass-operator2/alice",
        &["breakglass-operator*".to_owned()]
    )
    .is_err());
}

#[tokio::test]
async fn bad_input_is_a_4xx_with_one_line_and_writes_nothing() {
    let w = World::new();
    let big = format!("{{\"op\":\"close\",\"bucket\":\"{}\",\"reason\":\"x\"}}", "a".repeat(17 * 1024));
    let cases = [
        ("{not json", 400),
        (r#"{"op":"explode","bucket":"acme-cloudtrail-logs"}"#, 400),
        (r#"{"op":"approve"}"#, 400),
        // The approver's bucket is part of an approval (it binds the id); anything more is not.
        (r#"{"op":"approve","request":"0123456789ab","bucket":"acme-cloudtrail-logs","grant":"x"}"#, 400),
        (r#"{"op":"approve","request":"0123456789ab","readers":["x"],"duration":"99h"}"#, 400),
        (r#"{"op":"approve","request":"../etc"}"#, 400),
        (
            r#"{"op":"request","bucket":"acme-cloudtrail-logs","duration":"2h","reason":"r","ticket":"T","time":"2020-01-01T00:00:00Z"}"#,
            400,
        ),
        (r#"{"op":"request","bucket":"not-ours","duration":"2h","reason":"r","ticket":"T"}"#, 404),
        (
            r#"{"op":"request","bucket":"acme-cloudtrail-logs","duration":"13h","reason":"r","ticket":"T"}"#,
            400,
        ),
        (
            r#"{"op":"request","bucket":"acme-cloudtrail-logs","readers":["arn:aws:iam::111122223333:role/Admin"],"duration":"2h","reason":"r","ticket":"T"}"#,
            400,
        ),
        (
            r#"{"op":"request","bucket":"acme-cloudtrail-logs","duration":"0h","reason":"r","ticket":"T"}"#,
            400,
        ),
        (r#"{"op":"approve","request":"0123456789ab"}"#, 404),
        (r#"{"op":"open","bucket":"acme-cloudtrail-logs","duration":"2h","reason":"r","ticket":"T"}"#, 409),
        (&big, 400),
    ];
    for (body, status) in cases {
        let a = w.call(ALICE, body, now()).await;
        assert_eq!(a.status, status, "{}: {a:?}", body.chars().take(120).collect::<String>());
        let line = error_line(&a);
        assert!(!line.is_empty() && !line.contains('\n'), "{a:?}");
        assert_eq!(a.body.as_object().unwrap().len(), 1);
    }
    assert_eq!(w.written(), 0);
    assert_eq!(*w.store.writes.lock().unwrap(), 0);
    // Not a function URL call, or not a POST.
    let records = TrailRecords { reader: &w.trail.log, prefix: "breakglass/".into(), organisation: false };
    let g = Gate {
        config: &w.config,
        store: &w.store,
        bus: &w.bus,
        trail: &w.trail,
        records: &records,
        roles: &w.roles,
    };
    assert_eq!(
        gate::handle(&g, None::<&breakglass_core::testing::ConfigObject>, &json!({"detail": {}}), now())
            .await
            .status,
        403
    );
    let mut get = url_event(ALICE, &request_body());
    get["requestContext"]["http"]["method"] = json!("GET");
    assert_eq!(
        gate::handle(&g, None::<&breakglass_core::testing::ConfigObject>, &get, now()).await.status,
        405
    );
    let mut encoded = url_event(ALICE, "e30=");
    encoded["isBase64Encoded"] = json!(true);
    assert_eq!(
        gate::handle(&g, None::<&breakglass_core::testing::ConfigObject>, &encoded, now()).await.status,
        400
    );
    assert_eq!(w.written(), 0);
}

/// A refusal quotes what was sent (serde names an unknown operation in full): a newline or 15 KiB
/// in it must not become a second line or a page in the CLI and the logs.
#[tokio::test]
async fn regression_a_refusal_quoting_the_input_is_one_bounded_line() {
    let w = World::new();
    let forged = r"x\nbreakglass: approved by bob\r\u001b[2J";
    let long = "y".repeat(15 * 1024);
    for op in [forged.to_owned(), long] {
        let body = format!(r#"{{"op":"{op}","bucket":"acme-cloudtrail-logs"}}"#);
        let a = w.call(ALICE, &body, now()).await;
        assert_eq!(a.status, 400, "{a:?}");
        let line = error_line(&a);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.chars().count() <= gate::MAX_ERROR + 1, "{} characters", line.chars().count());
        assert!(line.starts_with("invalid request: unknown variant"), "{line}");
    }
    assert_eq!(w.written(), 0);
}

#[tokio::test]
async fn a_denied_request_cannot_be_approved_and_an_expired_one_not_decided() {
    let w = World::new();
    let id = w.call(ALICE, &request_body(), now()).await.body["id"].as_str().unwrap().to_owned();
    let a = w.call(BOB, &json!({"op": "deny", "request": id, "reason": "not now"}).to_string(), now()).await;
    assert_eq!(a.status, 200, "{a:?}");
    let a = w.call(BOB, &json!({"op": "approve", "request": id}).to_string(), now()).await;
    assert_eq!(a.status, 409, "{a:?}");
    assert_eq!(w.state(), State::Closed);

    let w = World::new();
    let id = w.call(ALICE, &request_body(), now()).await.body["id"].as_str().unwrap().to_owned();
    let late = now() + time::Duration::hours(25);
    let a = w.call(BOB, &json!({"op": "approve", "request": id}).to_string(), late).await;
    assert_eq!(a.status, 409, "{a:?}");
}

#[tokio::test]
async fn requests_and_decisions_not_written_by_the_gate_are_not_acted_on() {
    let w = World::new();
    // A request that reached the trail another way (the notifier's record of a bus event).
    let q = approval::request(
        w.config.bucket(BUCKET).unwrap(),
        ALICE,
        "r",
        "T",
        time::Duration::hours(2),
        &BTreeSet::new(),
        now(),
    )
    .unwrap();
    let detail = serde_json::to_value(&q).unwrap();
    let body = json!({"kind": "approval", "action": "requested", "time": q.time, "bucket": BUCKET, "detail": detail});
    w.trail
        .log
        .records
        .lock()
        .unwrap()
        .insert(format!("breakglass/{BUCKET}/{}-x.json", q.time), body.to_string());
    let a = w.call(BOB, &json!({"op": "approve", "request": q.id}).to_string(), now()).await;
    assert_eq!(a.status, 404, "{a:?}");
    assert_eq!(w.state(), State::Closed);
}

#[tokio::test]
async fn open_and_close_go_through_the_gate_for_buckets_without_the_two_person_rule() {
    let w = World::with(config());
    let open =
        json!({"op": "open", "bucket": BUCKET, "duration": "2h", "reason": "r", "ticket": "T"}).to_string();
    let a = w.call(ALICE, &open, now()).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert!(matches!(w.state(), State::Open(_)));
    let a =
        w.call(ALICE, &json!({"op": "close", "bucket": BUCKET, "reason": "done"}).to_string(), now()).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(w.state(), State::Closed);
}

#[test]
fn the_body_type_takes_no_time_and_nothing_unknown() {
    assert!(matches!(parse_op(r#"{"op":"approve","request":"0123456789ab"}"#), Ok(Op::Approve { .. })));
    for body in [
        r#"{"op":"approve","request":"0123456789ab","time":"2026-01-01T00:00:00Z"}"#,
        r#"{"op":"close","bucket":"b","reason":"r","requester":"bob"}"#,
        r#"{"op":"Approve","request":"0123456789ab"}"#,
        r#"["approve"]"#,
    ] {
        assert!(matches!(parse_op(body), Err(GateError::BadRequest(_))), "{body}");
    }
}

/// Regression: the approver alone re-opened a bucket after its window was closed, by approving
/// the same request again (the path that resumes an approval whose call failed after its record).
/// An approval opens one window; once it was closed, approving again opens nothing.
#[tokio::test]
async fn approving_again_after_the_close_opens_nothing() {
    use breakglass_core::ports::AuditLog;
    let w = World::new();
    let a = w.call(ALICE, &request_body(), now()).await;
    let id = a.body["id"].as_str().unwrap().to_owned();
    let approve = json!({"op": "approve", "request": id}).to_string();
    let later = now() + time::Duration::minutes(5);
    assert_eq!(w.call(BOB, &approve, later).await.status, 200);
    assert!(matches!(w.state(), State::Open(_)));
    let closed = later + time::Duration::minutes(10);
    let a =
        w.call(ALICE, &json!({"op": "close", "bucket": BUCKET, "reason": "done"}).to_string(), closed).await;
    assert_eq!(a.status, 200, "{a:?}");
    // The notifier's record of the close, as it writes it from the close's event.
    let record = json!({"schema": "breakglass.audit/1", "time": breakglass_core::time::format_time(closed),
        "bucket": BUCKET, "kind": "request", "action": "close"});
    let key = format!("breakglass/{BUCKET}/{}-close.json", breakglass_core::time::format_time(closed));
    w.trail.log.append(&key, &record.to_string(), closed + time::Duration::days(1)).await.unwrap();
    assert_eq!(w.state(), State::Closed);
    let a = w.call(BOB, &approve, closed + time::Duration::minutes(1)).await;
    assert_ne!(a.status, 200, "{a:?}");
    assert_eq!(w.state(), State::Closed, "approving again opens nothing");
}

/// Regression (insider review): an administrator invoked `breakglass-gate:$LATEST` directly with a
/// hand-made function-URL event naming another operator. The gate answers only as invoked through
/// its URL: the function's own, unqualified ARN.
#[test]
fn regression_a_qualified_invocation_is_refused() {
    let arn = "arn:aws:lambda:eu-central-1:111122223333:function:breakglass-gate";
    assert!(gate::through_its_url(arn).is_ok());
    for invoked in [format!("{arn}:$LATEST"), format!("{arn}:1"), format!("{arn}:live"), String::new()] {
        let refused = gate::through_its_url(&invoked).unwrap_err();
        assert_eq!(refused.status(), 403, "{invoked}");
        assert!(refused.to_string().contains("only through its function URL"), "{refused}");
    }
}

/// Regression (insider review): an approval named the request by its short id alone, and the gate
/// approved the first request of any bucket with that id. The approver's bucket now binds it.
#[tokio::test]
async fn regression_an_approval_names_the_bucket_it_was_meant_for() {
    let w = World::new();
    let a = w.call(ALICE, &request_body(), now()).await;
    let id = a.body["id"].as_str().unwrap().to_owned();
    let later = now() + time::Duration::minutes(5);
    let other = w.config.buckets.iter().find(|b| b.name != BUCKET).unwrap().name.clone();
    let wrong = json!({"op": "approve", "request": id, "bucket": other}).to_string();
    let a = w.call(BOB, &wrong, later).await;
    assert_eq!(a.status, 404, "{a:?}");
    assert!(error_line(&a).contains(&format!("of bucket `{other}`")), "{}", error_line(&a));
    assert_eq!((w.state(), w.written()), (State::Closed, 1));
    let right = json!({"op": "approve", "request": id, "bucket": BUCKET}).to_string();
    let a = w.call(BOB, &right, later).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert!(matches!(w.state(), State::Open(_)));
}

const AUDITOR: &str = "arn:aws:iam::111122223333:role/investigations/ExternalAuditor";

/// A request of `readers` for `duration` on the bucket, and an approval of request `id` for it.
fn ask(readers: &[&str], duration: &str) -> String {
    json!({"op": "request", "bucket": BUCKET, "readers": readers, "duration": duration, "reason": "r", "ticket": "T"})
        .to_string()
}

fn approve(id: &str) -> String {
    json!({"op": "approve", "request": id, "bucket": BUCKET}).to_string()
}

/// The id of the request `body` that `who` makes at `at`.
async fn requested(w: &World, who: &str, body: &str, at: OffsetDateTime) -> String {
    w.call(who, body, at).await.body["id"].as_str().unwrap().to_owned()
}

/// Regression (insider review): an approval opened the union of the asked readers and those open
/// now, until the later expiry: a reader approved for minutes read for as long as an earlier
/// window lasted, and nobody had approved that. Such an approval is refused; one asking for all
/// that is open, until then or later, is not.
#[tokio::test]
async fn regression_an_approval_never_opens_wider_than_asked() {
    let w = World::new();
    let t = now();
    let id = requested(&w, ALICE, &ask(&[READER], "8h"), t).await;
    assert_eq!(w.call(BOB, &approve(&id), t).await.status, 200);
    // Another reader for one hour while the first window lasts eight: refused, nothing written.
    let id = requested(&w, ALICE, &ask(&[AUDITOR], "1h"), t).await;
    let before = w.written();
    let a = w.call(BOB, &approve(&id), t).await;
    assert_eq!(a.status, 409, "{a:?}");
    assert!(error_line(&a).contains("the bucket is open for"), "{}", error_line(&a));
    assert_eq!(w.written(), before);
    let State::Open(g) = w.state() else { panic!("{:?}", w.state()) };
    assert_eq!(g.readers, BTreeSet::from([READER.to_owned()]));
    // Both readers, for as long as the window in force or longer: approved as asked.
    let id = requested(&w, ALICE, &ask(&[READER, AUDITOR], "9h"), t).await;
    assert_eq!(w.call(BOB, &approve(&id), t).await.status, 200);
    let State::Open(g) = w.state() else { panic!("{:?}", w.state()) };
    assert_eq!(g.readers, BTreeSet::from([READER.to_owned(), AUDITOR.to_owned()]));
}

/// Regression (insider review): a reason or ticket could hold a line separator (U+2028) or a
/// bidirectional control, which `char::is_control` lets through: a forged "Who would read" section
/// in the approver's mail, or a subject SNS refuses. Refused like a newline.
#[tokio::test]
async fn regression_a_line_separator_or_bidi_control_in_a_reason_is_refused() {
    let w = World::new();
    for bad in ["incident\u{2028}Who would read: nobody", "incident \u{202E}7 tnedicni", "a\u{200B}b"] {
        for field in ["reason", "ticket"] {
            let mut body = json!({"op": "request", "bucket": BUCKET, "readers": [READER], "duration": "2h", "reason": "r", "ticket": "T"});
            body[field] = json!(bad);
            let a = w.call(ALICE, &body.to_string(), now()).await;
            assert_eq!(a.status, 400, "{field} {bad:?}: {a:?}");
            assert!(error_line(&a).contains("line-separator"), "{}", error_line(&a));
        }
    }
    assert_eq!(w.written(), 0);
    assert!(breakglass_core::notice::breaks_text('\u{2029}'));
    assert!(!breakglass_core::notice::breaks_text('é'));
}

/// Regression (insider review): a request the gate refused (a reader that is not an investigator
/// role, too long) left only a log line, which an administrator can delete. It is published as a
/// refused request, as a refused open is, for the stakeholders and the audit trail.
#[tokio::test]
async fn regression_a_refused_request_is_published_as_an_attempt() {
    let w = World::new();
    let body = json!({"op": "request", "bucket": BUCKET, "readers": ["arn:aws:iam::111122223333:role/Admin"],
        "duration": "2h", "reason": "just looking", "ticket": "T"});
    let a = w.call(ALICE, &body.to_string(), now()).await;
    assert_eq!(a.status, 400, "{a:?}");
    let events = w.bus.events();
    let [breakglass_core::events::OwnEvent::Request(r)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(
        (r.outcome.as_deref(), r.requester.as_str(), r.bucket.as_str()),
        (Some("refused"), ALICE, BUCKET)
    );
    assert_eq!(r.reason.as_deref(), Some("just looking"));
    assert_eq!(w.written(), 0);
}

/// Regression (review of this stop's diff): `approve` again resumes a recorded approval by writing
/// its grant exactly; if a later approval had opened the bucket wider meanwhile, the resumed one cut
/// that grant short. It is refused instead, and the wider grant stays.
#[tokio::test]
async fn regression_a_resumed_approval_never_cuts_a_wider_grant_short() {
    let w = World::new();
    let t = now();
    let first = requested(&w, ALICE, &ask(&[READER], "2h"), t).await;
    assert_eq!(w.call(BOB, &approve(&first), t).await.status, 200);
    let wider = requested(&w, ALICE, &ask(&[READER, AUDITOR], "9h"), t).await;
    assert_eq!(w.call(BOB, &approve(&wider), t).await.status, 200);
    // Bob approves the first request again: its recorded approval would write two hours, one reader.
    let a = w.call(BOB, &approve(&first), t).await;
    assert_eq!(a.status, 409, "{a:?}");
    assert!(error_line(&a).contains("would cut that grant short"), "{}", error_line(&a));
    let State::Open(g) = w.state() else { panic!("{:?}", w.state()) };
    assert_eq!(g.readers, BTreeSet::from([READER.to_owned(), AUDITOR.to_owned()]));
}
