//! Unique names, temp dirs, tree copies and busybox rootfs templates.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub(super) static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique, short-ish id: prefix + pid + counter + nanos.
pub fn unique_id(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// A directory under /tmp removed (recursively) on drop; mounts below it
/// are detached first, so the removal never follows into one.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let suite = super::super::SUITE;
        let path = PathBuf::from("/tmp").join(unique_id(&format!("hull-{suite}-{prefix}")));
        fs::create_dir_all(&path).expect("create temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        for m in mounts_under(&self.path).into_iter().rev() {
            let c = std::ffi::CString::new(m).unwrap();
            // SAFETY: a valid NUL-terminated path; the result is ignored.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Mount points (from /proc/self/mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().to_string();
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| *mp == d || mp.starts_with(&format!("{d}/")))
        .map(|s| s.to_string())
        .collect()
}

/// A hard link of `s` at `d`, or a copy where linking fails.
pub fn link_or_copy(s: &Path, d: &Path) {
    if fs::hard_link(s, d).is_err() {
        fs::copy(s, d).unwrap();
    }
}

/// Recursively copy `src` to `dst`; the busybox binary is hardlinked,
/// everything else is copied, symlinks are recreated.
pub fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    let meta = fs::symlink_metadata(src).unwrap();
    fs::set_permissions(dst, meta.permissions()).unwrap();
    for e in fs::read_dir(src).unwrap().flatten() {
        let s = e.path();
        let d = dst.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&s, &d);
        } else if ft.is_symlink() {
            symlink(fs::read_link(&s).unwrap(), &d).unwrap();
        } else if e.file_name() == "busybox" {
            link_or_copy(&s, &d);
        } else {
            fs::copy(&s, &d).unwrap();
        }
    }
}

/// A fresh directory for this test process's rootfs template
/// (`/tmp/hull-SUITE-template-PID`), after removing the templates of
/// finished test processes.
pub fn template_dir() -> PathBuf {
    let prefix = format!("hull-{}-template-", super::super::SUITE);
    if let Ok(rd) = fs::read_dir("/tmp") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix(&prefix)
                && pid
                    .parse::<i32>()
                    .is_ok_and(|p| !Path::new(&format!("/proc/{p}")).exists())
            {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = PathBuf::from(format!("/tmp/{prefix}{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// A busybox rootfs at `root`: the usual directories (plus `extra_dirs`),
/// /tmp sticky, busybox with a link per applet, and the given
/// /etc/passwd and /etc/group.
pub fn busybox_rootfs(root: &Path, extra_dirs: &[&str], passwd: &str, group: &str) {
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var",
        "run", "home",
    ]
    .iter()
    .chain(extra_dirs)
    {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy /bin/busybox");
    fs::set_permissions(root.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if !applet.is_empty() && applet != "busybox" {
            let _ = symlink("busybox", root.join("bin").join(applet));
        }
    }
    fs::write(root.join("etc/passwd"), passwd).unwrap();
    fs::write(root.join("etc/group"), group).unwrap();
}
