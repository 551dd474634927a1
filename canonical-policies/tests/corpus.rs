//! The real-world corpus (`../shared/corpus`, never copied into this repo): every policy canonicalises
//! or is rejected with a typed error, and the normalisation pairs that AWS treats as the same policy
//! hash the same.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

use canonical_policies::json::{self, Json};
use canonical_policies::{Policy, PolicyError};

/// NORMALIZATION.md §8: this recording "looks hand-edited" (a bare-string principal S3 would not
/// return); it is rejected, as it should be.
const HAND_EDITED: [&str; 1] = ["c7n_placebo__test_s3_has_statement__GetBucketPolicy_3.json"];

#[test]
fn every_corpus_policy_canonicalises_or_is_rejected_with_a_typed_error() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let mut accepted = 0;
    let mut rejected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut files: Vec<_> =
        std::fs::read_dir(corpus.join("policies")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "INDEX.json" {
            continue;
        }
        let bytes = std::fs::read(path).unwrap();
        match Policy::parse(&bytes) {
            Ok(p) => {
                accepted += 1;
                let c = p.canonical_json();
                assert_eq!(Policy::parse(c.as_bytes()).unwrap().canonical_json(), c, "{name}");
                assert_eq!(Policy::parse(p.to_pretty_json().as_bytes()).unwrap(), p, "{name}");
            }
            Err(e) => {
                let kind = match e {
                    PolicyError::InputTooLarge { .. } => "input too large",
                    PolicyError::TooLarge { .. } => "over 20 KB",
                    PolicyError::Syntax { .. } => "invalid json",
                    PolicyError::TooDeep { .. } => "too deep",
                    PolicyError::DuplicateKey { .. } => "duplicate key",
                    PolicyError::UnknownKey { .. } => "unknown key",
                    PolicyError::WrongType { .. } => "wrong type",
                    PolicyError::Missing { .. } => "missing key",
                    PolicyError::Both { .. } => "both X and NotX",
                    PolicyError::Neither { .. } => "neither X nor NotX",
                    PolicyError::Empty { .. } => "empty",
                    PolicyError::InvalidValue { .. } => "invalid value",
                };
                *rejected.entry(kind).or_default() += 1;
                let msg = e.to_string();
                assert_eq!(msg.lines().count(), 1, "{name}: {msg}");
                assert!(msg.chars().next().is_some_and(|c| !c.is_uppercase()), "{name}: {msg}");
            }
        }
        // The documented expectations of particular files.
        if name.contains("INVALID_JSON") {
            assert!(matches!(Policy::parse(&bytes), Err(PolicyError::Syntax { .. })), "{name}");
        }
        if name.starts_with("c7n_placebo__") && !HAND_EDITED.contains(&name.as_str()) {
            assert!(Policy::parse(&bytes).is_ok(), "recorded GetBucketPolicy output must parse: {name}");
        }
    }
    println!("corpus: {} policies, {accepted} accepted, rejected by kind: {rejected:?}", files.len() - 1);
    assert!(accepted >= 100, "suspiciously few policies accepted: {accepted}");
}

/// What each normalisation pair is expected to show. Pairs not listed are taken at the file's word:
/// the same policy to AWS.
fn expectation(id: &str) -> Expect {
    match id {
        // A CloudFront OAI canonical user ID is stored as the OAI's ARN. Only AWS knows that mapping, so
        // the two hash differently; the consequence is drift, which fails closed (docs/canonical-form.md).
        "tf6642-canonicaluser-to-oai-arn" => Expect::Different,
        // A deleted principal shows as its unique ID: a *different* policy now, which must not pass as
        // the template (the reader role is gone; someone should look).
        "kc-deleted-principal-unique-id" | "hackingthecloud-role-recreated" => Expect::Different,
        // The account numbers differ only because the reporter redacted them inconsistently; the rule
        // (12 digits → root ARN of the same account) is tested with the put's own account.
        "tf9036-account-id-to-root-arn" => Expect::SameAfterRedactionFix,
        _ => Expect::Same,
    }
}

#[derive(Debug, PartialEq)]
enum Expect {
    Same,
    SameAfterRedactionFix,
    Different,
}

/// Wraps a fragment (`{"Action": ...}`, `{"Principal": ...}`, a condition block) into a whole policy.
fn complete(fragment: &Json<'_>) -> Json<'static> {
    let fragment = &fragment.clone().into_owned();
    let mut stmt: Vec<(std::borrow::Cow<'static, str>, Json<'static>)> = vec![
        ("Effect".into(), Json::String("Allow".into())),
        ("Principal".into(), Json::String("*".into())),
        ("Action".into(), Json::String("s3:GetObject".into())),
        ("Resource".into(), Json::String("*".into())),
    ];
    let overlay =
        |stmt: &mut Vec<(std::borrow::Cow<'static, str>, Json<'static>)>, key: &str, value: Json<'static>| {
            stmt.retain(|(k, _)| k != key);
            stmt.push((key.to_owned().into(), value));
        };
    match fragment {
        Json::Object(members)
            if members.iter().all(|(k, _)| ["Action", "Resource", "Principal"].contains(&k.as_ref())) =>
        {
            for (k, v) in members {
                overlay(&mut stmt, k, v.clone());
            }
        }
        // A list of condition blocks: all of them, in one Condition.
        Json::Array(blocks) if blocks.iter().all(|b| matches!(b, Json::Object(_))) => {
            let mut ops = Vec::new();
            for b in blocks {
                if let Json::Object(m) = b {
                    ops.extend(m.iter().cloned());
                }
            }
            overlay(&mut stmt, "Condition", Json::Object(ops));
        }
        // A list of principal values.
        Json::Array(values) => {
            overlay(&mut stmt, "Principal", Json::Object(vec![("AWS".into(), Json::Array(values.clone()))]));
        }
        other => panic!("unknown fragment shape: {other:?}"),
    }
    Json::Object(vec![
        ("Version".into(), Json::String("2012-10-17".into())),
        ("Statement".into(), Json::Array(vec![Json::Object(stmt)])),
    ])
}

/// A side of a pair as policy text: full pairs hold JSON text or a JSON object, fragments a piece.
fn side(v: &Json<'_>, kind: &str) -> String {
    match (v, kind) {
        (Json::String(text), _) => text.to_string(),
        (doc @ Json::Object(m), _) if m.iter().any(|(k, _)| k == "Statement") => doc.to_text(),
        (fragment, _) => complete(fragment).to_text(),
    }
}

#[test]
fn normalisation_pairs_that_aws_treats_as_equal_hash_equal() {
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let bytes = std::fs::read(corpus.join("normalization_pairs.json")).unwrap();
    let doc = json::parse(&bytes).unwrap();
    let Json::Array(pairs) = doc else { panic!("normalization_pairs.json is not an array") };
    let mut checked = 0;
    for pair in &pairs {
        let Json::Object(m) = pair else { panic!() };
        let field = |k: &str| m.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        let Some(Json::String(id)) = field("id") else { panic!("pair without id") };
        let kind = match field("kind") {
            Some(Json::String(k)) => k.as_ref(),
            _ => "",
        };
        // The two sides: put/get, get_1/get_2, get_account_A/B, put/cloudtrail_bucketPolicy, ...
        let sides: Vec<(&std::borrow::Cow<'_, str>, &Json<'_>)> = m
            .iter()
            .filter(|(k, _)| k.starts_with("put") || k.starts_with("get") || k.starts_with("cloudtrail"))
            .map(|(k, v)| (k, v))
            .collect();
        if sides.len() != 2 {
            println!("pair {id}: {} side(s), only checked to parse", sides.len());
            for (_, v) in &sides {
                Policy::parse(side(v, kind).as_bytes()).unwrap();
            }
            continue;
        }
        let (a, b) = (side(sides[0].1, kind), side(sides[1].1, kind));
        let pa = Policy::parse(a.as_bytes()).unwrap_or_else(|e| panic!("{id} {}: {e}", sides[0].0));
        let pb = Policy::parse(b.as_bytes()).unwrap_or_else(|e| panic!("{id} {}: {e}", sides[1].0));
        match expectation(id) {
            Expect::Same => {
                assert_eq!(pa.hash(), pb.hash(), "{id}:\n{}\n{}", pa.canonical_json(), pb.canonical_json())
            }
            Expect::Different => assert_ne!(pa.hash(), pb.hash(), "{id}"),
            Expect::SameAfterRedactionFix => {
                // Put the put's account into the get side.
                let digits = |s: &str| {
                    s.split(|c: char| !c.is_ascii_digit()).find(|d| d.len() == 12).map(str::to_owned)
                };
                let (put_acct, get_acct) = (digits(&a).unwrap(), digits(&b).unwrap());
                let fixed = Policy::parse(b.replace(&get_acct, &put_acct).as_bytes()).unwrap();
                assert_eq!(pa.hash(), fixed.hash(), "{id}");
            }
        }
        checked += 1;
    }
    println!("normalisation pairs: {checked} of {} compared", pairs.len());
    assert!(checked >= 10, "only {checked} pairs compared");
}

#[test]
fn every_placebo_get_response_is_a_fixed_point_up_to_ordering() {
    // Recorded GetBucketPolicy responses already are in AWS's key order; our canonical form keeps that
    // order, so parsing one and writing it canonically changes only set and statement order and case.
    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    for entry in std::fs::read_dir(corpus.join("policies")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("c7n_placebo__") || HAND_EDITED.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let p = Policy::parse(text.as_bytes()).unwrap();
        let c = p.canonical_json();
        assert_eq!(
            c.len(),
            text.trim().len(),
            "{name}: canonical form should only reorder and re-case\n{text}\n{c}"
        );
    }
}

/// Every accepted corpus policy through the evaluator, for every kind of caller, every action and
/// resource the policy names, with a full request context: no panic, and "unknown" only where AWS's
/// answer depends on facts the request does not carry (a canonical user or unique principal ID,
/// `{"AWS": "*"}` for an anonymous caller or a service, a unique ID in `aws:userid`).
#[test]
fn the_evaluator_decides_every_corpus_policy_or_says_which_fact_is_missing() {
    use canonical_policies::{explain, Caller, Decision, Principal, PrincipalKind, Request};

    let Some(corpus) = common::corpus_dir() else {
        return;
    };
    let callers = [
        "anonymous",
        "cloudtrail.amazonaws.com",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::123456789012:role/path/Admin",
        "arn:aws:iam::999988887777:user/mallory",
    ]
    .map(|c| Caller::parse(c).unwrap());
    let (mut evaluated, mut unknown) = (0usize, 0usize);
    for entry in std::fs::read_dir(corpus.join("policies")).unwrap() {
        let path = entry.unwrap().path();
        let Ok(policy) = Policy::parse(&std::fs::read(&path).unwrap()) else {
            continue;
        };
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut actions: Vec<String> = vec!["s3:GetObject".into()];
        let mut resources: Vec<String> = vec!["arn:aws:s3:::bucket/key".into()];
        for s in &policy.statements {
            actions.extend(s.action.values.iter().map(|a| a.as_str().replace('*', "x").replace('?', "y")));
            resources.extend(s.resource.values.iter().map(|r| r.replace('*', "x").replace('?', "y")));
        }
        for caller in &callers {
            for action in &actions {
                for resource in &resources {
                    let request =
                        Request::new(caller.clone(), action, resource, common::at("2026-11-24T12:00:00Z"))
                            .with("aws:SecureTransport", "true")
                            .with("aws:SourceIp", "192.0.2.10")
                            .with("aws:PrincipalOrgID", "o-exampleorg1")
                            .with("aws:SourceAccount", "111122223333")
                            .with("aws:SourceArn", "arn:aws:cloudtrail:eu-central-1:111122223333:trail/t")
                            .with("aws:SourceVpce", "vpce-1a2b3c4d")
                            .with("s3:x-amz-acl", "bucket-owner-full-control")
                            .with("s3:x-amz-server-side-encryption", "aws:kms");
                    let e = explain(&policy, &request);
                    evaluated += 1;
                    if e.decision != Decision::Unknown {
                        continue;
                    }
                    unknown += 1;
                    let explained = e.deciding.iter().any(|i| {
                        let s = &policy.statements[*i];
                        let principal_fact = match &s.principal.values {
                            Principal::Anyone => false,
                            Principal::Typed(map) => map.iter().any(|(kind, values)| match kind {
                                PrincipalKind::CanonicalUser => true,
                                PrincipalKind::Aws => values.iter().any(|v| {
                                    (!v.starts_with("arn:") && v != "*")
                                        || (v == "*"
                                            && !matches!(
                                                caller,
                                                Caller::Root { .. }
                                                    | Caller::User { .. }
                                                    | Caller::Role { .. }
                                            ))
                                }),
                                _ => false,
                            }),
                        };
                        let userid = s
                            .condition
                            .values()
                            .any(|keys| keys.keys().any(|k| k.folded() == "aws:userid"))
                            || s.resource.values.iter().any(|r| r.to_lowercase().contains("${aws:userid"));
                        principal_fact || userid
                    });
                    assert!(
                        explained,
                        "{name}: unknown for {caller:?} {action} {resource}: {:?}",
                        e.deciding
                    );
                }
            }
        }
    }
    println!("evaluator over the corpus: {evaluated} requests, {unknown} unknown (each for a stated fact)");
    assert!(evaluated > 1000, "{evaluated}");
}
