//! What the checker reads from the kernel: mountinfo, statvfs, errno
//! names and device numbers.

use std::ffi::CString;
use std::fs;

#[derive(Debug, Clone)]
pub(crate) struct MountEntry {
    pub(crate) mount_point: String,
    pub(crate) mount_opts: Vec<String>,
    pub(crate) optional: Vec<String>,
    pub(crate) fstype: String,
    pub(crate) source: String,
    pub(crate) super_opts: Vec<String>,
}

pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(|c| c.is_ascii_digit()) {
            let v = u8::from_str_radix(&s[i + 1..i + 4], 8).unwrap_or(b'?');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

pub(crate) fn mountinfo() -> Vec<MountEntry> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < dash + 4 || dash < 6 {
            continue;
        }
        v.push(MountEntry {
            mount_point: unescape(f[4]),
            mount_opts: f[5].split(',').map(String::from).collect(),
            optional: f[6..dash].iter().map(|s| s.to_string()).collect(),
            fstype: f[dash + 1].to_string(),
            source: unescape(f[dash + 2]),
            super_opts: f[dash + 3].split(',').map(String::from).collect(),
        });
    }
    v
}

/// The topmost mount at `path` (the last mountinfo line for it).
pub(crate) fn mount_at<'a>(mi: &'a [MountEntry], path: &str) -> Option<&'a MountEntry> {
    let p = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    mi.iter().rev().find(|m| m.mount_point == p)
}

pub(crate) fn propagation_of(m: &MountEntry) -> &'static str {
    let shared = m.optional.iter().any(|o| o.starts_with("shared:"));
    let slave = m.optional.iter().any(|o| o.starts_with("master:"));
    let unbindable = m.optional.iter().any(|o| o == "unbindable");
    // A mount that is both shared and a slave ("shared:N master:M") is
    // shared: MS_SHARED on a slave mount keeps its master.
    match (shared, slave, unbindable) {
        (_, _, true) => "unbindable",
        (true, _, _) => "shared",
        (false, true, _) => "slave",
        _ => "private",
    }
}

/// "65536k" -> bytes.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// The value the kernel leaves out of mountinfo when an option has its
/// default value.
pub(crate) fn default_data_opt(fstype: &str, key: &str) -> Option<&'static str> {
    match (fstype, key) {
        ("tmpfs", "mode") => Some("1777"),
        ("tmpfs", "uid" | "gid") | ("devpts", "uid" | "gid") => Some("0"),
        ("devpts", "mode") => Some("600"),
        ("devpts", "ptmxmode") => Some("0"),
        _ => None,
    }
}

/// Maps an id of the container's user namespace to the initial namespace
/// (mountinfo shows uid=/gid= options as seen from there).
pub(crate) fn id_to_host(map_file: &str, id: u64) -> u64 {
    let text = fs::read_to_string(map_file).unwrap_or_default();
    for l in text.lines() {
        let v: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() == 3 && id >= v[0] && id < v[0] + v[2] {
            return v[1] + (id - v[0]);
        }
    }
    id
}

/// Normalises a `key=value` data option so that the config's spelling and
/// the kernel's can be compared.
pub(crate) fn norm_data_opt(key: &str, val: &str) -> String {
    match key {
        "mode" | "ptmxmode" => u32::from_str_radix(val, 8)
            .map(|m| format!("{m:o}"))
            .unwrap_or_else(|_| val.to_string()),
        "size" => parse_size(val)
            .map(|b| b.to_string())
            .unwrap_or_else(|| val.to_string()),
        _ => val.to_string(),
    }
}

pub(crate) fn statvfs_ro(path: &str) -> Result<bool, i32> {
    let c = CString::new(path).unwrap();
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(errno());
    }
    Ok(st.f_flag & libc::ST_RDONLY != 0)
}

pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub(crate) fn errname(e: i32) -> String {
    match e {
        0 => "success".into(),
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        libc::EROFS => "EROFS".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EEXIST => "EEXIST".into(),
        _ => format!("errno {e}"),
    }
}

pub(crate) fn dev_major(d: u64) -> u64 {
    libc::major(d) as u64
}

pub(crate) fn dev_minor(d: u64) -> u64 {
    libc::minor(d) as u64
}
