//! The gate's request parser: a function-URL event (the caller from IAM, the body typed) from
//! anything. No input may panic; every refusal is one line of bounded length; every operation it
//! takes serialises back to itself (the CLI writes it with the same type).
#![no_main]

use breakglass_core::access::gate::{caller, parse_op, GateError, MAX_ERROR};
use breakglass_core::inbound::function_url;
use libfuzzer_sys::fuzz_target;

fn one_bounded_line(e: &GateError) {
    let line = breakglass_core::access::gate::one_line(&e.to_string());
    assert!(!line.chars().any(char::is_control), "{line:?}");
    assert!(line.chars().count() <= MAX_ERROR + 1, "{} characters", line.chars().count());
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // As a body.
    match parse_op(text) {
        Ok(op) => {
            let back = serde_json::to_string(&op).expect("an operation serialises");
            assert_eq!(parse_op(&back).expect("what the CLI writes, the gate reads"), op);
        }
        Err(e) => one_bounded_line(&e),
    }
    // As a caller's ARN.
    let roles = ["breakglass-operator".to_owned()];
    if let Err(e) = caller(text, &roles) {
        one_bounded_line(&e);
    }
    // As a whole event.
    if let Ok(raw) = serde_json::from_str::<serde_json::Value>(text) {
        if let Ok(call) = function_url::parse(&raw) {
            let _ = caller(&call.caller, &roles);
            let _ = parse_op(&call.body);
        }
    }
});
