//! The functions' runtime: the settings read from the environment ([`Settings`]), the config in
//! force and what is built per config ([`LoadedConfig`], [`PerConfig`]), one pipeline per function
//! (the enforcer's and the notifier's; the recorder's and the catalog's are their rooms' `handle`),
//! and the notifier's mail pacing ([`Paced`]). Parse, act, answer with a JSON summary: a malformed
//! event is logged and answered (not an error), because retrying cannot fix it.

mod config;
mod enforcer;
mod malformed;
pub mod measure;
mod notifier;
mod pace;
mod recorder;
pub mod seal;
mod settings;

pub use config::{loaded_from, LoadedConfig, PerConfig};
pub use enforcer::{
    enforce_and_guard_event, enforce_event, enforcer_event, EnforcerPorts, Fanout, Guard, Pulse,
};
pub use notifier::{notify_event, notify_event_in, NotifyError};
pub use pace::{Paced, EMAIL_PER_SECOND, SNS_EMAIL_LIMIT_PER_SECOND};
pub use recorder::recorder_event;
pub use settings::{
    parse_s3_url, LogFormat, Settings, SetupError, TimeoutSettingError, Timeouts, MAX_TIMEOUT_SECONDS,
};

/// The names of the environment variables [`Settings`] reads.
pub mod env {
    pub use super::settings::{
        ALARM_TOPIC_ENV, ATTEMPT_TIMEOUT_ENV, AUDIT_BUCKET_ENV, CATALOG_PRINCIPALS_ENV, CATALOG_PRODUCTS_ENV,
        CONFIG_ENV, CONFIG_FILE_ENV, CONFIG_REFRESH_ENV, CONFIG_S3_ENV, CONNECT_TIMEOUT_ENV, DRY_RUN_ENV,
        ENDPOINT_ENV, EVENT_BUS_ENV, HEARTBEAT_DEADLINE_ENV, HEARTBEAT_PERIOD_ENV, KEY_ENV, LOG_FORMAT_ENV,
        LOG_LEVEL_ENV, OPERATION_TIMEOUT_ENV, RECHECK_DELAY_ENV, RECORD_KEY_ENV, REPORT_DELAY_ENV,
        RUST_LOG_ENV, SLOT_ENV, SUBSCRIPTIONS_ENV, SWEEP_CLOSE_DELAY_ENV, SWEEP_QUEUE_ENV, TOPIC_ENV,
    };
}
