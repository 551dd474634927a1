//! IAM in the end-to-end tests (issue 23): the real enforcer and notifier run as sessions of their
//! roles in template.yaml, through the IAM proxy, which refuses what AWS would refuse given the
//! rendered identity policies, the live bucket policy and the single-account SCPs.

use e2e::{cloudtrail_event, config, provision, Deployment, Function, IamProxy, Moto, ACCOUNT, REGION};

const BUCKET: &str = "acme-cloudtrail-logs";
const MALLORY: &str = "arn:aws:iam::111122223333:role/mallory";
const ENFORCER: &str = "arn:aws:iam::111122223333:role/breakglass-enforcer";
const NOTIFIER: &str = "arn:aws:iam::111122223333:role/breakglass-notifier";

fn deployment() -> Deployment {
    let buckets: Vec<String> = config().buckets.iter().map(|b| b.name.clone()).collect();
    Deployment::single_account(ACCOUNT, REGION, &buckets)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_bucket_is_closed_and_mailed_with_only_the_grants_the_template_gives() {
    let Some(moto) = Moto::start() else { return };
    let stack = provision(&moto.endpoint).await;
    let iam = IamProxy::start(&moto.endpoint, deployment(), &stack.audit_bucket);
    let enforcer = Function::spawn(
        "enforcer",
        &iam.env_as(stack.function_env(), "breakglass-enforcer", "breakglass-enforcer").await,
    );
    let notifier = Function::spawn(
        "notifier",
        &iam.env_as(stack.function_env(), "breakglass-notifier", "breakglass-notifier").await,
    );

    let tampered = stack.tamper(BUCKET).await;
    stack
        .cloudtrail(&cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "mallory", Some(&tampered), None))
        .await;
    let answers = stack.route(&enforcer, &notifier).await;
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
    let stack = provision(&moto.endpoint).await;
    let iam = IamProxy::start(&moto.endpoint, deployment(), &stack.audit_bucket);
    // The enforcer's code with the notifier's role: the template gives that role no bucket-policy write.
    let enforcer = Function::spawn(
        "enforcer",
        &iam.env_as(stack.function_env(), "breakglass-notifier", "breakglass-notifier").await,
    );
    let notifier = Function::spawn(
        "notifier",
        &iam.env_as(stack.function_env(), "breakglass-notifier", "breakglass-notifier").await,
    );

    let tampered = stack.tamper(BUCKET).await;
    stack
        .cloudtrail(&cloudtrail_event("PutBucketPolicy", BUCKET, MALLORY, "mallory", Some(&tampered), None))
        .await;
    let answers = stack.route(&enforcer, &notifier).await;
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
