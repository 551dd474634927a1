//! policy + request → decision: no input may panic, and the answer must not depend on statement
//! order (AWS evaluates statements as a set: deny wins, then allow, whatever their order).
#![no_main]

use canonical_policies::{explain, Caller, Request, Policy};
use libfuzzer_sys::fuzz_target;

/// Callers the fuzzer can pick by a byte when its own text is no principal.
const CALLERS: [&str; 6] = [
    "anonymous",
    "cloudtrail.amazonaws.com",
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::111122223333:user/path/alice",
    "arn:aws:iam::111122223333:role/path/Reader",
    "arn:aws:sts::111122223333:assumed-role/Reader/alice",
];

// Input: policy bytes, a NUL, then lines: caller, action, resource, then `key=value` context lines.
fuzz_target!(|data: &[u8]| {
    let (policy, request) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(policy) = Policy::parse(policy) else { return };
    let text = String::from_utf8_lossy(request);
    let mut lines = text.lines();
    let who = lines.next().unwrap_or("");
    let caller = Caller::parse(who)
        .unwrap_or_else(|_| Caller::parse(CALLERS[who.len() % CALLERS.len()]).expect("listed callers parse"));
    let action = lines.next().unwrap_or("s3:GetObject");
    let resource = lines.next().unwrap_or("arn:aws:s3:::bucket/key");
    let time = time::OffsetDateTime::from_unix_timestamp(1_795_521_600).expect("a valid time");
    let mut req = Request::new(caller, action, resource, time);
    for kv in lines {
        if let Some((k, v)) = kv.split_once('=') {
            req = req.with(k, v);
        }
    }
    let forward = explain(&policy, &req);
    let mut reversed = policy.clone();
    reversed.statements.reverse();
    let backward = explain(&reversed, &req);
    assert_eq!(forward.decision, backward.decision, "statement order changed the decision");
    let _ = forward.decision.to_string();
});
