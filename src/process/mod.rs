//! Processes: launching the staged init, releasing it on `start`, signals
//! and waiting.

pub mod attrs;
pub mod exec;
mod init;
pub mod launch;
pub mod seccomp_notify;
pub mod signals;
pub mod start;
pub mod supervise;
pub mod sync;

pub use launch::{LaunchOptions, Launched, launch};
