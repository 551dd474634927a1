//! The gate Lambda: every human action through its function URL, the caller learned from IAM. What
//! it does and which settings it reads: [`breakglass_aws::wiring::GateFunction`].

use breakglass_aws::wiring::{serve, BoxError, GateFunction};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    serve::<GateFunction>().await
}
