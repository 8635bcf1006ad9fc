//! `hull resume`: thaw a paused container.

use super::pause::PauseArgs;
use crate::container::control;
use crate::error::Result;
use std::path::Path;

/// Takes the same arguments as `pause`.
pub type ResumeArgs = PauseArgs;

pub fn run(root: &Path, a: ResumeArgs) -> Result<i32> {
    control::set_paused(root, &a.id, false).map(|_| 0)
}
