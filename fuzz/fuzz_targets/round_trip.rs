//! parse → canonicalise → parse must be a fixed point, and no input may panic.
#![no_main]

use canonical_policies::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(policy) = Policy::parse(data) else { return };
    let canonical = policy.canonical_json();
    let again = match Policy::parse(canonical.as_bytes()) {
        Ok(p) => p,
        Err(e) => panic!("canonical form does not parse: {e}\n{canonical}"),
    };
    // Statement order is not kept by design, so compare canonical bytes, not models.
    assert_eq!(again.canonical_json(), canonical, "canonical form is not a fixed point");
    assert_eq!(again.hash(), policy.hash());
    // The pretty rendering is what gets put on a bucket: it must be the very same policy, in order.
    let pretty = policy.to_pretty_json();
    assert_eq!(Policy::parse(pretty.as_bytes()).ok().as_ref(), Some(&policy), "pretty form differs");
});
