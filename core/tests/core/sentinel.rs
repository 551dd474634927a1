//! The sentinel (the paths around the policy) over in-memory ports: what it repairs, what it only
//! reports, dry runs, refusals, and that one failing bucket does not stop the others. The same runs
//! against moto through the real binaries in `tests/tests/e2e/attacks.rs`.

use breakglass_config::Config;
use breakglass_core::events::REPAIR;
use breakglass_core::guard::sentinel::Sentinel;
use breakglass_core::guard::watch::{unlawful_rule, Expected};
use breakglass_core::inbound::event::{self, Incoming};
use breakglass_core::ports::{LifecycleRule, PortError, Subscription};
use breakglass_core::testing::{now, single_operator_config as config, Bus, Control, Settings};
use serde_json::json;

const BUCKET: &str = "acme-cloudtrail-logs";
const TOPIC: &str = "arn:aws:sns:eu-central-1:111122223333:breakglass-notifications";

fn sweep() -> Incoming {
    event::parse(&json!({"detail-type": "Scheduled Event", "source": "aws.events"})).unwrap()
}

/// The config, the in-memory AWS around it, and what the sentinel expects.
struct World {
    c: Config,
    store: Settings,
    bus: Bus,
    control: Control,
    expected: Expected,
}

impl World {
    /// Every investigator role with its configured trust, every subscription as expected.
    fn healthy() -> World {
        let c = config();
        let (control, expected) = healthy(&c);
        World { c, store: Settings::default(), bus: Bus::default(), control, expected }
    }

    fn sentinel(&self, dry_run: bool) -> Sentinel<'_, Settings, Bus, Control> {
        Sentinel {
            config: &self.c,
            store: &self.store,
            bus: &self.bus,
            control: &self.control,
            expected: &self.expected,
            dry_run,
        }
    }
}

fn healthy(c: &Config) -> (Control, Expected) {
    let control = Control::default();
    for i in &c.investigators {
        control.trust.lock().unwrap().insert(i.role.clone(), i.trust_policy_json());
    }
    let expected =
        Expected::parse(TOPIC, r#"[{"protocol":"email","endpoint":"council@example.com"}]"#).unwrap();
    control.subscriptions.lock().unwrap().push(Subscription {
        arn: format!("{TOPIC}:1"),
        protocol: "email".into(),
        endpoint: "council@example.com".into(),
        filter_policy: None,
        filter_scope: None,
    });
    (control, expected)
}

fn rule(days: Option<i32>, noncurrent: Option<i32>) -> LifecycleRule {
    LifecycleRule {
        id: Some("r".into()),
        enabled: true,
        expiration_days: days,
        expiration_date: None,
        noncurrent_days: noncurrent,
    }
}

#[test]
fn lifecycle_rules_are_judged_against_the_retention() {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    assert_eq!(b.retention_days, Some(400));
    assert!(unlawful_rule(b, &rule(Some(400), None)).is_none());
    assert!(unlawful_rule(b, &rule(Some(399), None)).is_some());
    assert!(unlawful_rule(b, &rule(None, Some(30))).is_some(), "old versions are logs too");
    assert!(unlawful_rule(b, &LifecycleRule { enabled: false, ..rule(Some(1), None) }).is_none());
    let dated = LifecycleRule { expiration_date: Some("2027-01-01T00:00:00Z".into()), ..rule(None, None) };
    assert!(unlawful_rule(b, &dated).unwrap().contains("from 2027-01-01"));
    // Without retention_days nothing may expire.
    let mut strict = b.clone();
    strict.retention_days = None;
    assert!(unlawful_rule(&strict, &rule(Some(36_500), None)).is_some());
    assert!(unlawful_rule(&strict, &rule(None, None)).is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn a_healthy_account_is_left_alone() {
    let w = World::healthy();
    let (bus, control) = (&w.bus, &w.control);
    let s = w.sentinel(false);
    assert_eq!(s.handle(&sweep(), now()).await.unwrap(), vec![]);
    assert!(bus.0.lock().unwrap().is_empty());
    assert!(control.alarms.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn the_sweep_repairs_settings_and_trust_and_reports_each_on_the_bus() {
    let w = World::healthy();
    let (c, store, bus, control) = (&w.c, &w.store, &w.bus, &w.control);
    control.trust.lock().unwrap().insert("arn:aws:iam::111122223333:role/investigations/LogInvestigator".into(), r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/mallory"},"Action":"sts:AssumeRole"}]}"#.into());
    store.versioning.lock().unwrap().insert(BUCKET.into(), "Suspended".into());
    store.lifecycle.lock().unwrap().insert(BUCKET.into(), vec![rule(Some(1), None)]);
    store.replication.lock().unwrap().insert(BUCKET.into(), vec!["arn:aws:s3:::elsewhere".into()]);
    let s = w.sentinel(false);
    let repairs = s.handle(&sweep(), now()).await.unwrap();
    assert_eq!(repairs.len(), 4, "{repairs:?}");
    assert!(repairs.iter().all(|r| r.repaired));
    assert_eq!(store.versioning.lock().unwrap()[BUCKET], "Enabled");
    assert!(store.lifecycle.lock().unwrap().is_empty() && store.replication.lock().unwrap().is_empty());
    let investigator = c.investigator("LogInvestigator").unwrap();
    assert_eq!(
        control.trust.lock().unwrap()["arn:aws:iam::111122223333:role/investigations/LogInvestigator"],
        investigator.trust_policy_json()
    );
    let events = bus.0.lock().unwrap();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e.detail_type == REPAIR && e.detail["outcome"] == "repaired"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_dry_run_reports_and_changes_nothing() {
    let w = World::healthy();
    let store = &w.store;
    store.versioning.lock().unwrap().insert(BUCKET.into(), "Suspended".into());
    let s = w.sentinel(true);
    let repairs = s.handle(&sweep(), now()).await.unwrap();
    assert_eq!(repairs.len(), 1);
    assert!(!repairs[0].repaired && repairs[0].what.contains("dry run"));
    assert_eq!(store.versioning.lock().unwrap()[BUCKET], "Suspended");
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_repair_is_reported_not_retried_and_an_unreadable_bucket_does_not_stop_the_others() {
    let w = World::healthy();
    let (store, bus) = (&w.store, &w.bus);
    store.versioning.lock().unwrap().insert(BUCKET.into(), "Suspended".into());
    *store.fail_write.lock().unwrap() = Some(PortError::Refused("PutBucketVersioning: AccessDenied".into()));
    let s = w.sentinel(false);
    let repairs = s.handle(&sweep(), now()).await.unwrap();
    assert_eq!(
        (repairs[0].repaired, repairs[0].error.as_deref()),
        (false, Some("PutBucketVersioning: AccessDenied"))
    );
    assert_eq!(bus.0.lock().unwrap()[0].detail["outcome"], "refused");

    // The first bucket cannot be read: the second is still checked, and the invocation fails after.
    *store.fail_write.lock().unwrap() = None;
    *store.unreadable.lock().unwrap() = Some(BUCKET.into());
    store.versioning.lock().unwrap().insert("acme-vpc-flow-logs".into(), "Suspended".into());
    let err = s.handle(&sweep(), now()).await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(store.versioning.lock().unwrap()["acme-vpc-flow-logs"], "Enabled");
}

#[tokio::test(flavor = "current_thread")]
async fn lost_subscriptions_go_to_the_alarm_topic_and_an_unreachable_alarm_topic_is_an_error() {
    let w = World::healthy();
    let control = &w.control;
    control.subscriptions.lock().unwrap().clear();
    let s = w.sentinel(false);
    let repairs = s.handle(&sweep(), now()).await.unwrap();
    assert_eq!(repairs.len(), 1);
    assert_eq!(repairs[0].kind, "topic");
    let alarms = control.alarms.lock().unwrap().clone();
    assert_eq!(alarms.len(), 1);
    assert!(alarms[0].email.contains("`council@example.com` is gone"), "{}", alarms[0].email);
    *control.alarm_down.lock().unwrap() = true;
    assert!(s.handle(&sweep(), now()).await.is_err(), "nobody would hear it: fail, so the error alarm fires");
}

#[tokio::test(flavor = "current_thread")]
async fn a_deleted_investigator_role_is_reported_and_a_call_on_another_role_is_ignored() {
    let w = World::healthy();
    let control = &w.control;
    control.trust.lock().unwrap().remove("arn:aws:iam::111122223333:role/investigations/ExternalAuditor");
    let s = w.sentinel(false);
    let call = |role: &str| {
        event::parse(&json!({"eventName": "DeleteRole", "eventSource": "iam.amazonaws.com",
            "requestParameters": {"roleName": role}}))
        .unwrap()
    };
    assert_eq!(s.handle(&call("SomeAppRole"), now()).await.unwrap(), vec![]);
    let update =
        event::parse(&json!({"eventName": "UpdateAssumeRolePolicy", "eventSource": "iam.amazonaws.com",
        "requestParameters": {"roleName": "ExternalAuditor"}}))
        .unwrap();
    let repairs = s.handle(&update, now()).await.unwrap();
    assert_eq!(repairs.len(), 1);
    assert!(!repairs[0].repaired && repairs[0].what.contains("does not exist"), "{repairs:?}");
}

/// A tagging call on a protected bucket: the discovery tag is put back (the other tags kept) when a
/// discovery tag is configured and the bucket no longer carries it; nothing otherwise.
#[tokio::test(flavor = "current_thread")]
async fn a_removed_discovery_tag_is_put_back_and_the_other_tags_are_kept() {
    let text = format!(
        "{}\n[discovery]\ntag = \"breakglass=protect\"\n",
        include_str!("../../../examples/organisation.toml")
    );
    let c = Config::from_toml(&text).unwrap();
    let (control, expected) = healthy(&c);
    let w = World { c, store: Settings::default(), bus: Bus::default(), control, expected };
    let bucket = "acme-prod-cloudtrail-logs";
    w.store.tags.lock().unwrap().insert(bucket.into(), vec![("team".into(), "net".into())]);
    let untag = event::parse(&json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": "111100000000",
        "detail": {"eventName": "PutBucketTagging", "eventSource": "s3.amazonaws.com",
            "recipientAccountId": "111100000000",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111100000000:assumed-role/Admin/mallory"},
            "requestParameters": {"bucketName": bucket, "tagging": "",
                "Tagging": {"TagSet": {"Tag": {"Key": "team", "Value": "net"}}}}}}))
    .unwrap();
    let repairs = w.sentinel(false).handle(&untag, now()).await.unwrap();
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert!(repairs[0].repaired && repairs[0].what.contains("`breakglass=protect`"), "{repairs:?}");
    assert!(repairs[0].what.contains("mallory"), "{repairs:?}");
    let tags = w.store.tags.lock().unwrap()[bucket].clone();
    assert_eq!(tags, [("team".into(), "net".into()), ("breakglass".into(), "protect".into())]);
    assert_eq!(w.bus.0.lock().unwrap()[0].detail_type, REPAIR);
    // Again: the tag is there, nothing to do.
    assert!(w.sentinel(false).handle(&untag, now()).await.unwrap().is_empty());

    // Single-account mode (no discovery tag): nothing to put back.
    let single = World::healthy();
    let untag_single =
        event::parse(&json!({"eventName": "DeleteBucketTagging", "eventSource": "s3.amazonaws.com",
        "requestParameters": {"bucketName": BUCKET}}))
        .unwrap();
    assert!(single.sentinel(false).handle(&untag_single, now()).await.unwrap().is_empty());
    assert!(single.store.tags.lock().unwrap().is_empty());
}

/// The enforcer's Lambda reads the settings of the buckets an event names ahead (`observe`, while it
/// reconciles the policies): the repairs and their reports are those of `handle`, and a second call
/// on the same bucket in one batch reads again after the first repair instead of repeating it.
#[tokio::test(flavor = "current_thread")]
async fn settings_read_ahead_give_the_same_repairs_and_serve_one_check_each() {
    let call = json!({"eventName": "PutBucketVersioning", "eventSource": "s3.amazonaws.com",
        "requestParameters": {"bucketName": BUCKET}});
    let twice = event::parse(&json!({"Records": [call, call]})).unwrap();
    let tampered = || {
        let w = World::healthy();
        w.store.versioning.lock().unwrap().insert(BUCKET.into(), "Suspended".into());
        w.store.replication.lock().unwrap().insert(BUCKET.into(), vec!["arn:aws:s3:::elsewhere".into()]);
        w
    };
    let (plain, ahead) = (tampered(), tampered());
    let by_handle = plain.sentinel(false).handle(&twice, now()).await.unwrap();
    let s = ahead.sentinel(false);
    let observed = s.observe(&twice).await;
    let by_observed = s.handle_observed(&twice, observed, now()).await.unwrap();
    assert_eq!(by_observed, by_handle);
    assert_eq!(by_observed.len(), 2, "versioning and replication, once each: {by_observed:?}");
    let details = |w: &World| w.bus.0.lock().unwrap().iter().map(|e| e.detail.clone()).collect::<Vec<_>>();
    assert_eq!(details(&ahead), details(&plain));
    assert_eq!(ahead.store.versioning.lock().unwrap()[BUCKET], "Enabled");
}

/// Issue 23: S3's bucket configuration is eventually consistent. A read soon after the call that
/// suspended versioning or put replication may still show the bucket as it was; the sentinel reads
/// again with backoff instead of letting the stale read hide the call until the next pass.
#[tokio::test(flavor = "current_thread")]
async fn regression_a_stale_read_after_a_weakening_call_does_not_hide_it() {
    let w = World::healthy();
    w.store.versioning.lock().unwrap().insert(BUCKET.into(), "Suspended".into());
    w.store.replication.lock().unwrap().insert(BUCKET.into(), vec!["arn:aws:s3:::elsewhere".into()]);
    let calls = event::parse(&json!({"Records": [
        {"eventName": "PutBucketVersioning", "eventSource": "s3.amazonaws.com",
         "requestParameters": {"bucketName": BUCKET, "VersioningConfiguration": {"Status": "Suspended"}}},
        {"eventName": "PutBucketReplication", "eventSource": "s3.amazonaws.com",
         "requestParameters": {"bucketName": BUCKET}}
    ]}))
    .unwrap();
    // The first read of each setting answers as before the calls (three reads at once), and the
    // first re-read too.
    *w.store.stale_reads.lock().unwrap() = 4;
    let repairs = w.sentinel(false).handle(&calls, now()).await.unwrap();
    assert_eq!(repairs.len(), 2, "{repairs:?}");
    assert!(repairs.iter().all(|r| r.repaired), "{repairs:?}");
    assert_eq!(w.store.versioning.lock().unwrap()[BUCKET], "Enabled");
    assert!(!w.store.replication.lock().unwrap().contains_key(BUCKET));
}

/// A lawful put waits out the re-reads and then finds nothing: nothing written, nothing reported.
#[tokio::test(flavor = "current_thread")]
async fn a_lawful_settings_call_is_read_again_and_then_left_alone() {
    let w = World::healthy();
    let call = event::parse(&json!({"eventName": "PutBucketReplication", "eventSource": "s3.amazonaws.com",
        "requestParameters": {"bucketName": BUCKET}}))
    .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(w.sentinel(false).handle(&call, now()).await.unwrap(), vec![]);
    let waited = started.elapsed();
    let bound: std::time::Duration = breakglass_core::guard::enforce::READ_BACK_DELAYS.iter().sum();
    assert!(waited >= bound && waited < bound * 2, "the re-reads are bounded: {waited:?}");
    assert!(w.bus.0.lock().unwrap().is_empty());
}

/// An ownership put whose record does not show the setting (no real record of the call is known;
/// `Rule` could be a list or missing) was judged harmless: nothing put back. Now it is put back.
#[tokio::test(flavor = "current_thread")]
async fn regression_an_ownership_put_the_record_does_not_show_is_put_back() {
    let w = World::healthy();
    let put = |controls: serde_json::Value| {
        event::parse(&json!({"eventName": "PutBucketOwnershipControls", "eventSource": "s3.amazonaws.com",
            "requestParameters": {"bucketName": BUCKET, "ownershipControls": "", "OwnershipControls": controls}}))
        .unwrap()
    };
    let enforced = json!({"Rule": {"ObjectOwnership": "BucketOwnerEnforced"}});
    assert!(w.sentinel(false).handle(&put(enforced), now()).await.unwrap().is_empty());
    let unshown = json!({"Rules": [{"ObjectOwnership": "ObjectWriter"}]});
    let repairs = w.sentinel(false).handle(&put(unshown), now()).await.unwrap();
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert!(repairs[0].repaired && repairs[0].what.contains("BucketOwnerEnforced"), "{repairs:?}");
    assert_eq!(*w.store.ownership_enforced.lock().unwrap(), [BUCKET]);
}

/// IAM role names are not distinguished by case: a call that names an investigator role in another
/// case changes that role, and its trust is put back at once.
#[tokio::test(flavor = "current_thread")]
async fn regression_a_role_named_in_another_case_is_the_same_role() {
    let w = World::healthy();
    let role = "arn:aws:iam::111122223333:role/investigations/ExternalAuditor";
    w.control.trust.lock().unwrap().insert(role.into(), r#"{"Statement":[]}"#.into());
    let update =
        event::parse(&json!({"eventName": "UpdateAssumeRolePolicy", "eventSource": "iam.amazonaws.com",
        "requestParameters": {"roleName": "EXTERNALAUDITOR"}}))
        .unwrap();
    let repairs = w.sentinel(false).handle(&update, now()).await.unwrap();
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert!(repairs[0].repaired, "{repairs:?}");
    assert!(w.c.is_investigator_role("externalauditor"));
    assert!(w.c.investigator("EXTERNALAUDITOR").is_some());
}
