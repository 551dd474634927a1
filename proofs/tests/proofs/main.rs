//! The template and policy proofs, one test binary: template.yaml, organisation/member.yaml and the
//! rendered SCP/RCP through the project's evaluator, and every AWS size limit. No moto: what these
//! templates *deny* is proven here, what is detected on moto is in tests/tests/e2e/.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod deployment;
mod docs;
mod gate;
mod limits;
mod organisation_templates;
mod paths;
mod release;
mod template;
