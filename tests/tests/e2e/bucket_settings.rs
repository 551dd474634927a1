//! Issue 22: the bucket settings an insider could change to blind breakglass or reach the logs by
//! another door, without touching the bucket policy: each new guarded call goes through the
//! template's rule to the real enforcer and notifier, and is alerted (critical, to the security
//! team) and recorded. What the SCPs deny is proven in proofs/.

use e2e::{cloudtrail_event, setup, ACCOUNT, REGION};
use serde_json::json;

const BUCKET: &str = "acme-cloudtrail-logs";
const ADMIN: &str = "arn:aws:iam::111122223333:role/Admin";

#[tokio::test(flavor = "current_thread")]
async fn the_new_guarded_bucket_calls_are_routed_and_alerted() {
    let Some(env) = setup().await else { return };
    let calls = [
        ("PutObjectLockConfiguration", "Object Lock configuration"),
        ("PutBucketLogging", "server access logging"),
        ("PutBucketIntelligentTieringConfiguration", "Intelligent-Tiering configuration"),
        ("DeleteBucketIntelligentTieringConfiguration", "Intelligent-Tiering configuration"),
        ("CreateAccessPoint", "access points"),
    ];
    for (name, _) in calls {
        let mut e = cloudtrail_event(name, BUCKET, ADMIN, "mallory", None, None);
        if name == "CreateAccessPoint" {
            // S3 Control: the bucket is in the request body, the host and resource are the account's.
            let d = &mut e["detail"];
            d["requestParameters"] = json!({"name": "logs-readers", "x-amz-account-id": ACCOUNT,
                "Host": format!("{ACCOUNT}.s3-control.{REGION}.amazonaws.com"),
                "CreateAccessPointRequest": {"xmlns": "http://awss3control.amazonaws.com/doc/2018-08-20/", "Bucket": BUCKET}});
            d["resources"] = json!([{"accountId": ACCOUNT, "type": "AWS::S3::AccessPoint",
                "ARN": format!("arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/logs-readers")}]);
        }
        env.stack.cloudtrail(&e).await;
    }
    let answers = env.stack.route(&env.enforcer, &env.notifier).await;
    assert_eq!(answers.len(), calls.len(), "the rule routes each new call once: {answers:?}");
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");

    let security = env.stack.deliveries(&env.stack.security).await;
    for (name, setting) in calls {
        let (attrs, doc) = security
            .iter()
            .find(|(_, d)| d["event"]["name"] == name)
            .unwrap_or_else(|| panic!("{name}: no mail to the security team"));
        assert_eq!(attrs["severity"]["Value"], "critical", "{name}");
        assert_eq!(doc["bucket"], BUCKET, "{name}: {doc}");
        let subject = doc["subject"].as_str().unwrap();
        assert!(subject.ends_with(&format!("ALERT {BUCKET}: {setting} weakened")), "{name}: {subject}");
    }
    let records = env.stack.audit_records(BUCKET).await;
    for (name, _) in calls {
        assert!(records.iter().any(|(_, r)| r["detail"]["event"]["name"] == name), "{name}: no record");
    }
}

/// Under IAM as the template grants it: a removed public-access block and removed object-ownership
/// controls are put back by the enforcer (the repairs `repair_public_access_block` and the sentinel
/// make), and reported as repaired.
#[tokio::test(flavor = "current_thread")]
async fn a_removed_public_access_block_and_object_ownership_are_put_back_under_iam() {
    let Some(env) = setup().await else { return };
    let s3 = &env.stack.clients.s3;
    s3.delete_public_access_block().bucket(BUCKET).send().await.unwrap();
    s3.delete_bucket_ownership_controls().bucket(BUCKET).send().await.unwrap();
    for name in ["DeleteBucketPublicAccessBlock", "DeleteBucketOwnershipControls"] {
        env.enforcer.invoke(&cloudtrail_event(name, BUCKET, ADMIN, "mallory", None, None)).unwrap();
    }
    // Both reported on the bus as repaired: an exposure and a repair.
    let own = env.stack.drain(&env.stack.own_events).await;
    let repaired: Vec<&str> = own
        .iter()
        .filter(|e| e["detail"]["repaired"] == json!(true))
        .filter_map(|e| e["detail-type"].as_str())
        .collect();
    assert_eq!(repaired.len(), 2, "{own:#?}");
    let block = s3.get_public_access_block().bucket(BUCKET).send().await.unwrap();
    let block = block.public_access_block_configuration.unwrap();
    assert_eq!(
        (
            block.block_public_acls,
            block.ignore_public_acls,
            block.block_public_policy,
            block.restrict_public_buckets
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let ownership = s3.get_bucket_ownership_controls().bucket(BUCKET).send().await.unwrap();
    let rules = ownership.ownership_controls.unwrap().rules;
    assert_eq!(rules[0].object_ownership.as_str(), "BucketOwnerEnforced");
}
