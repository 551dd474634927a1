//! `make bench`: the hot path of the enforcer (parse → canonicalise → hash) and classification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::hint::black_box;

use canonical_policies::{classify, OpenGrant, Policy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use time::OffsetDateTime;

#[path = "../tests/common/mod.rs"]
mod common;

/// A pretty-printed policy of realistic statements, grown until its non-whitespace size reaches `target`.
fn policy_of_size(target: usize) -> String {
    let statement = |i: usize| {
        format!(
            r#"    {{
      "Sid": "Statement{i}",
      "Effect": "{effect}",
      "Principal": {{ "AWS": ["arn:aws:iam::1111222233{n:02}:role/reader-{i}", "2222333344{n:02}"] }},
      "Action": ["s3:GetObject", "s3:GetObjectVersion", "S3:ListBucket"],
      "Resource": ["arn:aws:s3:::acme-logs-{i}/*", "arn:aws:s3:::acme-logs-{i}"],
      "Condition": {{
        "Bool": {{ "aws:SecureTransport": true }},
        "StringEquals": {{ "aws:PrincipalOrgID": ["o-exampleorg1"] }}
      }}
    }}"#,
            effect = if i % 2 == 0 { "Allow" } else { "Deny" },
            n = i % 100
        )
    };
    let mut statements = Vec::new();
    loop {
        statements.push(statement(statements.len()));
        let text = format!(
            "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
            statements.join(",\n")
        );
        let size = text.bytes().filter(|b| !b" \n\t\r".contains(b)).count();
        if size >= target {
            if size > canonical_policies::json::MAX_POLICY_BYTES {
                statements.pop();
                return format!(
                    "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
                    statements.join(",\n")
                );
            }
            return text;
        }
    }
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_canonicalise_hash");
    for (name, target) in [("1.5KB", 1_500), ("20KB", 20_400)] {
        let text = policy_of_size(target);
        assert!(Policy::parse(text.as_bytes()).is_ok());
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, text| {
            b.iter(|| Policy::parse(black_box(text.as_bytes())).unwrap().hash())
        });
    }
    group.finish();
}

fn classification(c: &mut Criterion) {
    let bucket = &common::example_bucket();
    let now = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
    let closed = bucket.closed_policy().to_pretty_json();
    let grant = OpenGrant {
        readers: BTreeSet::from(["arn:aws:iam::111122223333:role/investigations/LogInvestigator".to_owned()]),
        expiry: now + time::Duration::hours(4),
    };
    let open = bucket.render_open(&grant, now).unwrap().to_pretty_json();
    let intruder = closed.replacen("\"Deny\"", "\"Allow\"", 1);

    let mut group = c.benchmark_group("classify");
    for (name, text) in [("closed", &closed), ("open", &open), ("drift", &intruder)] {
        group.bench_with_input(BenchmarkId::from_parameter(name), text, |b, text| {
            b.iter(|| classify(bucket, Some(black_box(text.as_bytes())), now))
        });
    }
    group.finish();
}

criterion_group!(benches, pipeline, classification);
criterion_main!(benches);
