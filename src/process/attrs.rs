//! Per-process attributes of `process` and `linux` applied by the init:
//! rlimits, oom_score_adj, personality, I/O priority, scheduler, memory
//! policy, CPU affinity, and the user (uid, gid, groups).

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy,
    PosixRlimitType, Process, Spec,
};
use std::path::Path;

fn rlimit_resource(t: PosixRlimitType) -> libc::__rlimit_resource_t {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

pub fn set_rlimits(p: &Process) -> Result<()> {
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: setrlimit reads one rlimit struct.
        if unsafe { libc::setrlimit(rlimit_resource(r.typ()), &lim) } != 0 {
            let e = std::io::Error::last_os_error();
            let hint = if e.raw_os_error() == Some(libc::EPERM) {
                " (raising a hard limit needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            return Err(e).ctx(|| {
                format!(
                    "process.rlimits[{i}]: setrlimit {} soft {} hard {}{hint}",
                    r.typ(),
                    r.soft(),
                    r.hard()
                )
            });
        }
    }
    Ok(())
}

pub fn set_oom_score_adj(p: &Process) -> Result<()> {
    if let Some(adj) = p.oom_score_adj() {
        // Through the verified procfs handle, like the LSM labels: a file
        // planted over /proc/self/oom_score_adj must not swallow the write.
        crate::procfs::Procfs::open()
            .and_then(|proc| proc.write_self("oom_score_adj", adj.to_string().as_bytes()))
            .map_err(|e| e.wrap(format!("process.oomScoreAdj {adj}")))?;
    }
    Ok(())
}

pub fn set_personality(spec: &Spec) -> Result<()> {
    let Some(pers) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) else {
        return Ok(());
    };
    let domain = match pers.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    // SAFETY: personality takes a plain integer.
    if unsafe { libc::personality(domain) } == -1 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "linux.personality: personality(2)".into());
    }
    Ok(())
}

pub fn set_io_priority(p: &Process) -> Result<()> {
    let Some(io) = p.io_priority() else {
        return Ok(());
    };
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&io.priority()) {
        return Err(Error::msg(format!(
            "process.ioPriority.priority: {} is out of range 0..7",
            io.priority()
        )));
    }
    let value = (class << 13) | io.priority();
    // SAFETY: ioprio_set with integer arguments (IOPRIO_WHO_PROCESS, self).
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "process.ioPriority: ioprio_set".into());
    }
    Ok(())
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

pub fn set_scheduler(p: &Process) -> Result<()> {
    let Some(s) = p.scheduler() else {
        return Ok(());
    };
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    // SAFETY: sched_setattr reads one sched_attr of the given size.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "process.scheduler: sched_setattr".into());
    }
    Ok(())
}

/// Parses a cpu list like "0-3,6" into a CpuSet.
pub fn parse_cpu_list(s: &str, field: &str) -> Result<nix::sched::CpuSet> {
    let mut set = nix::sched::CpuSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || Error::msg(format!("{field}: invalid cpu list {s:?}"));
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.parse::<usize>().map_err(|_| bad())?,
                b.parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let v = part.parse::<usize>().map_err(|_| bad())?;
                (v, v)
            }
        };
        for cpu in lo..=hi {
            set.set(cpu).map_err(|_| bad())?;
        }
    }
    Ok(set)
}

pub fn set_cpu_affinity(list: Option<&String>, field: &str, pid: i32) -> Result<()> {
    let Some(list) = list else { return Ok(()) };
    let set = parse_cpu_list(list, field)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(pid), &set)
        .ctx(|| format!("{field}: sched_setaffinity {list:?}"))
}

/// Lets the process run on every CPU its cgroup's cpuset allows: it must
/// not keep the affinity of whatever started hull (a shim or kubelet
/// pinned to a few CPUs). The kernel narrows the full mask to the cpuset.
pub fn reset_cpu_affinity() -> Result<()> {
    let mut all = nix::sched::CpuSet::new();
    for cpu in 0..nix::sched::CpuSet::count() {
        all.set(cpu).ctx(|| "reset CPU affinity".into())?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &all)
        .ctx(|| "reset CPU affinity: sched_setaffinity (all CPUs)".into())
}

pub fn set_memory_policy(spec: &Spec) -> Result<()> {
    use oci_spec::runtime::{MemoryPolicyFlagType, MemoryPolicyModeType};
    let Some(mp) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.memory_policy().as_ref())
    else {
        return Ok(());
    };
    let mut mode: i32 = match mp.mode() {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    };
    for f in mp.flags().iter().flatten() {
        mode |= match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        };
    }
    let mut mask = [0u64; 16];
    let mut maxnode = 0u64;
    if let Some(nodes) = mp.nodes().as_ref().filter(|n| !n.is_empty()) {
        let set = parse_cpu_list(nodes, "linux.memoryPolicy.nodes")?;
        for n in 0..1024 {
            if set.is_set(n).unwrap_or(false) {
                mask[n / 64] |= 1 << (n % 64);
            }
        }
        maxnode = 1024;
    }
    // No nodes: a null mask. The kernel reads maxnode - 1 bits, so a
    // maxnode of 0 with a mask is EINVAL (it wraps around).
    let mask_ptr = if maxnode == 0 {
        std::ptr::null()
    } else {
        mask.as_ptr()
    };
    // SAFETY: set_mempolicy reads `maxnode` bits from mask, which holds 1024.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, mask_ptr, maxnode) };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "linux.memoryPolicy: set_mempolicy".into());
    }
    Ok(())
}

/// setgroups, setresgid, setresuid: the caller keeps its capabilities
/// across the change (PR_SET_KEEPCAPS) and sets them right after.
pub fn set_user(p: &Process, in_userns: bool) -> Result<()> {
    let u = p.user();
    let gids: Vec<nix::unistd::Gid> = u
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    // setgroups is denied in a user namespace whose gid_map was written
    // with setgroups=deny; only call it when there is something to set.
    let setgroups_allowed = !in_userns
        || crate::procfs::Procfs::open()
            .and_then(|proc| proc.read_self("setgroups"))
            .map(|s| s.trim_ascii() == b"allow")
            .unwrap_or(true);
    if setgroups_allowed {
        nix::unistd::setgroups(&gids).ctx(|| {
            format!(
                "process.user.additionalGids: setgroups {:?}",
                u.additional_gids()
            )
        })?;
    } else if !gids.is_empty() {
        return Err(Error::msg(
            "process.user.additionalGids: setgroups is denied in this user namespace",
        ));
    }
    let gid = nix::unistd::Gid::from_raw(u.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .ctx(|| format!("process.user.gid: setresgid {}", u.gid()))?;
    let uid = nix::unistd::Uid::from_raw(u.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .ctx(|| format!("process.user.uid: setresuid {}", u.uid()))?;
    Ok(())
}

/// Finds the executable for args[0] along the container's PATH, like execvp.
pub fn find_executable(arg0: &str, env: &[String]) -> Result<std::ffi::CString> {
    use std::os::unix::fs::PermissionsExt;
    let check = |p: &std::path::Path| -> std::result::Result<(), String> {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => Err("is a directory".into()),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                Err("permission denied: not executable".into())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    };
    let to_c = |s: &str| {
        std::ffi::CString::new(s)
            .map_err(|_| Error::msg(format!("process.args[0]: {s:?} holds a NUL byte")))
    };
    if arg0.contains('/') {
        check(std::path::Path::new(arg0))
            .map_err(|e| Error::msg(format!("process.args[0]: exec {arg0:?}: {e}")))?;
        return to_c(arg0);
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = std::path::Path::new(dir).join(arg0);
        if check(&cand).is_ok() {
            return to_c(&cand.to_string_lossy());
        }
    }
    Err(Error::msg(format!(
        "process.args[0]: exec {arg0:?}: executable file not found in $PATH ({path})"
    )))
}

/// Everything about the process itself, in the order the kernel needs:
/// scheduling and limits while still privileged, the LSM exec labels, then
/// the bounding set,
/// the uid/gid change with caps kept, the final capability sets, umask
/// and working directory.
pub fn apply_process(
    process: &Process,
    spec: &Spec,
    in_userns: bool,
    before_user: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    use crate::security::capabilities;
    set_oom_score_adj(process)?;
    set_rlimits(process)?;
    set_personality(spec)?;
    set_io_priority(process)?;
    set_scheduler(process)?;
    match process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.cpu_affinity_final().as_ref())
    {
        Some(list) => set_cpu_affinity(Some(list), "process.execCPUAffinity.final", 0)?,
        None => reset_cpu_affinity()?,
    }
    // AppArmor / SELinux labels for the execve, while the process is
    // still privileged and before seccomp (which may refuse openat2).
    crate::security::lsm::set_exec_labels(process)?;
    // chdir while hull is still privileged, as runc does: a cwd only the
    // runtime can enter (0700, another owner) works. It also runs before
    // seccomp, which may block getcwd. Tried again as the user if it failed.
    let cwd = process.cwd();
    let entered = enter_cwd(cwd, false);
    let caps = capabilities::CapSets::from_spec(process.capabilities().as_ref())?;
    capabilities::drop_bounding(caps.bounding)?;
    capabilities::set_keep_caps(true)?;
    before_user()?;
    set_user(process, in_userns)?;
    capabilities::set_keep_caps(false)?;
    capabilities::apply_sets(&caps)?;
    crate::logging::debug(format!(
        "user {}:{} set; capabilities bounding={:#x} effective={:#x} permitted={:#x} inheritable={:#x} ambient={:#x}",
        process.user().uid(),
        process.user().gid(),
        caps.bounding,
        caps.effective,
        caps.permitted,
        caps.inheritable,
        caps.ambient
    ));
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    if let Err(e) = entered {
        crate::logging::debug(format!("{e}; trying again as the process's user"));
        enter_cwd(cwd, true)?;
    }
    Ok(())
}

/// chdir to `cwd`, then checks that it lies inside the root: a cwd reached
/// through a leaked descriptor (/proc/self/fd/N) would not, and the kernel
/// reports it unreachable (CVE-2024-21626). `filtered`: linux.seccomp may
/// be in force and refuse getcwd; only "unreachable" is then an error.
fn enter_cwd(cwd: &Path, filtered: bool) -> Result<()> {
    nix::unistd::chdir(cwd).ctx(|| format!("process.cwd: chdir {}", cwd.display()))?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        Err(e) if filtered && e != nix::errno::Errno::ENOENT => {
            crate::logging::debug(format!(
                "process.cwd: getcwd refused ({e}), presumably by linux.seccomp"
            ));
            Ok(())
        }
        _ => Err(Error::msg(format!(
            "process.cwd: {} is outside the container's root",
            cwd.display()
        ))),
    }
}

/// Makes the process non-dumpable while it still runs hull's image inside
/// the container, so no container process can open /proc/<pid>/exe (the
/// host's hull binary) or ptrace it (CVE-2019-5736). execve resets it.
pub fn set_non_dumpable() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Makes the process dumpable (see the init's set-up in a user namespace).
pub fn set_dumpable() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
}

pub fn to_cstrings(v: &[String], field: &str) -> Result<Vec<std::ffi::CString>> {
    v.iter()
        .enumerate()
        .map(|(i, s)| {
            std::ffi::CString::new(s.as_str())
                .map_err(|_| Error::msg(format!("{field}[{i}]: holds a NUL byte")))
        })
        .collect()
}

/// Keeps the passed descriptors (3 up to 3 + `inherited`) open across
/// exec, after `close_on_exec_from_3` marked them all close-on-exec.
pub fn pass_fds(inherited: i32) {
    for fd in 3..3 + inherited {
        // SAFETY: clearing FD_CLOEXEC on a descriptor number only changes flags.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
}

/// Marks every descriptor from 3 up close-on-exec, so that neither the
/// program nor a startContainer hook inherits one of hull's (`pass_fds`
/// later clears the flag on the inherited ones). Done before the seccomp
/// filter goes in: a profile may refuse close_range, which (as a syscall
/// newer than the profile) can also get ENOSYS.
pub fn close_on_exec_from_3() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes flags.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
}
