//! `hull resume`: thaw a paused container.

use super::pause::PauseArgs;
use crate::container::lifecycle;
use crate::error::Result;
use std::path::Path;

/// Takes the same arguments as `pause`.
pub type ResumeArgs = PauseArgs;

pub fn run(root: &Path, a: ResumeArgs) -> Result<i32> {
    lifecycle::set_paused(root, &a.id, false).map(|_| 0)
}
