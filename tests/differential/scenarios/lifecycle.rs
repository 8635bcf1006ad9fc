//! create/start/run/kill/pause/resume/state/list/ps/events/delete, seen
//! from outside.

use crate::framework::*;
use crate::scenarios;

/// A container whose process sleeps until killed.
fn sleeper() -> Scenario {
    Scenario::new(&["sleep", "1000"])
}

scenarios! {
    /// The container's exit status and output reach `run`'s caller.
    run_exit_status: Scenario::new(&["sh", "-c", "echo out; echo err >&2; exit 7"]).step(run(&[]));
    /// A process killed by a signal: `run` exits 128+signal.
    run_killed_by_signal: Scenario::new(&["sh", "-c", "kill -KILL $$"]).step(run(&[]));
    /// The inside view of the default (`runc spec`) container.
    run_probe_default: Scenario::probe().step(run(&[]).probe());
    /// `run -d` returns at once; the container runs until killed.
    run_detached: sleeper().steps([
        run(&["-d"]).into(), state().into(), kill(&["KILL"]).into(), wait_stopped(),
        state().into(), delete(&[]).into(),
    ]);
    /// The life cycle seen through `state`.
    create_start_state_delete: Scenario::new(&["sh", "-c", "echo started"]).steps([
        create(&[]).into(), state().into(), start().into(), wait_stopped(), state().into(),
        delete(&[]).into(), state().into(),
    ]);
    /// A created container's process writes to the descriptors `create` had.
    create_probe_detached: Scenario::probe().steps([
        create(&[]).probe().into(), start().into(), wait_stopped(), delete(&[]).into(),
    ]);
    /// The view from the host: namespaces, id maps, cgroup, oom_score_adj.
    create_outside_view: sleeper().steps([create(&[]).into(), outside()]);
    start_twice: sleeper().steps([create(&[]).into(), start().into(), start().into()]);
    start_missing: sleeper().step(start());
    create_duplicate_id: sleeper().steps([create(&[]).into(), create(&[]).into(), state().into()]);
    delete_created_without_force: sleeper().steps([create(&[]).into(), delete(&[]).into(), state().into()]);
    delete_running_without_force: sleeper().steps([
        create(&[]).into(), start().into(), delete(&[]).into(), state().into(),
    ]);
    delete_paused_without_force: sleeper().steps([
        create(&[]).into(), start().into(), pause().into(), delete(&[]).into(), state().into(),
    ]);
    delete_force_running: sleeper().steps([
        create(&[]).into(), start().into(), delete(&["--force"]).into(), state().into(),
    ]);
    delete_missing: sleeper().step(delete(&[]));
    delete_force_missing: sleeper().step(delete(&["--force"]));
    /// Signal 0 is a liveness check, for one process or all.
    kill_signal_zero: sleeper().steps([
        create(&[]).into(), start().into(), kill(&["0"]).into(), kill(&["--all", "0"]).into(),
        state().into(),
    ]);
    /// Killing a created (not started) container.
    kill_created: sleeper().steps([
        create(&[]).into(), kill(&["KILL"]).into(), wait_stopped(), state().into(),
    ]);
    /// `kill` without a signal sends SIGTERM.
    kill_default_sigterm: Scenario::new(&["sh", "-c",
        "trap 'echo TERM > /out/signal; exit 0' TERM; while :; do sleep 0.05; done"])
        .out_mount()
        .steps([create(&[]).into(), start().into(), sleep_ms(200), kill(&[]).into(), wait_stopped()]);
    /// A signal by name with and without SIG, and by number.
    kill_signal_forms: Scenario::new(&["sh", "-c",
        "n=0; trap 'n=$((n+1)); touch /out/got$n' USR1; echo ready > /out/ready; \
         while [ $n -lt 3 ]; do sleep 0.05; done"])
        .out_mount()
        .steps([
            create(&[]).into(), start().into(), wait_file("{out}/ready"),
            kill(&["USR1"]).into(), wait_file("{out}/got1"),
            kill(&["SIGUSR1"]).into(), wait_file("{out}/got2"),
            kill(&["10"]).into(), wait_file("{out}/got3"), wait_stopped(), state().into(),
        ]);
    kill_unknown_signal: sleeper().steps([
        create(&[]).into(), start().into(), kill(&["SIGBOGUS"]).into(), state().into(),
    ]);
    kill_stopped: Scenario::new(&["true"]).steps([
        create(&[]).into(), start().into(), wait_stopped(), kill(&["KILL"]).into(),
    ]);
    pause_resume: sleeper().steps([
        create(&[]).into(), start().into(), pause().into(), state().into(),
        cgroup(&["freezer.state"]), resume().into(), state().into(),
    ]);
    pause_created: sleeper().steps([create(&[]).into(), pause().into(), state().into()]);
    pause_stopped: Scenario::new(&["true"]).steps([
        create(&[]).into(), start().into(), wait_stopped(), pause().into(),
    ]);
    resume_running: sleeper().steps([create(&[]).into(), start().into(), resume().into()]);
    /// A paused container killed with SIGKILL stops once thawed.
    pause_kill_resume: sleeper().steps([
        create(&[]).into(), start().into(), pause().into(), kill(&["KILL"]).into(),
        sleep_ms(300), state().into(), resume().into(), wait_stopped(), state().into(),
    ]);
    state_missing: sleeper().step(state());
    list_json: sleeper().steps([
        create(&[]).into(), raw(&["list", "--format", "json"]).output(Output::List).into(),
    ]);
    list_table_empty: sleeper().step(raw(&["list", "-q"]));
    ps_json: sleeper().steps([
        create(&[]).into(), start().into(),
        raw(&["ps", "--format", "json", "{id}"]).output(Output::PsJson).into(),
    ]);
    events_stats: sleeper().steps([
        create(&[]).into(), start().into(),
        raw(&["events", "--stats", "{id}"]).output(Output::Events).into(),
    ]);
    version: sleeper().step(raw(&["--version"]).output(Output::Version));
    help_exit_status: sleeper().step(raw(&["--help"]).output(Output::ExitOnly));
}
