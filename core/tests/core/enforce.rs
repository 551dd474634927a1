//! The enforcer and the notifier over in-memory ports: what is lawful, what is reverted and
//! alerted, retries, dry runs, the corpus, and a sweep's digest.

use super::*;

/// The example enforcer with a tampered ClosedAccess live on the bucket, and the event of mallory's
/// writing it.
fn tampered_by_mallory() -> (Enforcer<Store, Bus>, Incoming) {
    let e = enforcer();
    let tampered = example("tampered-closed.json");
    e.store.policies.lock().unwrap().insert(BUCKET.into(), tampered.clone());
    (e, put_event(&tampered, "arn:aws:iam::111122223333:role/mallory"))
}

/// The example enforcer with an OpenAccess live on the bucket, and that policy.
fn open_live() -> (Enforcer<Store, Bus>, String) {
    let e = enforcer();
    let open = open_policy();
    e.store.policies.lock().unwrap().insert(BUCKET.into(), open.clone());
    (e, open)
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
    let (e, ev) = tampered_by_mallory();
    let reports = e.handle(&ev, now()).await.unwrap();
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
    let (e, open) = open_live();
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
    let (e, open) = open_live();
    let r = e.handle(&put_event(&open, "arn:aws:iam::111122223333:role/mallory"), now()).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Closed);
    assert!(r[0].reason.as_deref().unwrap().contains("not a break-glass principal"));
}

#[tokio::test(flavor = "current_thread")]
async fn duplicate_delivery_and_own_write_are_harmless() {
    let (e, ev) = tampered_by_mallory();
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

/// Issue 23: one stale read-back after the enforcer's own write (S3's eventual consistency) is
/// read again after a pause: closed, one write, no "unverified" report, no rewrite.
#[tokio::test(flavor = "current_thread")]
async fn regression_a_stale_read_back_is_read_again_not_reported_or_rewritten() {
    let (e, ev) = tampered_by_mallory();
    *e.store.lagging.lock().unwrap() = true;
    let r = e.handle(&ev, now()).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Closed);
    assert_eq!(*e.store.writes.lock().unwrap(), 1, "written once");
    assert!(e.bus.0.lock().unwrap().iter().all(|b| b.detail["outcome"] != "unverified"));
}

/// Issue 23: the first reads after an intruder's write still show the ClosedAccess it replaced (S3's
/// eventual consistency). The enforcer reads again until it sees what the event says was put, and
/// reverts in the same invocation instead of leaving it to the next scheduled pass.
#[tokio::test(flavor = "current_thread")]
async fn regression_a_stale_read_after_an_intruders_write_does_not_hide_it() {
    let (e, ev) = tampered_by_mallory();
    let closed = config().bucket(BUCKET).unwrap().closed_policy().to_pretty_json();
    *e.store.stale.lock().unwrap() = Some((closed, 2));
    let r = e.handle(&ev, now()).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Closed);
    assert_eq!(*e.store.writes.lock().unwrap(), 1);
}

/// A lawful call is not waited for: the operator's OpenAccess, delivered while the reads still show
/// the ClosedAccess it replaced, is read once (a stale read of a lawful call shows a lawful state).
#[tokio::test(flavor = "current_thread")]
async fn a_lawful_put_read_stale_is_not_read_again() {
    let (e, open) = open_live();
    *e.store.stale.lock().unwrap() = Some((example("closed-as-returned-by-aws.json"), 5));
    let report = e.handle(&put_event(&open, OPERATOR), now()).await.unwrap().remove(0);
    assert_eq!((report.outcome, report.before_state), (Outcome::Lawful, "closed"), "the stale read");
    assert_eq!(e.store.stale.lock().unwrap().as_ref().map(|(_, left)| *left), Some(4), "read once");
    assert_eq!(*e.store.writes.lock().unwrap(), 0);
}

/// Nor is a call a later write superseded, when the live policy is one the enforcer closes anyway:
/// mallory's OpenAccess, read after her tampered ClosedAccess replaced it, is closed at once (one
/// read, one read-back), not after the waits. A flood of superseded calls costs no waiting.
#[tokio::test(flavor = "current_thread")]
async fn a_superseded_call_is_not_waited_for_when_the_live_policy_is_closed_anyway() {
    let (e, _) = tampered_by_mallory();
    let report = e
        .handle(&put_event(&open_policy(), "arn:aws:iam::111122223333:role/mallory"), now())
        .await
        .unwrap()
        .remove(0);
    assert_eq!((report.outcome, report.before_state), (Outcome::Closed, "drift"));
    assert_eq!(*e.store.reads.lock().unwrap(), 2, "read once, read back once");
}

/// The same for a single operator's lawful re-opening read stale as the expired window before it:
/// not closed on that read. And an event older than `SETTLING` is judged on one read.
#[tokio::test(flavor = "current_thread")]
async fn regression_a_stale_expired_read_does_not_close_a_lawful_reopening() {
    let (e, open) = open_live();
    let b = config().bucket(BUCKET).unwrap().clone();
    let old = OpenGrant {
        readers: BTreeSet::from([READER.to_owned()]),
        expiry: now() - time::Duration::minutes(1),
    };
    let expired = b.render_open(&old, now() - time::Duration::hours(1)).unwrap().to_pretty_json();
    *e.store.stale.lock().unwrap() = Some((expired, 1));
    let r = e.handle(&put_event(&open, OPERATOR), now()).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Lawful);
    assert_eq!(*e.store.reads.lock().unwrap(), 2, "read again once");
    // Closed since; an hour on, a late delivery of mallory's older write: one read, no waiting.
    e.store.policies.lock().unwrap().insert(BUCKET.into(), b.closed_policy().to_pretty_json());
    let tampered = example("tampered-closed.json");
    let late = now() + time::Duration::hours(1);
    let r = e.handle(&put_event(&tampered, "arn:aws:iam::111122223333:role/mallory"), late).await.unwrap();
    assert_eq!(r[0].outcome, Outcome::Lawful);
    assert_eq!(*e.store.reads.lock().unwrap(), 3, "one read");
}

/// Issue 23 (found by review): mallory's template-shaped OpenAccess read stale through every wait is
/// lawful as read, and marked to be judged again; judged again (a recheck, from the sweep queue) it
/// is judged on one read, closed, and mallory named.
#[tokio::test(flavor = "current_thread")]
async fn regression_an_open_access_hidden_longer_than_the_waits_is_judged_again() {
    let (e, open) = open_live();
    *e.store.stale.lock().unwrap() = Some((example("closed-as-returned-by-aws.json"), 5));
    let Incoming::ApiCalls(mut calls) = put_event(&open, "arn:aws:iam::111122223333:role/mallory") else {
        panic!("a call")
    };
    let first = e.handle(&Incoming::ApiCalls(calls.clone()), now()).await.unwrap().remove(0);
    assert_eq!((first.outcome, first.recheck), (Outcome::Lawful, true));
    assert_eq!(*e.store.reads.lock().unwrap(), 5, "read and read again four times");
    calls[0].recheck = true;
    let again = e.handle(&Incoming::ApiCalls(calls), now()).await.unwrap().remove(0);
    assert_eq!(again.outcome, Outcome::Closed);
    assert!(again.reason.unwrap_or_default().contains("not a break-glass principal"));
    assert!(!again.recheck);
}

/// Still showing the old policy after every re-read (about 3 s): reported, and the invocation
/// fails so that Lambda retries.
#[tokio::test(flavor = "current_thread")]
async fn a_write_not_yet_visible_is_reported_then_retried() {
    let (e, ev) = tampered_by_mallory();
    *e.store.lagging.lock().unwrap() = true;
    *e.store.lag.lock().unwrap() = Some(1 + breakglass_core::guard::enforce::READ_BACK_DELAYS.len());
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

/// The sweep answers for every bucket, in the config's order, a failing one with its error in
/// place and the others still reconciled; the Lambda's answer is the error, after all that.
#[tokio::test(flavor = "current_thread")]
async fn the_sweep_answers_for_every_bucket_in_order() {
    let e = enforcer();
    *e.store.fail_bucket.lock().unwrap() = Some(BUCKET.into());
    let done = std::sync::atomic::AtomicUsize::new(0);
    let swept = e
        .sweep(e.config.buckets.iter().collect(), now(), &|| {
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .await;
    let names: Vec<&str> = swept.buckets.iter().map(|c| c.bucket.as_str()).collect();
    let config_order: Vec<&str> = e.config.buckets.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, config_order);
    assert_eq!(done.into_inner(), config_order.len());
    let failed = swept.buckets[0].result.as_ref().unwrap_err();
    assert!(failed.to_string().contains(BUCKET) && failed.to_string().contains("NoSuchBucket"), "{failed}");
    for other in &swept.buckets[1..] {
        let report = other.result.as_ref().unwrap();
        assert_eq!((report.outcome.clone(), report.before_state), (Outcome::Closed, "drift"), "{report:?}");
    }
    assert_eq!(swept.published, Ok(()));
    assert_eq!(e.bus.0.lock().unwrap().len(), config_order.len() - 1, "the others' remediations published");
    assert!(swept.into_result().unwrap_err().to_string().contains("NoSuchBucket"));

    // A dry run answers the same way and writes nothing.
    let mut dry = enforcer();
    dry.dry_run = true;
    *dry.store.fail_bucket.lock().unwrap() = Some("acme-vpc-flow-logs".into());
    let swept = dry.sweep(dry.config.buckets.iter().collect(), now(), &|| {}).await;
    assert_eq!(swept.buckets[0].result.as_ref().unwrap().outcome, Outcome::WouldClose);
    assert!(swept.buckets[1].result.is_err());
    assert_eq!(*dry.store.writes.lock().unwrap(), 0);
}

/// An OpenAccess-shaped policy whose expiry is written with an offset that puts it past year 9999
/// in UTC: reading it once panicked the enforcer and the notifier (time's `to_offset`), so the
/// policy stayed and nobody was told. Now it is no lawful window: closed, and the call mailed.
#[tokio::test(flavor = "current_thread")]
async fn regression_an_expiry_past_year_9999_in_utc_is_closed_not_a_panic() {
    let open = open_policy();
    let expiry = canonical_policies::format_expiry(now() + time::Duration::hours(4));
    assert!(open.contains(&expiry), "{open}");
    let far = open.replace(&expiry, "9999-12-31T23:59:59-00:01");
    let e = enforcer();
    e.store.policies.lock().unwrap().insert(BUCKET.into(), far.clone());
    let call = put_event(&far, "arn:aws:iam::111122223333:role/mallory");
    let reports = e.handle(&call, now()).await.unwrap();
    assert_eq!(reports[0].outcome, Outcome::Closed, "{:?}", reports[0]);
    assert_eq!(
        e.store.policies.lock().unwrap()[BUCKET],
        config().bucket(BUCKET).unwrap().closed_policy().to_pretty_json()
    );
    assert!(!render(&config(), &call, now()).is_empty(), "the call is mailed");
    assert_eq!(breakglass_core::time::parse_time("9999-12-31T23:59:59-00:01"), None);
    assert_eq!(breakglass_config::parse_duration(&"100000d".repeat(30)), None);
}

/// The sweep's close mails what the tries of its shards reverted. Regression: it kept one
/// remediation per bucket, so a policy put again between two tries of a shard and reverted by the
/// second was recorded there but never mailed. Now two tries that reverted the same policy (the
/// second read it stale) are one mail, and a policy put again is another.
#[tokio::test]
async fn regression_a_policy_put_again_between_two_tries_of_a_shard_is_mailed_by_the_close() {
    use breakglass_core::guard::sweep::{close, Close};
    use breakglass_core::ports::AuditLog;
    let e = enforcer();
    let trail = breakglass_core::trail::audit::Trail {
        log: breakglass_core::testing::Log::default(),
        config: e.config.audit.clone().unwrap(),
        config_sha256: None,
    };
    let remediation = |bucket: &str, hash: &str| {
        json!({"bucket": bucket, "outcome": "closed", "error": null, "reason": "not a template",
            "before": {"state": "drift", "hash": hash}, "after": {"hash": "c"}, "trigger": null,
            "time": "2026-11-24T12:00:01Z"})
    };
    let (x, y) = ("acme-cloudtrail-logs", "acme-vpc-flow-logs");
    let tries = [
        (1, vec![remediation(x, "first"), remediation(y, "same")]),
        (2, vec![remediation(x, "put-again"), remediation(y, "same")]),
    ];
    for (attempt, remediations) in tries {
        let record = json!({"schema": "breakglass.sweep-shard/1", "sweep": "s1", "index": 0, "attempt": attempt,
            "account": "111122223333", "remediations": remediations, "time": "2026-11-24T12:00:02Z"});
        let key = format!("breakglass/_sweeps/s1/00000-{attempt}.json");
        trail.log.append(&key, &record.to_string(), now() + time::Duration::days(1)).await.unwrap();
    }
    let n = close(&e, &trail, &Close { sweep: "s1".into(), shards: 1 }, now()).await.unwrap();
    assert_eq!(n, 3, "x twice (two policies), y once (one policy, two tries)");
    let bus = e.bus.0.lock().unwrap();
    let hashes: Vec<(&str, &str)> = bus
        .iter()
        .filter(|m| m.detail_type == "breakglass remediation")
        .map(|m| (m.detail["bucket"].as_str().unwrap(), m.detail["before"]["hash"].as_str().unwrap()))
        .collect();
    assert_eq!(hashes, [(x, "first"), (y, "same"), (x, "put-again")]);
}

/// A sweep that reverts more buckets than a digest names (a base statement changed on a large
/// estate). Regression: the digest listed every bucket, so at a few thousand its event passed
/// EventBridge's 256 KB and no mail went out, while every remediation, marked as part of the digest,
/// was kept from the mail subscriptions.
#[tokio::test]
async fn a_digest_of_more_buckets_than_it_names_counts_them_all_and_fits_one_event() {
    use breakglass_core::events::MOST_BUCKETS;
    let mut text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml"))
            .unwrap()
            .replace("two_person = true", "two_person = false");
    let extra = MOST_BUCKETS + 20;
    for n in 0..extra {
        text.push_str(&format!("\n[[bucket]]\nname = \"acme-estate-logs-{n:04}\"\n"));
    }
    let config = Config::from_toml(&text).unwrap();
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
    assert_eq!(reports.iter().filter(|r| r.outcome == Outcome::Closed).count(), config.buckets.len());
    let events = e.bus.0.lock().unwrap().clone();
    let digest = events.iter().find(|x| x.detail_type == "breakglass remediation digest").unwrap();
    assert_eq!(digest.detail["count"], config.buckets.len());
    assert_eq!(digest.detail["buckets"].as_array().unwrap().len(), MOST_BUCKETS);
    let size = digest.detail.to_string().len();
    assert!(size < 128 * 1024, "{size} bytes");
    let incoming = Incoming::Custom {
        id: Some("x".into()),
        detail_type: digest.detail_type.clone(),
        detail: digest.detail.clone(),
    };
    let Rendered::Send(n) = &render(&config, &incoming, now())[0] else { panic!() };
    assert!(
        n.email
            .contains(&format!("and {} more (each has its own record)", config.buckets.len() - MOST_BUCKETS)),
        "{}",
        n.email
    );
}

/// The S3 call `name` with `params`, by the IAM user mallory, as EventBridge delivers it.
fn mallorys_call(name: &str, params: Value) -> breakglass_core::inbound::event::ApiCall {
    let Incoming::ApiCalls(mut calls) = event::parse(&json!({
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "id": "ev-1",
        "detail": {"eventID": "ct-1", "eventSource": "s3.amazonaws.com", "eventName": name,
            "eventTime": "2026-11-24T11:59:58Z", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory"},
            "requestParameters": params}
    }))
    .unwrap() else {
        panic!()
    };
    calls.remove(0)
}

/// The public-access block as S3 takes it: a put replaces the whole configuration, and a setting
/// it leaves out is off. Regression: only settings written `false` counted, so a put of just
/// `IgnorePublicAcls` (three settings turned off) was mailed as harmless, and one whose record
/// lacks the configuration too.
#[test]
fn a_public_access_block_put_turns_off_what_it_leaves_out() {
    use breakglass_core::guard::enforce::exposure;
    use breakglass_core::guarded::GuardedCall;
    let call = |config: Value| {
        let params =
            json!({"bucketName": BUCKET, "publicAccessBlock": "", "PublicAccessBlockConfiguration": config});
        mallorys_call("PutBucketPublicAccessBlock", params)
    };
    let partial = call(json!({"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "IgnorePublicAcls": true}));
    let what = exposure(GuardedCall::PutBucketPublicAccessBlock, &partial).unwrap();
    assert!(what.ends_with("BlockPublicAcls, BlockPublicPolicy, RestrictPublicBuckets"), "{what}");
    assert!(exposure(GuardedCall::PutBucketPublicAccessBlock, &call(Value::Null)).is_some());
    let all = json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true});
    assert_eq!(exposure(GuardedCall::PutBucketPublicAccessBlock, &call(all)), None);
}

/// An ACL can be given in `x-amz-grant-*` headers instead of a body; a public grant made that way
/// was judged harmless (only the body's grantees were read).
#[test]
fn regression_a_public_acl_given_in_grant_headers_is_an_exposure() {
    use breakglass_core::guard::enforce::exposure;
    use breakglass_core::guarded::GuardedCall;
    let call = |params: Value| mallorys_call("PutBucketAcl", params);
    let public = call(json!({"bucketName": BUCKET, "acl": "",
        "x-amz-grant-read": "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""}));
    let what = exposure(GuardedCall::PutBucketAcl, &public).unwrap();
    assert_eq!(what, "the bucket ACL grants http://acs.amazonaws.com/groups/global/AllUsers READ");
    let private = call(json!({"bucketName": BUCKET, "acl": "", "x-amz-grant-full-control": "id=\"abc\""}));
    assert_eq!(exposure(GuardedCall::PutBucketAcl, &private), None);
}
