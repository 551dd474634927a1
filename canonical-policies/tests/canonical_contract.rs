//! The canonical form as a tested contract (docs/canonical-form.md):
//! - idempotence: canon(parse(canon(p))) == canon(p);
//! - invariance: every rewrite AWS applies between Put and Get (and every spelling the docs call
//!   equivalent) leaves the hash unchanged;
//! - sensitivity: every semantic change moves the hash, and on a template it classifies as drift.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use canonical_policies::json::Json;
use canonical_policies::{
    classify_policy, CiString, Effect, Policy, Principal, PrincipalKind, SortedSet, State, Statement, Version,
};
use common::{at, example_bucket, open_for};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// A tiny deterministic RNG for the rewrite helper (proptest supplies the seed, so failures shrink).

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn coin(&mut self) -> bool {
        self.next() % 2 == 0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generator: small pools so that duplicates, collisions and one-element sets are common.

const PRINCIPALS: [&str; 6] = [
    "*",
    "111122223333",
    "arn:aws:iam::444455556666:root",
    "arn:aws:iam::111122223333:role/r1",
    "arn:aws:iam::111122223333:user/u1",
    "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1",
];
const SERVICES: [&str; 2] = ["cloudtrail.amazonaws.com", "logging.s3.amazonaws.com"];
const ACTIONS: [&str; 6] = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:Get*", "s3:*", "*"];
const RESOURCES: [&str; 4] = ["arn:aws:s3:::b", "arn:aws:s3:::b/*", "arn:aws:s3:::b/logs/*", "*"];
const OPERATORS: [&str; 8] = [
    "StringEquals",
    "StringNotEquals",
    "Bool",
    "ArnNotEquals",
    "DateLessThan",
    "NumericLessThan",
    "ForAnyValue:StringLike",
    "StringEqualsIfExists",
];
const KEYS: [&str; 6] = [
    "aws:SecureTransport",
    "aws:PrincipalArn",
    "aws:CurrentTime",
    "s3:max-keys",
    "aws:PrincipalOrgID",
    "s3:prefix",
];
const VALUES: [&str; 8] = [
    "true",
    "false",
    "42",
    "1.50",
    "o-abc",
    "logs/*",
    "2026-11-24T00:00:00Z",
    "arn:aws:iam::111122223333:role/r1",
];
const SIDS: [&str; 4] = ["S1", "S2", "Audit Read", "ClosedAccess"];

#[derive(Debug, Clone)]
enum GenPrincipal {
    Star,
    Typed(Vec<(&'static str, Vec<&'static str>)>),
}

#[derive(Debug, Clone)]
struct GenStatement {
    sid: Option<&'static str>,
    allow: bool,
    principal: GenPrincipal,
    not_principal: bool,
    actions: Vec<&'static str>,
    not_action: bool,
    resources: Vec<&'static str>,
    not_resource: bool,
    /// op → key → values; keys unique per op (case-insensitively, as the pools are).
    condition: BTreeMap<&'static str, BTreeMap<&'static str, Vec<&'static str>>>,
}

#[derive(Debug, Clone)]
struct GenPolicy {
    version: Option<&'static str>,
    id: Option<&'static str>,
    statements: Vec<GenStatement>,
}

fn pick<const N: usize>(pool: [&'static str; N]) -> impl Strategy<Value = &'static str> {
    (0..N).prop_map(move |i| pool[i])
}

fn some_of<const N: usize>(pool: [&'static str; N], max: usize) -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(pick(pool), 1..=max)
}

fn gen_principal() -> impl Strategy<Value = GenPrincipal> {
    prop_oneof![
        1 => Just(GenPrincipal::Star),
        3 => (some_of(PRINCIPALS, 3), prop::option::of(some_of(SERVICES, 2))).prop_map(|(aws, svc)| {
            let mut kinds = vec![("AWS", aws)];
            if let Some(s) = svc {
                kinds.push(("Service", s));
            }
            GenPrincipal::Typed(kinds)
        }),
        1 => some_of(SERVICES, 2).prop_map(|s| GenPrincipal::Typed(vec![("Service", s)])),
    ]
}

fn gen_condition() -> impl Strategy<Value = BTreeMap<&'static str, BTreeMap<&'static str, Vec<&'static str>>>>
{
    prop::collection::btree_map(
        pick(OPERATORS),
        prop::collection::btree_map(pick(KEYS), some_of(VALUES, 3), 1..3),
        0..3,
    )
}

prop_compose! {
    fn gen_statement()(
        sid in prop::option::of(pick(SIDS)),
        allow in any::<bool>(),
        principal in gen_principal(),
        not_principal in prop::bool::weighted(0.15),
        actions in some_of(ACTIONS, 4),
        not_action in prop::bool::weighted(0.15),
        resources in some_of(RESOURCES, 3),
        not_resource in prop::bool::weighted(0.15),
        condition in gen_condition(),
    ) -> GenStatement {
        // NotPrincipal goes with Deny only (the parser refuses it with Allow).
        let not_principal = not_principal && !allow;
        GenStatement {
            sid, allow, principal, not_principal, actions, not_action, resources, not_resource, condition,
        }
    }
}

fn gen_policy() -> impl Strategy<Value = GenPolicy> {
    (
        prop::option::of(prop_oneof![Just("2012-10-17"), Just("2008-10-17")]),
        prop::option::of(Just("PolicyId1")),
        prop::collection::vec(gen_statement(), 1..5),
    )
        .prop_map(|(version, id, statements)| GenPolicy { version, id, statements })
}

fn strings(v: &[&str]) -> Json<'static> {
    Json::Array(v.iter().map(|s| Json::String((*s).to_owned().into())).collect())
}

/// The plain JSON of a generated policy: arrays everywhere, keys in a fixed order.
fn to_json(p: &GenPolicy) -> Json<'static> {
    let mut top = Vec::new();
    if let Some(v) = p.version {
        top.push(("Version".into(), Json::String(v.to_owned().into())));
    }
    if let Some(id) = p.id {
        top.push(("Id".into(), Json::String(id.to_owned().into())));
    }
    let statements = p
        .statements
        .iter()
        .map(|s| {
            let mut m = Vec::new();
            if let Some(sid) = s.sid {
                m.push(("Sid".into(), Json::String(sid.to_owned().into())));
            }
            m.push(("Effect".into(), Json::String(if s.allow { "Allow" } else { "Deny" }.to_owned().into())));
            let principal = match &s.principal {
                GenPrincipal::Star => Json::String("*".to_owned().into()),
                GenPrincipal::Typed(kinds) => {
                    Json::Object(kinds.iter().map(|(k, v)| ((*k).into(), strings(v))).collect())
                }
            };
            m.push((if s.not_principal { "NotPrincipal" } else { "Principal" }.into(), principal));
            m.push((if s.not_action { "NotAction" } else { "Action" }.into(), strings(&s.actions)));
            m.push((if s.not_resource { "NotResource" } else { "Resource" }.into(), strings(&s.resources)));
            if !s.condition.is_empty() {
                let cond = s
                    .condition
                    .iter()
                    .map(|(op, keys)| {
                        let keys = keys.iter().map(|(k, v)| ((*k).into(), strings(v))).collect();
                        ((*op).into(), Json::Object(keys))
                    })
                    .collect();
                m.push(("Condition".into(), Json::Object(cond)));
            }
            Json::Object(m)
        })
        .collect();
    top.push(("Statement".into(), Json::Array(statements)));
    Json::Object(top)
}

// ---------------------------------------------------------------------------------------------
// The AWS rewrite helper: applies every rewrite the canonical form must absorb, at random.

#[derive(Clone, Copy, PartialEq)]
enum SetKind {
    Action,
    Resource,
    AwsPrincipal,
    OtherPrincipal,
    ConditionValues,
}

fn random_case(s: &str, rng: &mut Rng) -> String {
    s.chars().map(|c| if rng.coin() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
}

fn rewrite_item(s: &str, kind: SetKind, rng: &mut Rng) -> Json<'static> {
    match kind {
        // Action names are case-insensitive.
        SetKind::Action => Json::String(random_case(s, rng).into()),
        // Bare account ID ↔ root ARN (NORMALIZATION §4).
        SetKind::AwsPrincipal => {
            if let Some(acct) = s.strip_prefix("arn:aws:iam::").and_then(|r| r.strip_suffix(":root")) {
                if rng.coin() {
                    return Json::String(acct.to_owned().into());
                }
            } else if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) && rng.coin() {
                return Json::String(format!("arn:aws:iam::{s}:root").into());
            }
            Json::String(s.to_owned().into())
        }
        // JSON booleans and numbers become strings (NORMALIZATION §7).
        SetKind::ConditionValues => match s {
            "true" | "false" if rng.coin() => Json::Bool(s == "true"),
            "42" | "1.50" if rng.coin() => Json::Number(s.to_owned().into()),
            _ => Json::String(s.to_owned().into()),
        },
        SetKind::Resource | SetKind::OtherPrincipal => Json::String(s.to_owned().into()),
    }
}

/// A set: duplicates added, order shuffled, a one-element array written as a scalar or not.
fn rewrite_set(v: &Json<'static>, kind: SetKind, rng: &mut Rng) -> Json<'static> {
    let items: Vec<String> = match v {
        Json::String(s) => vec![s.to_string()],
        Json::Array(a) => {
            a.iter().map(|x| if let Json::String(s) = x { s.to_string() } else { panic!() }).collect()
        }
        _ => panic!("not a set"),
    };
    let mut out: Vec<Json<'static>> = items.iter().map(|s| rewrite_item(s, kind, rng)).collect();
    if rng.below(4) == 0 {
        let dup = items[rng.below(items.len())].clone();
        out.push(rewrite_item(&dup, kind, rng));
    }
    rng.shuffle(&mut out);
    if out.len() == 1 && rng.coin() {
        out.pop().unwrap()
    } else {
        Json::Array(out)
    }
}

fn rewrite_statement(s: &Json<'static>, rng: &mut Rng) -> Json<'static> {
    let Json::Object(members) = s else { panic!() };
    let mut out: Vec<(std::borrow::Cow<'static, str>, Json<'static>)> = Vec::new();
    let mut had_sid = false;
    for (k, v) in members {
        let v = match k.as_ref() {
            "Sid" => {
                had_sid = true;
                v.clone()
            }
            "Action" | "NotAction" => rewrite_set(v, SetKind::Action, rng),
            "Resource" | "NotResource" => rewrite_set(v, SetKind::Resource, rng),
            "Principal" | "NotPrincipal" => match v {
                Json::Object(kinds) => Json::Object(
                    kinds
                        .iter()
                        .map(|(kind, vals)| {
                            let set =
                                if kind == "AWS" { SetKind::AwsPrincipal } else { SetKind::OtherPrincipal };
                            (kind.to_string().into(), rewrite_set(vals, set, rng))
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            "Condition" => {
                let Json::Object(ops) = v else { panic!() };
                let mut ops: Vec<(std::borrow::Cow<'static, str>, Json<'static>)> = ops
                    .iter()
                    .map(|(op, keys)| {
                        let Json::Object(keys) = keys else { panic!() };
                        let mut keys: Vec<(std::borrow::Cow<'static, str>, Json<'static>)> = keys
                            .iter()
                            // Condition key names are case-insensitive.
                            .map(|(key, vals)| {
                                (
                                    random_case(key, rng).into(),
                                    rewrite_set(vals, SetKind::ConditionValues, rng),
                                )
                            })
                            .collect();
                        rng.shuffle(&mut keys);
                        (op.to_string().into(), Json::Object(keys))
                    })
                    .collect();
                rng.shuffle(&mut ops);
                Json::Object(ops)
            }
            _ => v.clone(),
        };
        out.push((k.to_string().into(), v));
    }
    // No Sid and `"Sid": ""` are the same statement (NORMALIZATION §9).
    if !had_sid && rng.coin() {
        out.push(("Sid".into(), Json::String(String::new().into())));
    }
    rng.shuffle(&mut out);
    Json::Object(out)
}

/// Applies the AWS rewrites to a whole policy document.
fn aws_rewrite(doc: &Json<'static>, rng: &mut Rng) -> Json<'static> {
    let Json::Object(top) = doc else { panic!() };
    let mut out: Vec<(std::borrow::Cow<'static, str>, Json<'static>)> = top
        .iter()
        .map(|(k, v)| {
            let v = if k == "Statement" {
                let Json::Array(stmts) = v else { panic!() };
                let mut stmts: Vec<Json<'static>> = stmts.iter().map(|s| rewrite_statement(s, rng)).collect();
                rng.shuffle(&mut stmts);
                // A lone statement may be written as an object.
                if stmts.len() == 1 && rng.coin() {
                    stmts.pop().unwrap()
                } else {
                    Json::Array(stmts)
                }
            } else {
                v.clone()
            };
            (k.to_string().into(), v)
        })
        .collect();
    rng.shuffle(&mut out);
    Json::Object(out)
}

/// Serialises with random insignificant whitespace.
fn to_text(doc: &Json<'_>, rng: &mut Rng) -> String {
    doc.to_text_spaced(&mut |out| {
        for _ in 0..rng.below(3) {
            out.push([' ', '\n', '\t', '\r'][rng.below(4)]);
        }
    })
}

fn parse(text: &str) -> Policy {
    Policy::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

// ---------------------------------------------------------------------------------------------
// Semantic mutations.

#[derive(Debug, Clone, Copy)]
enum Mutation {
    FlipEffect,
    ChangeSid,
    RemoveSid,
    ChangeVersion,
    AddStatement,
    RemoveStatement,
    AddPrincipal,
    SwapNotPrincipal,
    StarVsAwsStar,
    AddAction,
    RemoveAction,
    SwapNotAction,
    ChangeResource,
    SwapNotResource,
    AddConditionKey,
    ChangeConditionValue,
    ChangeConditionOperator,
    RemoveCondition,
    AddId,
}

const MUTATIONS: [Mutation; 19] = [
    Mutation::FlipEffect,
    Mutation::ChangeSid,
    Mutation::RemoveSid,
    Mutation::ChangeVersion,
    Mutation::AddStatement,
    Mutation::RemoveStatement,
    Mutation::AddPrincipal,
    Mutation::SwapNotPrincipal,
    Mutation::StarVsAwsStar,
    Mutation::AddAction,
    Mutation::RemoveAction,
    Mutation::SwapNotAction,
    Mutation::ChangeResource,
    Mutation::SwapNotResource,
    Mutation::AddConditionKey,
    Mutation::ChangeConditionValue,
    Mutation::ChangeConditionOperator,
    Mutation::RemoveCondition,
    Mutation::AddId,
];

fn fresh_statement() -> Statement {
    Statement {
        sid: Some("Backdoor".to_owned()),
        effect: Effect::Allow,
        principal: canonical_policies::Clause {
            negated: false,
            values: Principal::Typed(BTreeMap::from([(
                PrincipalKind::Aws,
                SortedSet::from(["arn:aws:iam::999988887777:root".to_owned()]),
            )])),
        },
        action: canonical_policies::Clause {
            negated: false,
            values: SortedSet::from([CiString::new("s3:GetObject")]),
        },
        resource: canonical_policies::Clause { negated: false, values: SortedSet::from(["*".to_owned()]) },
        condition: BTreeMap::new(),
    }
}

/// Applies `m` to statement `i` (mod the statement count). Returns `None` when the mutation does not
/// apply to that statement (e.g. removing the only action).
fn mutate(p: &Policy, m: Mutation, i: usize) -> Option<Policy> {
    let mut p = p.clone();
    let n = p.statements.len();
    let s = p.statements.get_mut(i % n)?;
    match m {
        Mutation::FlipEffect => {
            s.effect = if s.effect == Effect::Allow { Effect::Deny } else { Effect::Allow }
        }
        Mutation::ChangeSid => s.sid = Some(format!("{}Mutated", s.sid.clone().unwrap_or_default())),
        Mutation::RemoveSid => s.sid.take().map(|_| ())?,
        Mutation::ChangeVersion => {
            p.version = match p.version {
                Some(Version::V2012_10_17) => Some(Version::V2008_10_17),
                Some(Version::V2008_10_17) => None,
                None => Some(Version::V2012_10_17),
            }
        }
        Mutation::AddStatement => p.statements.push(fresh_statement()),
        Mutation::RemoveStatement => {
            if n < 2 {
                return None;
            }
            p.statements.remove(i % n);
        }
        Mutation::AddPrincipal => match &mut s.principal.values {
            Principal::Typed(map) => {
                map.entry(PrincipalKind::Aws)
                    .or_default()
                    .insert("arn:aws:iam::999988887777:role/Intruder".to_owned());
            }
            Principal::Anyone => return None,
        },
        Mutation::SwapNotPrincipal => s.principal.negated = !s.principal.negated,
        Mutation::StarVsAwsStar => {
            s.principal.values = match &s.principal.values {
                Principal::Anyone => Principal::Typed(BTreeMap::from([(
                    PrincipalKind::Aws,
                    SortedSet::from(["*".to_owned()]),
                )])),
                Principal::Typed(map)
                    if map.len() == 1
                        && map.get(&PrincipalKind::Aws).is_some_and(|v| v.len() == 1 && v.contains("*")) =>
                {
                    Principal::Anyone
                }
                Principal::Typed(_) => return None,
            }
        }
        Mutation::AddAction => {
            s.action.values.insert(CiString::new("s3:FreshAction"));
        }
        Mutation::RemoveAction => {
            if s.action.values.len() < 2 {
                return None;
            }
            let first = s.action.values.iter().next()?.clone();
            s.action.values.remove(&first);
        }
        Mutation::SwapNotAction => s.action.negated = !s.action.negated,
        Mutation::ChangeResource => {
            let first = s.resource.values.iter().next()?.clone();
            s.resource.values.remove(&first);
            s.resource.values.insert("arn:aws:s3:::changed-bucket/*".to_owned());
        }
        Mutation::SwapNotResource => s.resource.negated = !s.resource.negated,
        Mutation::AddConditionKey => {
            s.condition
                .entry("StringEquals".to_owned())
                .or_default()
                .insert(CiString::new("aws:FreshKey"), SortedSet::from(["v".to_owned()]));
        }
        Mutation::ChangeConditionValue => {
            let (_, keys) = s.condition.iter_mut().next()?;
            let (_, values) = keys.iter_mut().next()?;
            let first = values.iter().next()?.clone();
            values.remove(&first);
            values.insert(format!("{first}x"));
        }
        Mutation::ChangeConditionOperator => {
            let op = s.condition.keys().next()?.clone();
            let block = s.condition.remove(&op)?;
            let new_op = if op == "StringLike" { "StringNotLike" } else { "StringLike" };
            if s.condition.contains_key(new_op) {
                return None;
            }
            s.condition.insert(new_op.to_owned(), block);
        }
        Mutation::RemoveCondition => {
            if s.condition.is_empty() {
                return None;
            }
            s.condition.clear();
        }
        Mutation::AddId => {
            if p.id.is_some() {
                return None;
            }
            p.id = Some("NewId".to_owned());
        }
    }
    // A mutation that makes a policy IAM refuses (NotPrincipal with Allow) does not apply.
    p.statements.iter().all(|s| !(s.principal.negated && s.effect == Effect::Allow)).then_some(p)
}

// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn canonical_form_is_idempotent(p in gen_policy(), seed in any::<u64>()) {
        let text = to_text(&to_json(&p), &mut Rng(seed));
        let c = parse(&text).canonical_json();
        prop_assert_eq!(parse(&c).canonical_json(), c);
    }

    #[test]
    fn hash_is_invariant_under_aws_rewrites(p in gen_policy(), seed in any::<u64>()) {
        let plain = to_json(&p);
        let mut rng = Rng(seed);
        let rewritten = to_text(&aws_rewrite(&plain, &mut rng), &mut rng);
        let original = parse(&to_text(&plain, &mut Rng(seed ^ 1)));
        let after = parse(&rewritten);
        prop_assert_eq!(after.hash(), original.hash(), "{}\nvs\n{}", original.canonical_json(), rewritten);
    }

    #[test]
    fn hash_is_sensitive_to_semantic_mutations(p in gen_policy(), m in 0..MUTATIONS.len(), i in 0..8usize) {
        let original = parse(&to_text(&to_json(&p), &mut Rng(0)));
        if let Some(mutated) = mutate(&original, MUTATIONS[m], i) {
            prop_assert_ne!(mutated.hash(), original.hash(), "{:?} left the hash unchanged", MUTATIONS[m]);
            // The canonical text of the mutated model parses back to the same hash.
            prop_assert_eq!(parse(&mutated.canonical_json()).hash(), mutated.hash());
        }
    }
}

/// Every mutation, on every statement of both templates, changes the hash and is drift.
#[test]
fn every_mutation_of_a_template_is_drift() {
    let bucket = example_bucket();
    let now = at("2026-11-24T12:00:00Z");
    let open = open_for(&bucket, "arn:aws:iam::111122223333:role/investigations/LogInvestigator");
    let mut applied = 0;
    for template in [bucket.closed_policy().clone(), open] {
        let original = classify_policy(&bucket, &template, now);
        assert!(!matches!(original.state, State::Drift(_)));
        for m in MUTATIONS {
            for i in 0..template.statements.len() {
                let Some(mutated) = mutate(&template, m, i) else {
                    continue;
                };
                applied += 1;
                assert_ne!(mutated.hash(), template.hash(), "{m:?} on statement {i}");
                // Through text, as the enforcer would see it on the bucket.
                let seen = parse(&mutated.to_pretty_json());
                let c = classify_policy(&bucket, &seen, now);
                assert!(matches!(c.state, State::Drift(_)), "{m:?} on statement {i} classified as {c}");
            }
        }
    }
    assert!(applied > 150, "only {applied} mutations applied");
}

/// The rewrite helper itself must produce every rewrite it claims, or the invariance test is hollow.
#[test]
fn rewrite_helper_covers_every_rewrite() {
    let doc = to_json(&GenPolicy {
        version: Some("2012-10-17"),
        id: None,
        statements: vec![GenStatement {
            sid: None,
            allow: true,
            principal: GenPrincipal::Typed(vec![(
                "AWS",
                vec!["111122223333", "arn:aws:iam::444455556666:root"],
            )]),
            not_principal: false,
            actions: vec!["s3:GetObject"],
            not_action: false,
            resources: vec!["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            not_resource: false,
            condition: BTreeMap::from([
                ("Bool", BTreeMap::from([("aws:SecureTransport", vec!["true"])])),
                ("NumericLessThan", BTreeMap::from([("s3:max-keys", vec!["42"])])),
            ]),
        }],
    });
    let mut seen = BTreeSet::new();
    for seed in 0..400 {
        let mut rng = Rng(seed);
        let text = to_text(&aws_rewrite(&doc, &mut rng), &mut rng);
        for (what, needle) in [
            ("statement object", "\"Statement\"".to_owned()),
            ("empty sid", "\"Sid\"".to_owned()),
            ("bare account", "\"111122223333\"".to_owned()),
            ("root arn", "arn:aws:iam::444455556666:root".to_owned()),
            ("json bool", "true".to_owned()),
            ("json number", "42".to_owned()),
        ] {
            if text.contains(&needle) {
                seen.insert(what);
            }
        }
        if !text.contains("s3:GetObject") && text.to_lowercase().contains("s3:getobject") {
            seen.insert("action case");
        }
        if text.contains("\"Statement\":{")
            || text.split_whitespace().collect::<String>().contains("\"Statement\":{")
        {
            seen.insert("lone statement object");
        }
        if text.contains('\n') {
            seen.insert("whitespace");
        }
        assert_eq!(parse(&text).hash(), parse(&to_text(&doc, &mut Rng(0))).hash(), "{text}");
    }
    for what in ["empty sid", "bare account", "action case", "lone statement object", "whitespace"] {
        assert!(seen.contains(what), "rewrite helper never produced: {what}");
    }
}
