//! Every AWS size limit that still applies, for each example config, as it would be deployed: the
//! single-account stack with the example's compact config (`breakglass config compact`) in its
//! `BreakglassConfig` parameter, and the organisation's rendered SCP and RCP. Each failure says
//! which limit and what to do. (The organisation stacks' environments and event patterns:
//! `organisation_templates.rs`; the read trail's selectors: `template.rs`.)

use proofs::cfn::Template;
use proofs::root;
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-central-1";
/// CloudFormation: one parameter value.
const PARAMETER: usize = 4096;
/// Lambda: all environment variables of a function, keys and values.
const ENVIRONMENT: usize = 4096;
/// EventBridge: an event pattern (adjustable to 4,096 on request).
const EVENT_PATTERN: usize = 2048;
/// IAM: all inline policies of one role together, whitespace not counted.
const ROLE_POLICIES: usize = 10_240;
/// IAM: a role's trust policy (adjustable to 4,096).
const TRUST_POLICY: usize = 2048;

fn example(name: &str) -> String {
    std::fs::read_to_string(root().join("examples").join(name)).unwrap()
}

/// template.yaml as deployed with the single-account example: its compact config as the parameter.
fn single_account() -> (Template, String) {
    let text = example("breakglass.toml");
    let compact = breakglass_config::compact(&text).unwrap();
    let t = proofs::single_account_stack(
        ACCOUNT,
        REGION,
        &[
            ("BreakglassConfig", json!(compact)),
            ("StakeholderEmail", json!("works-council-logging@example.com")),
            ("SecurityEmail", json!("security-operations-center@example.com")),
        ],
    );
    (t, compact)
}

/// Characters as IAM counts them: the JSON without whitespace.
fn minified(v: &Value) -> usize {
    v.to_string().chars().count()
}

#[test]
fn the_single_account_example_fits_every_aws_limit_as_deployed() {
    let (t, compact) = single_account();
    let size = compact.len();
    eprintln!("BreakglassConfig parameter: {size} bytes (compact)");
    assert!(
        size <= PARAMETER,
        "BreakglassConfig: the compact example config is {size} bytes, over CloudFormation's {PARAMETER}-byte parameter limit: shorten the config, or deploy in organisation mode (the config is an S3 object)"
    );
    let mut checked = 0;
    for (logical, r) in t.resources().as_mapping().unwrap() {
        let logical = logical.as_str().unwrap();
        if !t.exists(logical) {
            continue;
        }
        let p = &r["Properties"];
        match r["Type"].as_str().unwrap_or_default() {
            "AWS::Serverless::Function" => {
                let vars = t.resolve(&p["Environment"]["Variables"]);
                let size: usize = vars
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| k.len() + v.as_str().map_or_else(|| v.to_string().len(), str::len))
                    .sum();
                eprintln!("{logical}: environment {size} bytes");
                assert!(size <= ENVIRONMENT, "{logical}: environment of {size} bytes is over Lambda's 4 KB: shorten the config (`breakglass config compact`) or deploy in organisation mode");
                checked += 1;
            }
            "AWS::Events::Rule" if !p["EventPattern"].is_null() => {
                let size = minified(&t.resolve(&p["EventPattern"]));
                eprintln!("{logical}: event pattern {size} characters");
                assert!(size <= EVENT_PATTERN, "{logical}: event pattern of {size} characters is over EventBridge's {EVENT_PATTERN}: fewer buckets per stack, or organisation mode (patterns by prefix)");
                checked += 1;
            }
            "AWS::IAM::Role" => {
                let policies: usize = p["Policies"]
                    .as_sequence()
                    .map(|ps| ps.iter().map(|x| minified(&t.resolve(&x["PolicyDocument"]))).sum())
                    .unwrap_or(0);
                let trust = minified(&t.resolve(&p["AssumeRolePolicyDocument"]));
                eprintln!("{logical}: inline policies {policies} characters, trust {trust}");
                assert!(policies <= ROLE_POLICIES, "{logical}: inline policies of {policies} characters are over IAM's {ROLE_POLICIES}: fewer buckets per stack, or organisation mode (the member role names a prefix)");
                assert!(trust <= TRUST_POLICY, "{logical}: trust policy of {trust} characters is over IAM's {TRUST_POLICY}: fewer operator principals");
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 12, "the functions, rules and roles were found ({checked})");
    for scp in ["deny-breakglass-tampering.json", "deny-breakglass-bypass.json"] {
        let text = std::fs::read_to_string(root().join("canonical-policies/scp").join(scp)).unwrap();
        let size = minified(&serde_json::from_str::<Value>(&text).unwrap());
        eprintln!("{scp}: {size} characters as uploaded");
        assert!(
            size <= breakglass_core::organisation::SCP_LIMIT,
            "{scp}: {size} characters as uploaded, over the SCP limit of 5,120: split it into two SCPs"
        );
    }
}

#[test]
fn the_organisation_example_fits_every_aws_limit_as_rendered() {
    let text = example("organisation.toml");
    let config = breakglass_config::Config::from_toml(&text).unwrap();
    // Refused with the limit named when over it (organisation::render).
    let rendered = breakglass_core::organisation::render(&config).unwrap();
    eprintln!("SCP {} characters, RCP {} characters", rendered.scp.len(), rendered.rcp.len());
    let compact = breakglass_config::compact(&text).unwrap();
    eprintln!(
        "organisation config object: {} bytes compact, {} as written (no size limit: an S3 object)",
        compact.len(),
        text.len()
    );
}
