//! create/start/run/kill/pause/resume/state/delete from outside.

use crate::framework::*;
use crate::scenarios;

scenarios! {
    /// The container's exit status and output reach `run`'s caller.
    run_exit_status: Scenario::new(&["sh", "-c", "echo out; echo err >&2; exit 7"]).step(run(&[]));
    /// The inside view of the default (`runc spec`) container.
    run_probe_default: Scenario::probe().step(run(&[]).probe());
    /// The life cycle seen through `state`.
    create_start_state_delete: Scenario::new(&["sh", "-c", "echo started"]).steps([
        create(&[]).into(), state().into(), start().into(), wait_stopped(), state().into(),
        delete(&[]).into(), state().into(),
    ]);
}
