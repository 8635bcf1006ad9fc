//! Reading the kernel's text files under /proc: `/proc/PID/stat` (start
//! time, exiting flag), `/proc/PID/status` (capability masks),
//! `/proc/self/mountinfo` lines and `/proc/self/cgroup` entries. Hand-written
//! and allocation-light: `list` reads a stat file per container. A leaf:
//! it imports nothing of hull. (Writes to a process's own /proc files go
//! through the verified handle in `procfs.rs` instead.)

use std::io::Read;

/// Reads the start time (in clock ticks since boot) of a live, non-zombie process.
pub fn start_time(pid: i32) -> Option<u64> {
    // One open and (usually) one read into a stack buffer: `list` does this
    // once per container. The line is far shorter than the buffer (a
    // 16-byte comm and 52 numeric fields).
    let mut f = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut buf = [0u8; 2048];
    let mut len = 0;
    while len < buf.len() {
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    stat_start_time(&buf[..len])
}

/// The fields of a stat line from field 3 (state) on. The command name may
/// hold spaces, parens and non-UTF-8 bytes: fields start after the last ')'.
fn stat_fields(stat: &[u8]) -> Option<std::str::Split<'_, char>> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 2..)?).ok()?;
    Some(rest.split(' '))
}

/// Start time (field 22) of a stat line; None for a zombie or dead process.
pub fn stat_start_time(stat: &[u8]) -> Option<u64> {
    let mut fields = stat_fields(stat)?;
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // fields start at field 3 (state); starttime is field 22.
    fields.nth(18)?.parse().ok()
}

/// True while a process is exiting (PF_EXITING in field 9 of
/// /proc/pid/stat): killed, but not yet a zombie. A pid namespace's init
/// stays in this state until every other process in the namespace is gone.
pub fn exiting(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/stat")).is_ok_and(|s| stat_exiting(&s))
}

/// PF_EXITING in the flags (field 9) of a stat line.
pub fn stat_exiting(stat: &[u8]) -> bool {
    const PF_EXITING: u64 = 0x4;
    // After the comm: state (3), ppid, pgrp, session, tty_nr, tpgid, flags (9).
    stat_fields(stat)
        .and_then(|mut f| f.nth(6))
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|f| f & PF_EXITING != 0)
}

/// `/proc/PID/status` of a process, if it is readable.
pub fn status(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// A hexadecimal mask of a status file ("CapBnd", "CapPrm", ...).
pub fn status_mask(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        u64::from_str_radix(v.trim(), 16).ok()
    })
}

/// One line of /proc/self/mountinfo, the fields hull reads.
#[derive(Debug, PartialEq, Eq)]
pub struct MountInfo<'a> {
    /// Root of the mount within its filesystem (field 4), unescaped.
    pub root: String,
    /// Mount point (field 5), unescaped.
    pub mount_point: String,
    pub fstype: &'a str,
    /// The superblock options (the last field).
    pub super_options: &'a str,
}

/// Parses a mountinfo line; None when it is malformed.
pub fn mountinfo_line(line: &str) -> Option<MountInfo<'_>> {
    let (pre, post) = line.split_once(" - ")?;
    let pre: Vec<&str> = pre.split(' ').collect();
    let post: Vec<&str> = post.split(' ').collect();
    if pre.len() < 5 || post.len() < 3 {
        return None;
    }
    Some(MountInfo {
        root: unescape(pre[3]),
        mount_point: unescape(pre[4]),
        fstype: post[0],
        super_options: post[2],
    })
}

/// mountinfo escapes space, tab, newline and backslash as octal.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The (controllers, path) entries of a /proc/PID/cgroup file; the cgroup
/// v2 entry has no controllers.
pub fn cgroup_entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("/"),
        );
        (ctrls, path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_read() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert!(start_time(i32::MAX).is_none());
        assert!(!exiting(me));
    }

    /// A stat line with the given comm, state and flags; starttime 4242.
    fn stat(comm: &str, state: &str, flags: u64) -> Vec<u8> {
        let mut f: Vec<String> = (4..=52).map(|n| n.to_string()).collect();
        f[9 - 4] = flags.to_string();
        f[22 - 4] = "4242".into();
        format!("17 ({comm}) {state} {}\n", f.join(" ")).into_bytes()
    }

    #[test]
    fn stat_fields_start_after_the_last_paren() {
        assert_eq!(stat_start_time(&stat("sh", "S", 0)), Some(4242));
        assert_eq!(stat_start_time(&stat("a) (b c", "R", 0)), Some(4242));
        assert_eq!(stat_start_time(&stat("sh", "Z", 0)), None);
        assert_eq!(stat_start_time(&stat("sh", "X", 0)), None);
        assert_eq!(stat_start_time(b"17 (sh"), None);
        assert_eq!(stat_start_time(b""), None);
        assert!(stat_exiting(&stat("x) 1 2", "S", 0x404)));
        assert!(!stat_exiting(&stat("sh", "S", 0x400)));
        assert!(!stat_exiting(b"garbage"));
    }

    #[test]
    fn status_masks_are_hex() {
        let s = "Name:\tsh\nCapPrm:\t00000000a80425fb\nCapBnd:\t000001ffffffffff\n";
        assert_eq!(status_mask(s, "CapPrm"), Some(0xa80425fb));
        assert_eq!(status_mask(s, "CapBnd"), Some(0x1ff_ffff_ffff));
        assert_eq!(status_mask(s, "CapEff"), None);
        assert_eq!(status_mask("CapPrmX:\t1\n", "CapPrm"), None);
    }

    #[test]
    fn mountinfo_lines_are_split_and_unescaped() {
        let l = "36 35 0:30 /a\\040b /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct";
        let m = mountinfo_line(l).unwrap();
        assert_eq!(m.root, "/a b");
        assert_eq!(m.mount_point, "/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(m.fstype, "cgroup");
        assert_eq!(m.super_options, "rw,cpu,cpuacct");
        assert_eq!(mountinfo_line("36 35 0:30 / /x rw"), None);
        assert_eq!(unescape("a\\011b\\134c\\012"), "a\tb\\c\n");
        assert_eq!(unescape("trailing\\01"), "trailing\\01");
    }

    #[test]
    fn cgroup_entries_keep_colons_in_paths() {
        let text = "12:pids:/a/b\n1:name=systemd:/x:y\n0::/c\n";
        let e: Vec<_> = cgroup_entries(text).collect();
        assert_eq!(e, [("pids", "/a/b"), ("name=systemd", "/x:y"), ("", "/c")]);
    }
}
