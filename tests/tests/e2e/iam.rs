//! IAM in the end-to-end tests (issue 23): the real enforcer and notifier run as sessions of their
//! roles in template.yaml, through the IAM proxy, which refuses what AWS would refuse given the
//! rendered identity policies, the live bucket policy and the single-account SCPs.

use e2e::{cloudtrail_event, provision, Function, IamProxy, Moto, Stack};
use serde_json::Value;

const BUCKET: &str = "acme-cloudtrail-logs";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
const ENFORCER: &str = "arn:aws:iam::111122223333:role/breakglass-enforcer";
const NOTIFIER: &str = "arn:aws:iam::111122223333:role/breakglass-notifier";

/// Mallory's tampering with [`BUCKET`], routed to the enforcer's code running with the execution
/// role `enforcer_role` and to the notifier as its own role, both under IAM. Returns the stack, the
/// proxy, the policy Mallory put and the enforcer's answers.
async fn tamper_with_the_enforcer_as(
    moto: &Moto,
    enforcer_role: &str,
) -> (Stack, IamProxy, String, Vec<Result<Value, String>>) {
    let stack = provision(&moto.endpoint).await;
    let iam = stack.iam(&moto.endpoint);
    let enforcer =
        Function::spawn("enforcer", &iam.env_as(stack.function_env(), enforcer_role, enforcer_role).await);
    let notifier = iam.spawn(&stack, "notifier").await;
    let tampered = stack.tamper(BUCKET).await;
    stack
        .cloudtrail(&cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "mallory", Some(&tampered), None))
        .await;
    let answers = stack.route(&enforcer, &notifier).await;
    (stack, iam, tampered, answers)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_bucket_is_closed_and_mailed_with_only_the_grants_the_template_gives() {
    let Some(moto) = Moto::start() else { return };
    let (stack, iam, _, answers) = tamper_with_the_enforcer_as(&moto, "breakglass-enforcer").await;
    let answer = answers[0].clone().unwrap();
    assert!(iam.refused().is_empty(), "AWS would refuse: {:#?}", iam.refused());
    assert_eq!(answer["buckets"][0]["outcome"], "closed", "{answer}");
    let mails = stack.deliveries(&stack.security).await;
    assert!(!mails.is_empty(), "the remediation is mailed");
    // What the two roles used, for the record (least privilege measured, not asserted).
    let used = iam.used();
    assert!(used.iter().any(|(r, a, _)| r == ENFORCER && a == "s3:PutBucketPolicy"), "{used:#?}");
    assert!(used.iter().any(|(r, a, _)| r == NOTIFIER && a == "sns:Publish"), "{used:#?}");
    for (role, action, resource) in &used {
        println!("used: {role} {action} {resource}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_enforcer_run_as_the_notifier_is_refused_its_write_as_aws_would_and_says_so() {
    let Some(moto) = Moto::start() else { return };
    // The enforcer's code with the notifier's role: the template gives that role no bucket-policy write.
    let (stack, iam, tampered, answers) = tamper_with_the_enforcer_as(&moto, "breakglass-notifier").await;
    iam.expect_refusals();
    let refused = iam.refused();
    assert!(
        refused.iter().any(|r| r.contains("breakglass-notifier") && r.contains("s3:GetBucketPolicy")),
        "{refused:#?}"
    );
    assert_eq!(stack.live_policy(BUCKET).await.as_deref(), Some(tampered.as_str()), "nothing was written");
    let answer = format!("{answers:?}");
    assert!(!answer.contains("\"outcome\":\"closed\""), "the enforcer does not claim a close: {answer}");
}
