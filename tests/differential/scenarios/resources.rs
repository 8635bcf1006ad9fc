//! cgroup resources: the files written, the values engines send to mean
//! "unset", limits too small to start, and `update`.

use crate::framework::*;
use crate::scenarios;
use serde_json::{Value, json};

const FILES: &[&str] = &[
    "memory.limit_in_bytes",
    "memory.soft_limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "memory.swappiness",
    "memory.kmem.limit_in_bytes",
    "cpu.shares",
    "cpu.cfs_quota_us",
    "cpu.cfs_period_us",
    "cpu.rt_runtime_us",
    "cpu.rt_period_us",
    "cpuset.cpus",
    "cpuset.mems",
    "pids.max",
    "blkio.weight",
    "blkio.bfq.weight",
];

/// A sleeping container created with `resources` merged into
/// linux.resources; records create's status and the cgroup files.
fn with_resources(r: Value) -> Scenario {
    Scenario::new(&["sleep", "1000"])
        .resources(r)
        .steps([create(&[]).into(), cgroup(FILES)])
}

scenarios! {
    resources_set: with_resources(json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swappiness": 10},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 100}}));
    resources_memory_swap: with_resources(json!({"memory": {"limit": 67108864, "swap": 134217728}}));
    resources_unlimited_minus_one: with_resources(json!({
        "memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1}}));
    /// What Docker writes on every container: blockIO.weight 0.
    zero_blkio_weight: with_resources(json!({"blockIO": {"weight": 0}}));
    zero_blkio_leaf_weight: with_resources(json!({"blockIO": {"leafWeight": 0}}));
    zero_cpu_shares: with_resources(json!({"cpu": {"shares": 0}}));
    zero_cpu_quota: with_resources(json!({"cpu": {"quota": 0}}));
    zero_cpu_period: with_resources(json!({"cpu": {"period": 0}}));
    zero_cpu_realtime: with_resources(json!({"cpu": {"realtimeRuntime": 0, "realtimePeriod": 0}}));
    zero_cpuset_empty: with_resources(json!({"cpu": {"cpus": "", "mems": ""}}));
    zero_pids_limit: with_resources(json!({"pids": {"limit": 0}}));
    zero_memory_limit: with_resources(json!({"memory": {"limit": 0}}));
    zero_memory_reservation_swap: with_resources(json!({"memory": {"reservation": 0, "swap": 0}}));
    zero_memory_swappiness: with_resources(json!({"memory": {"swappiness": 0}}));
    /// Docker's full set of zero values on one container.
    zero_values_docker_sends: with_resources(json!({
        "blockIO": {"weight": 0},
        "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "", "mems": ""},
        "pids": {"limit": 0},
        "memory": {"limit": 0, "reservation": 0, "swap": 0}}));
    memory_swappiness_too_big: with_resources(json!({"memory": {"swappiness": 101}}));
    /// A limit too small for the init to start.
    memory_limit_too_small: Scenario::new(&["true"]).resources(json!({"memory": {"limit": 4096}}))
        .steps([create(&[]).into(), state().into()]);
    memory_kernel_ignored: with_resources(json!({"memory": {"kernel": 67108864, "kernelTCP": 67108864}}));
    devices_cgroup: Scenario::new(&["sleep", "1000"]).steps([create(&[]).into(), cgroup(&["devices.list"])]);
    /// Without cgroupsPath: where each runtime puts the container.
    cgroups_path_unset: Scenario::new(&["sleep", "1000"]).unset("/linux/cgroupsPath")
        .without_ns("cgroup")
        .steps([create(&[]).into(), start().into(), exec(&["cat", "/proc/self/cgroup"]).into()]);
    update_memory_pids_cpu: Scenario::new(&["sleep", "1000"]).steps([
        create(&[]).into(), start().into(),
        update(&["--memory", "134217728", "--pids-limit", "50", "--cpu-share", "256", "--cpu-quota", "20000"]).into(),
        cgroup(FILES)]);
    update_resources_file: Scenario::new(&["sleep", "1000"]).steps([
        create(&[]).into(), start().into(),
        write("{work}/r.json", r#"{"memory": {"limit": 100663296}, "pids": {"limit": 42}, "blockIO": {"weight": 0}}"#),
        update(&["-r", "{work}/r.json"]).into(), cgroup(FILES)]);
    update_resources_stdin: Scenario::new(&["sleep", "1000"]).steps([
        create(&[]).into(), start().into(),
        update(&["-r", "-"]).stdin(r#"{"pids": {"limit": 77}}"#).into(), cgroup(&["pids.max"])]);
    update_stopped: Scenario::new(&["true"]).steps([
        create(&[]).into(), start().into(), wait_stopped(), update(&["--pids-limit", "5"]).into()]);
    update_paused: Scenario::new(&["sleep", "1000"]).steps([
        create(&[]).into(), start().into(), pause().into(), update(&["--pids-limit", "9"]).into(),
        cgroup(&["pids.max", "freezer.state"]), resume().into()]);
}
