//! The templates, proved with the evaluator: under ClosedAccess nobody reads an object; under
//! OpenAccess only the named readers do, and only before the expiry; the base statements keep doing
//! what they are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;

use canonical_policies::{
    explain, BucketTemplates, Caller, Decision, Policy, Request, ServiceRead, ServiceSource,
    OBJECT_READ_ACTIONS,
};
use common::{at, example_bucket, example_inputs, open_for};

const INVESTIGATOR: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
const INVESTIGATOR_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/LogInvestigator/alice@example.com";
const AUDITOR: &str = "arn:aws:iam::111122223333:role/investigations/ExternalAuditor";
const ENFORCER: &str = "arn:aws:iam::111122223333:role/breakglass-enforcer";

/// Everyone we can think of, including the bucket owner's root and principals from other accounts.
fn callers() -> Vec<Caller> {
    [
        "anonymous",
        "cloudtrail.amazonaws.com",
        "s3.amazonaws.com",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::999988887777:root",
        INVESTIGATOR,
        INVESTIGATOR_SESSION,
        AUDITOR,
        ENFORCER,
        "arn:aws:iam::111122223333:role/breakglass-operator",
        "arn:aws:iam::111122223333:user/admin",
        "arn:aws:iam::999988887777:role/investigations/LogInvestigator",
        "arn:aws:sts::999988887777:assumed-role/LogInvestigator/mallory",
    ]
    .iter()
    .map(|c| Caller::parse(c).unwrap())
    .collect()
}

const OBJECTS: [&str; 3] = [
    "arn:aws:s3:::acme-cloudtrail-logs/AWSLogs/111122223333/CloudTrail/eu-central-1/2026/11/24/x.json.gz",
    "arn:aws:s3:::acme-cloudtrail-logs/a:b:c",
    "arn:aws:s3:::acme-cloudtrail-logs/",
];

fn decide(policy: &Policy, caller: &Caller, action: &str, resource: &str, when: &str) -> Decision {
    // Over TLS: the DenyInsecureTransport base statement must not be what blocks reads.
    let mut req =
        Request::new(caller.clone(), action, resource, at(when)).with("aws:SecureTransport", "true");
    // A session ARN does not show its role's path; AWS knows it, so give the evaluator what AWS knows.
    if let Caller::Session { arn, .. } = caller {
        req = match arn.as_str() {
            INVESTIGATOR_SESSION => req.with("aws:PrincipalArn", INVESTIGATOR),
            _ => {
                req.with("aws:PrincipalArn", "arn:aws:iam::999988887777:role/investigations/LogInvestigator")
            }
        };
    }
    explain(policy, &req).decision
}

#[test]
fn closed_access_denies_every_object_read_to_everyone() {
    let bucket = example_bucket();
    let closed = bucket.closed_policy();
    for caller in callers() {
        for action in OBJECT_READ_ACTIONS.iter().chain(&["S3:GETOBJECT", "s3:getobjectversion"]) {
            for object in OBJECTS {
                let d = decide(closed, &caller, action, object, "2026-11-24T12:00:00Z");
                assert_eq!(d, Decision::ExplicitDeny, "{caller:?} {action} {object}");
            }
        }
    }
}

#[test]
fn open_access_lets_only_readers_read_and_only_before_expiry() {
    let bucket = example_bucket();
    let open = open_for(&bucket, INVESTIGATOR);
    let readers = [Caller::parse(INVESTIGATOR).unwrap(), Caller::parse(INVESTIGATOR_SESSION).unwrap()];

    for caller in callers() {
        let is_reader = readers.contains(&caller);
        for object in OBJECTS {
            for action in ["s3:GetObject", "s3:GetObjectVersion"] {
                let before = decide(&open, &caller, action, object, "2026-11-24T15:59:59Z");
                let expected = if is_reader { Decision::Allow } else { Decision::ExplicitDeny };
                assert_eq!(before, expected, "{caller:?} {action} before expiry");
                let after = decide(&open, &caller, action, object, "2026-11-24T16:00:00Z");
                assert_eq!(after, Decision::ExplicitDeny, "{caller:?} {action} at expiry");
            }
            // Not granted to readers either (replication, restore, torrent): no explicit allow.
            for action in &OBJECT_READ_ACTIONS[2..] {
                let d = decide(&open, &caller, action, object, "2026-11-24T13:00:00Z");
                let expected = if is_reader { Decision::ImplicitDeny } else { Decision::ExplicitDeny };
                assert_eq!(d, expected, "{caller:?} {action}");
            }
        }
    }
}

#[test]
fn open_access_of_another_reader_does_not_admit_the_first() {
    let bucket = example_bucket();
    let open = open_for(&bucket, AUDITOR);
    let investigator = Caller::parse(INVESTIGATOR_SESSION).unwrap();
    assert_eq!(
        decide(&open, &investigator, "s3:GetObject", OBJECTS[0], "2026-11-24T13:00:00Z"),
        Decision::ExplicitDeny
    );
    let auditor = Caller::parse(AUDITOR).unwrap();
    assert_eq!(decide(&open, &auditor, "s3:GetObject", OBJECTS[0], "2026-11-24T13:00:00Z"), Decision::Allow);
}

#[test]
fn base_statements_still_do_their_job() {
    let bucket = example_bucket();
    let closed = bucket.closed_policy();
    let bucket_arn = "arn:aws:s3:::acme-cloudtrail-logs";
    let t = at("2026-11-24T12:00:00Z");

    // CloudTrail can check the ACL and deliver logs.
    let trail = Caller::parse("cloudtrail.amazonaws.com").unwrap();
    let acl = Request::new(trail.clone(), "s3:GetBucketAcl", bucket_arn, t)
        .with("aws:SecureTransport", "true")
        .with("aws:SourceOrgID", "o-exampleorg1");
    assert_eq!(explain(closed, &acl).decision, Decision::Allow);
    let put = Request::new(trail.clone(), "s3:PutObject", OBJECTS[0], t)
        .with("aws:SecureTransport", "true")
        .with("aws:SourceOrgID", "o-exampleorg1")
        .with("s3:x-amz-acl", "bucket-owner-full-control");
    assert_eq!(explain(closed, &put).decision, Decision::Allow);
    let foreign_trail = put.clone().with("aws:SourceOrgID", "o-evil");
    assert_ne!(explain(closed, &foreign_trail).decision, Decision::Allow);

    // Uploads from outside the organisation are denied; from inside, left to identity policies.
    let outsider =
        Request::new(Caller::parse("arn:aws:iam::999988887777:root").unwrap(), "s3:PutObject", OBJECTS[0], t)
            .with("aws:SecureTransport", "true")
            .with("aws:PrincipalOrgID", "o-other");
    assert_eq!(explain(closed, &outsider).decision, Decision::ExplicitDeny);
    let insider = Request::new(Caller::parse(INVESTIGATOR).unwrap(), "s3:PutObject", OBJECTS[0], t)
        .with("aws:SecureTransport", "true")
        .with("aws:PrincipalOrgID", "o-exampleorg1");
    assert_eq!(explain(closed, &insider).decision, Decision::ImplicitDeny);

    // Only the automation principals may change the policy.
    for action in ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketAcl"] {
        let admin = Request::new(
            Caller::parse("arn:aws:iam::111122223333:user/admin").unwrap(),
            action,
            bucket_arn,
            t,
        )
        .with("aws:SecureTransport", "true");
        assert_eq!(explain(closed, &admin).decision, Decision::ExplicitDeny, "{action}");
        let enforcer = Request::new(Caller::parse(ENFORCER).unwrap(), action, bucket_arn, t)
            .with("aws:SecureTransport", "true");
        assert_eq!(explain(closed, &enforcer).decision, Decision::ImplicitDeny, "{action}");
    }

    // Plain HTTP is refused for everything.
    let http = Request::new(Caller::parse(ENFORCER).unwrap(), "s3:ListBucket", bucket_arn, t)
        .with("aws:SecureTransport", "false");
    assert_eq!(explain(closed, &http).decision, Decision::ExplicitDeny);
}

#[test]
fn ip_conditions_and_variables_are_decided_not_guessed() {
    let caller = Caller::parse(INVESTIGATOR).unwrap();
    let req = Request::new(caller.clone(), "s3:GetObject", OBJECTS[0], at("2026-11-24T12:00:00Z"));
    // IpAddress on a request without aws:SourceIp: the key is absent, so the condition is false.
    let p = Policy::parse(br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#).unwrap();
    assert_eq!(explain(&p, &req).decision, Decision::ImplicitDeny);
    let inside = req.clone().with("aws:SourceIp", "10.1.2.3");
    let e = explain(&p, &inside);
    assert_eq!(e.decision, Decision::Allow);
    assert_eq!(e.deciding, vec![0]);

    // An explicit deny still settles it.
    let p = Policy::parse(br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},{"Sid":"D","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#).unwrap();
    assert_eq!(explain(&p, &inside).decision, Decision::ExplicitDeny);

    // ${aws:username} has no value for a role session: the resource matches nothing.
    let p = Policy::parse(br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}"#).unwrap();
    assert_eq!(
        explain(&p, &Request::new(caller, "s3:GetObject", "arn:aws:s3:::b/x/y", at("2026-11-24T12:00:00Z")))
            .decision,
        Decision::ImplicitDeny
    );
    let bob = Caller::parse("arn:aws:iam::111122223333:user/Bob").unwrap();
    assert_eq!(
        explain(&p, &Request::new(bob, "s3:GetObject", "arn:aws:s3:::b/Bob/y", at("2026-11-24T12:00:00Z")))
            .decision,
        Decision::Allow
    );
}

#[test]
fn a_session_without_its_role_path_is_unknown_where_the_path_matters() {
    let bucket = example_bucket();
    let open = open_for(&bucket, INVESTIGATOR);
    let session = Caller::parse(INVESTIGATOR_SESSION).unwrap();
    let req = Request::new(session, "s3:GetObject", OBJECTS[0], at("2026-11-24T13:00:00Z"))
        .with("aws:SecureTransport", "true");
    assert_eq!(explain(&open, &req).decision, Decision::Unknown);
}

#[test]
fn condition_semantics() {
    let caller = Caller::parse(INVESTIGATOR).unwrap();
    let t = at("2026-11-24T12:00:00Z");
    let policy = |cond: &str| {
        Policy::parse(format!(r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{cond}}}]}}"#).as_bytes()).unwrap()
    };
    let d = |cond: &str, req: Request| explain(&policy(cond), &req).decision;
    let base = || Request::new(caller.clone(), "s3:GetObject", OBJECTS[0], t);
    // Negated operator on a missing key matches; positive one does not; IfExists matches.
    assert_eq!(d(r#"{"StringNotEquals":{"aws:PrincipalOrgID":"o-1"}}"#, base()), Decision::Allow);
    assert_eq!(d(r#"{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}"#, base()), Decision::ImplicitDeny);
    assert_eq!(d(r#"{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-1"}}"#, base()), Decision::Allow);
    assert_eq!(d(r#"{"Null":{"aws:PrincipalOrgID":"true"}}"#, base()), Decision::Allow);
    assert_eq!(d(r#"{"Null":{"aws:PrincipalOrgID":"false"}}"#, base()), Decision::ImplicitDeny);
    // Set operators.
    let tagged = || base().with("aws:TagKeys", "a").with("aws:TagKeys", "b");
    assert_eq!(
        d(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b","c"]}}"#, tagged()),
        Decision::Allow
    );
    assert_eq!(d(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}"#, tagged()), Decision::ImplicitDeny);
    assert_eq!(d(r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["b"]}}"#, tagged()), Decision::Allow);
    assert_eq!(d(r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["x"]}}"#, base()), Decision::Allow);
    assert_eq!(d(r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["x"]}}"#, base()), Decision::ImplicitDeny);
    // Numeric, Date, Bool, Arn, case-insensitive keys, String*.
    assert_eq!(
        d(r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, base().with("s3:max-keys", "9")),
        Decision::Allow
    );
    // A value that is not a number matches neither the operator nor its negation.
    assert_eq!(
        d(r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, base().with("s3:max-keys", "x")),
        Decision::ImplicitDeny
    );
    assert_eq!(
        d(r#"{"NumericNotEquals":{"s3:max-keys":"10"}}"#, base().with("s3:max-keys", "x")),
        Decision::ImplicitDeny
    );
    assert_eq!(d(r#"{"DateLessThan":{"aws:CurrentTime":"2026-11-25"}}"#, base()), Decision::Allow);
    assert_eq!(
        d(r#"{"DateGreaterThan":{"AWS:CURRENTTIME":"2026-11-25T00:00:00Z"}}"#, base()),
        Decision::ImplicitDeny
    );
    assert_eq!(
        d(r#"{"Bool":{"aws:SecureTransport":true}}"#, base().with("aws:SecureTransport", "TRUE")),
        Decision::Allow
    );
    assert_eq!(
        d(r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/investigations/*"}}"#, base()),
        Decision::Allow
    );
    assert_eq!(
        d(r#"{"StringLike":{"s3:prefix":"logs/*"}}"#, base().with("s3:prefix", "logs/2026")),
        Decision::Allow
    );
    assert_eq!(
        d(r#"{"StringEqualsIgnoreCase":{"s3:prefix":"LOGS"}}"#, base().with("s3:prefix", "logs")),
        Decision::Allow
    );
}

#[test]
fn not_principal_not_action_not_resource() {
    let caller = Caller::parse(INVESTIGATOR_SESSION).unwrap();
    let t = at("2026-11-24T12:00:00Z");
    let p = Policy::parse(br#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/investigations/LogInvestigator"},"NotAction":"s3:List*","NotResource":"arn:aws:s3:::other/*","Condition":{}}]}"#);
    assert!(p.is_err(), "an empty condition block is rejected");
    let p = Policy::parse(br#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/investigations/LogInvestigator"},"NotAction":"s3:List*","NotResource":"arn:aws:s3:::other/*"}]}"#).unwrap();
    let req = |c: &Caller, a: &str, r: &str| explain(&p, &Request::new(c.clone(), a, r, t)).decision;
    // NotPrincipal names the role, not this session of it: the deny applies to the session
    // (IAM user guide, "NotPrincipal": the assumed-role user is identified by its session name).
    assert_eq!(req(&caller, "s3:GetObject", OBJECTS[0]), Decision::ExplicitDeny);
    // A role caller is a session of it: naming the role spares none of its sessions.
    let role = Caller::parse(INVESTIGATOR).unwrap();
    assert_eq!(req(&role, "s3:GetObject", OBJECTS[0]), Decision::ExplicitDeny);
    let other = Caller::parse("arn:aws:iam::111122223333:user/admin").unwrap();
    assert_eq!(req(&other, "s3:GetObject", OBJECTS[0]), Decision::ExplicitDeny);
    assert_eq!(req(&other, "s3:ListBucket", OBJECTS[0]), Decision::ImplicitDeny);
    assert_eq!(req(&other, "s3:GetObject", "arn:aws:s3:::other/x"), Decision::ImplicitDeny);
}

const DISTRIBUTION: &str = "arn:aws:cloudfront::111122223333:distribution/E2QWRUHAPOMQZL";
const CLOUDFRONT: &str = "cloudfront.amazonaws.com";

/// A service's request as AWS makes it: its own principal, and the source it acts for.
fn service_read(policy: &Policy, service: &str, sources: &[(&str, &str)], action: &str) -> Decision {
    let mut req =
        Request::new(Caller::parse(service).unwrap(), action, OBJECTS[0], at("2026-11-24T12:00:00Z"))
            .with("aws:SecureTransport", "true");
    for (k, v) in sources {
        req = req.with(k, v);
    }
    explain(policy, &req).decision
}

/// Issue 21, attack 4: no AWS service reads the logs unless the config's allow-list names it with
/// the source it acts for; writes such as CloudTrail's delivery are not object reads.
#[test]
fn services_read_only_as_the_allow_list_says() {
    let anywhere = "arn:aws:cloudfront::444455556666:distribution/EATTACKER";
    let services =
        [CLOUDFRONT, "logging.s3.amazonaws.com", "cloudtrail.amazonaws.com", "macie.amazonaws.com"];
    // No allow-list (the default): every service is denied every read by both templates.
    let bucket = example_bucket();
    for policy in [bucket.closed_policy(), &open_for(&bucket, INVESTIGATOR)] {
        for service in services {
            for action in OBJECT_READ_ACTIONS {
                for sources in
                    [&[][..], &[("aws:SourceArn", DISTRIBUTION), ("aws:SourceAccount", "111122223333")]]
                {
                    let d = service_read(policy, service, sources, action);
                    assert_eq!(d, Decision::ExplicitDeny, "{service} {action} {sources:?}");
                }
            }
        }
    }

    // CloudFront for one distribution, and S3 server access logging for one account.
    let mut inputs = example_inputs();
    inputs.service_reads = BTreeSet::from([
        ServiceRead { service: CLOUDFRONT.into(), source: ServiceSource::Arn(DISTRIBUTION.into()) },
        ServiceRead {
            service: "logging.s3.amazonaws.com".into(),
            source: ServiceSource::Account("111122223333".into()),
        },
    ]);
    let listed = BucketTemplates::new(inputs).unwrap();
    assert_ne!(listed.closed_hash(), bucket.closed_hash(), "the allow-list is part of the template");
    for policy in [listed.closed_policy(), &open_for(&listed, INVESTIGATOR)] {
        for action in OBJECT_READ_ACTIONS {
            // Listed: the right service for the right source is not denied (the bucket policy
            // grants nothing itself; the service's own access is what it is).
            let ok = service_read(policy, CLOUDFRONT, &[("aws:SourceArn", DISTRIBUTION)], action);
            assert_ne!(ok, Decision::ExplicitDeny, "{action}");
            let ok = service_read(
                policy,
                "logging.s3.amazonaws.com",
                &[("aws:SourceAccount", "111122223333")],
                action,
            );
            assert_ne!(ok, Decision::ExplicitDeny, "{action}");
            // The attack: a distribution anywhere else, or none.
            for sources in [&[("aws:SourceArn", anywhere)][..], &[("aws:SourceAccount", "111122223333")], &[]]
            {
                let d = service_read(policy, CLOUDFRONT, sources, action);
                assert_eq!(d, Decision::ExplicitDeny, "{action} {sources:?}");
            }
            // A source listed for one service lets no other service read.
            let d =
                service_read(policy, "macie.amazonaws.com", &[("aws:SourceAccount", "111122223333")], action);
            assert_eq!(d, Decision::ExplicitDeny, "{action}");
            let d =
                service_read(policy, "logging.s3.amazonaws.com", &[("aws:SourceArn", DISTRIBUTION)], action);
            assert_eq!(d, Decision::ExplicitDeny, "{action}");
        }
        // People are denied as before.
        for caller in callers().iter().filter(|c| !matches!(c, Caller::Service(_))) {
            if [INVESTIGATOR, INVESTIGATOR_SESSION]
                .iter()
                .any(|r| Caller::parse(r).ok().as_ref() == Some(caller))
            {
                continue;
            }
            let d = decide(policy, caller, "s3:GetObject", OBJECTS[0], "2026-11-24T12:00:00Z");
            assert_eq!(d, Decision::ExplicitDeny, "{caller:?}");
        }
    }
    // CloudTrail still delivers: the allow-list touches object reads only.
    for bucket in [&bucket, &listed] {
        let req = Request::new(
            Caller::parse("cloudtrail.amazonaws.com").unwrap(),
            "s3:PutObject",
            OBJECTS[0],
            at("2026-11-24T12:00:00Z"),
        )
        .with("aws:SecureTransport", "true")
        .with("aws:SourceOrgID", "o-exampleorg1")
        .with("s3:x-amz-acl", "bucket-owner-full-control");
        assert_eq!(explain(bucket.closed_policy(), &req).decision, Decision::Allow);
    }
}
