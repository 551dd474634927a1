//! IAM in the tests (issue 23): moto grants every call, AWS does not. The IAM proxy sits in front
//! of moto and authorises each request a breakglass role signs, as AWS would: the role's identity
//! policy as template.yaml (and, in organisation mode, member.yaml and deployment-role.yaml)
//! renders it, the role trusts, the live bucket policy from moto, and the SCPs (organisation mode:
//! also the rendered SCP and RCP), across accounts requiring both sides' allow, all through the
//! project's own evaluator. A request AWS would refuse gets the service's own
//! `AccessDenied` answer and is listed, so a test fails on a grant the template lacks; the
//! (action, resource) pairs each role used are kept, so least privilege can be measured.
//!
//! Requests signed with a key the proxy did not hand out (the test's own set-up, moto's default
//! `testing` key) pass unchecked: they are the test playing AWS, not breakglass.
//!
//! In three files: the table of the project's AWS calls and how a request maps to IAM's question
//! ([`calls`]), what the deployment allows ([`deployment`]), and the proxy itself ([`proxy`]).

mod calls;
mod deployment;
mod proxy;

pub use calls::{call_of, calls_of, Call, CALLS};
pub use deployment::Deployment;
pub(crate) use proxy::{ask_moto, UrlCheck};
pub use proxy::{used_dir, IamProxy};
