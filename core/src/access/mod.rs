//! Opening and closing on request: the checked open and close ([`operate`]), the two-person rule
//! ([`approval`]), the Service Catalog product ([`catalog`]) and configuration pushes
//! ([`config_push`]), and the gate people call for all of it ([`gate`]).

pub mod approval;
pub mod catalog;
pub mod config_push;
pub mod gate;
pub mod operate;
