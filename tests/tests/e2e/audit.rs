//! The audit trail against moto's S3 Object Lock: records cannot be deleted or overwritten, a
//! tampering attempt shows in `breakglass history`, and the scheduled pass's close after expiry ends
//! the window, through the real enforcer and notifier binaries.

use std::collections::BTreeSet;

use aws_sdk_s3::primitives::ByteStream;
use canonical_policies::OpenGrant;
use e2e::{cloudtrail_event, config, provision, setup, Env, Moto};
use serde_json::{json, Value};

const BUCKET: &str = "acme-cloudtrail-logs";
const OPERATOR: &str = "arn:aws:iam::111122223333:role/breakglass-operator";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";

/// `breakglass history` as an operator, under IAM as the template grants the operator role.
async fn history(iam: &e2e::IamProxy, extra: &[&str]) -> (i32, String, String) {
    let config = e2e::single_operator_path();
    let operator = iam.person_env("breakglass-operator", "auditor").await;
    let args = [&["history", "--config", &config, "--bucket", BUCKET][..], extra].concat();
    e2e::breakglass_as(&operator, &iam.endpoint, &args)
}

fn request_event(action: &str, id: &str) -> Value {
    json!({
        "version": "0", "id": id, "source": "breakglass", "detail-type": "breakglass request",
        "detail": {
            "schema": "breakglass.request/1", "action": action, "bucket": BUCKET,
            "requester": "arn:aws:sts::111122223333:assumed-role/breakglass-operator/alice",
            "reason": "incident 42", "ticket": "INC-42",
            "grant": if action == "open" { json!({"readers": [READER], "expiry": "2099-01-01T00:00:00Z"}) } else { Value::Null },
            "previous": null,
            "time": if action == "open" { "2026-11-24T10:00:00Z" } else { "2026-11-24T11:00:00Z" },
        }
    })
}

#[tokio::test(flavor = "current_thread")]
async fn records_cannot_be_deleted_or_overwritten_and_tampering_shows_in_history() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision(&moto.endpoint).await;
    let iam = stack.iam(&moto.endpoint);
    let notifier = iam.spawn(&stack, "notifier").await;
    let s3 = &stack.clients.s3;
    let audit = &stack.audit_bucket;

    notifier.invoke(&request_event("open", "ev-open")).unwrap();
    notifier.invoke(&request_event("close", "ev-close")).unwrap();
    // A retried invocation writes nothing new.
    let again = notifier.invoke(&request_event("open", "ev-open")).unwrap();
    assert_eq!(again["recorded"][0]["new"], json!(false), "{again}");
    let records = stack.audit_records(BUCKET).await;
    assert_eq!(records.len(), 2);
    let (key, original) = records[0].clone();
    let head = s3.head_object().bucket(audit).key(&key).send().await.unwrap();
    let version = head.version_id.clone().unwrap();
    assert_eq!(head.object_lock_mode.unwrap().as_str(), "COMPLIANCE");
    let until = head.object_lock_retain_until_date.unwrap();
    assert!(until.secs() > time::OffsetDateTime::now_utc().unix_timestamp() + 2500 * 86_400, "{until:?}");

    // Delete the version: refused, also when asking to bypass governance retention.
    let denied = s3.delete_object().bucket(audit).key(&key).version_id(&version).send().await.unwrap_err();
    assert_eq!(denied.raw_response().unwrap().status().as_u16(), 403, "{denied:?}");
    let denied = s3
        .delete_object()
        .bucket(audit)
        .key(&key)
        .version_id(&version)
        .bypass_governance_retention(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(denied.raw_response().unwrap().status().as_u16(), 403, "{denied:?}");
    // Overwrite the way the notifier writes (conditional): refused.
    let refused = s3
        .put_object()
        .bucket(audit)
        .key(&key)
        .if_none_match("*")
        .body(ByteStream::from_static(b"{}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.raw_response().unwrap().status().as_u16(), 412, "{refused:?}");
    // Overwrite without the condition: S3 stores a new version and keeps the locked original.
    let forged = br#"{"schema":"breakglass.audit/1","time":"2026-11-24T10:00:00Z","kind":"request","action":"close","summary":"forged"}"#;
    s3.put_object().bucket(audit).key(&key).body(ByteStream::from_static(forged)).send().await.unwrap();
    let original_back = s3.get_object().bucket(audit).key(&key).version_id(&version).send().await.unwrap();
    let bytes = original_back.body.collect().await.unwrap().into_bytes();
    assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), original);
    // Hide the other record behind a delete marker (allowed by S3; the version stays).
    s3.delete_object().bucket(audit).key(&records[1].0).send().await.unwrap();

    // history shows the originals, both records, and says what was tampered with (exit 3).
    let (code, out, err) = history(&iam, &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("OPEN WINDOW, closed after 1h"), "{out}");
    assert!(!out.contains("forged"), "{out}");
    assert!(err.contains("written over it; the original is shown"), "{err}");
    assert!(err.contains("hidden behind a delete marker"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_scheduled_pass_closes_an_expired_window_and_stakeholders_are_told() {
    let Some(Env { _moto, stack, enforcer, notifier, iam }) = setup().await else { return };
    let c = config();
    let b = c.bucket(BUCKET).unwrap();

    // The operator opens for a few seconds; CloudTrail's event reaches both functions. The window
    // must outlast the first round trip even on a loaded CI machine (3 s did not, once).
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let expiry = now + time::Duration::seconds(15);
    let grant = OpenGrant { readers: BTreeSet::from([READER.to_owned()]), expiry };
    let policy = b.render_open(&grant, now).unwrap().to_pretty_json();
    stack.clients.s3.put_bucket_policy().bucket(BUCKET).policy(&policy).send().await.unwrap();
    stack
        .cloudtrail(&cloudtrail_event("PutBucketPolicy", BUCKET, OPERATOR, "alice", Some(&policy), None))
        .await;
    stack.route(&enforcer, &notifier).await;
    assert_eq!(stack.live_policy(BUCKET).await.as_deref(), Some(policy.as_str()), "lawful: left alone");

    // Until just after the expiry, however long the first part took.
    let left = expiry - time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    std::thread::sleep(std::time::Duration::try_from(left).unwrap_or_default());
    let schedule = json!({"version": "0", "id": "sweep-1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "111122223333", "region": "eu-central-1", "resources": [], "detail": {}});
    let answer = enforcer.invoke(&schedule).unwrap();
    assert!(answer.to_string().contains("expired"), "{answer}");
    for own in stack.drain(&stack.own_events).await {
        notifier.invoke(&own).unwrap();
    }
    assert_eq!(stack.live_policy(BUCKET).await, Some(b.closed_policy().to_pretty_json()));
    let mails = stack.deliveries(&stack.stakeholders).await;
    let subjects: Vec<&str> = mails.iter().filter_map(|(_, d)| d["subject"].as_str()).collect();
    assert!(subjects.iter().any(|s| s.contains("access OPENED until")), "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.ends_with(&format!("{BUCKET}: access CLOSED after expiry"))),
        "{subjects:?}"
    );

    let (code, out, err) = history(&iam, &["--json"]).await;
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    let w = &j["entries"][0];
    assert_eq!((w["type"].as_str(), w["status"].as_str()), (Some("window"), Some("closed")), "{j:#}");
    assert_eq!(w["closed"]["kind"], "expiry");
    assert_eq!(j["entries"].as_array().unwrap().len(), 1, "the enforcer's own write is folded in: {j:#}");
}

/// Attack 7 of docs/threat-model.md: forging the record. The bucket policy and the SCP let only the
/// notifier write records (proofs/tests/proofs/template.rs; moto enforces neither), and the notifier signs
/// each one with the records' HMAC key, which only it may use. A record written by anyone else, or a
/// genuine signature on changed content, shows in `history` as FORGED, is not shown, and exits 3.
#[tokio::test(flavor = "current_thread")]
async fn attack_7_a_forged_record_shows_as_forged_in_history() {
    // `_moto` is bound so that moto lives as long as the test.
    let Some(e2e::Env { _moto, stack, notifier, iam, .. }) = e2e::setup().await else { return };
    let s3 = &stack.clients.s3;
    let audit = &stack.audit_bucket;
    notifier.invoke(&request_event("open", "ev-open")).unwrap();
    let (code, out, err) = history(&iam, &[]).await;
    assert_eq!(code, 0, "a genuine trail verifies: {out}{err}");
    assert!(out.contains("OPEN WINDOW"), "{out}");

    // The insider's "close", written straight into the trail: no signature.
    let forged = br#"{"schema":"breakglass.audit/1","time":"2026-11-24T10:30:00Z","bucket":"acme-cloudtrail-logs","kind":"request","action":"close","who":"alice","summary":"closed (forged)"}"#;
    let key = format!("breakglass/{BUCKET}/2026-11-24T10:30:00Z-0000000000000000.json");
    s3.put_object().bucket(audit).key(&key).body(ByteStream::from_static(forged)).send().await.unwrap();
    // And one with a genuine signature copied from the real record, over other content.
    let records = stack.audit_records(BUCKET).await;
    let (real_key, _) = records.iter().find(|(k, _)| k != &key).unwrap();
    let head = s3.head_object().bucket(audit).key(real_key).send().await.unwrap();
    let mac = head.metadata.unwrap()["breakglass-mac"].clone();
    let copied = format!("breakglass/{BUCKET}/2026-11-24T10:31:00Z-1111111111111111.json");
    s3.put_object()
        .bucket(audit)
        .key(&copied)
        .metadata("breakglass-mac", mac)
        .body(ByteStream::from_static(forged))
        .send()
        .await
        .unwrap();

    let (code, out, err) = history(&iam, &[]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(!out.contains("(forged)"), "a forged record is not shown: {out}");
    assert!(out.contains("OPEN WINDOW"), "the forged close does not close the window: {out}");
    assert!(err.contains(&format!("record `{key}` is FORGED: it carries no signature")), "{err}");
    assert!(err.contains(&format!("record `{copied}` is FORGED: its signature does not match")), "{err}");
}
