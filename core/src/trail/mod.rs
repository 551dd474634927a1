//! The audit trail: what is written ([`audit`]), read back as a bucket's history ([`history`]),
//! the recorder's records of object reads ([`recorder`], their shape in [`records`]) and the
//! access report of a window ([`report`]), and the tamper evidence of a listing of record versions ([`tamper`]).

pub mod audit;
pub mod history;
pub mod recorder;
pub mod records;
pub mod report;
pub mod tamper;
