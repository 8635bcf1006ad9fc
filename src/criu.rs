//! CRIU's RPC interface: one `criu swrk` child per request, protobuf
//! messages over a SOCK_SEQPACKET socketpair. The messages are the
//! `rust-criu` crate's generated types; the session (spawning, the
//! notification loop, descriptors CRIU passes back) is here, because
//! checkpoint and restore need requests (PRE_DUMP), options (cgroup roots,
//! LSM labels) and replies (the restored pid) that the crate's own client
//! does not expose.

use crate::error::{Context, Error, Result};
use protobuf::Message;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub use rust_criu::rust_criu_protobuf::rpc::{
    Cgroup_root as CgroupRoot, Criu_cg_mode as CgMode, Criu_notify as Notify, Criu_opts as Opts,
    Criu_page_server_info as PageServer, Criu_req_type as ReqType, Ext_mount_map as ExtMount,
    Inherit_fd as InheritFd,
};
use rust_criu::rust_criu_protobuf::rpc::{Criu_req, Criu_resp};

/// The oldest CRIU hull drives (3.x: RPC notifications, cgroup v2, orphan pts).
const MIN_VERSION: u32 = 31100;

/// The binary: `HULL_CRIU` names another one (tests, odd installs).
fn criu_binary() -> String {
    std::env::var("HULL_CRIU").unwrap_or_else(|_| "criu".to_string())
}

/// What a notification handler is given: the script name CRIU runs
/// ("setup-namespaces", "post-restore", "orphan-pts-master", ...), the
/// message, and a descriptor CRIU sent with it.
pub type Handler<'a> = dyn FnMut(&str, &Notify, Option<OwnedFd>) -> Result<()> + 'a;

/// Called with CRIU's pid before the request is sent.
pub type BeforeSend<'a> = dyn FnMut(i32, &mut Opts) -> Result<()> + 'a;

/// One request to a fresh `criu swrk`.
pub struct Request<'a> {
    pub kind: ReqType,
    pub opts: Opts,
    /// Descriptors the options name by number (image and work dirs, inherited
    /// stdio, status fd): they stay open across CRIU's exec.
    pub keep_fds: Vec<RawFd>,
    /// Called with CRIU's pid before the request is sent (restore moves it
    /// into the container's cgroup so the restored tasks land there).
    pub before_send: Option<&'a mut BeforeSend<'a>>,
}

/// Runs one request; returns the pid CRIU reports for a restore (0 otherwise).
pub fn call(mut req: Request, on_notify: &mut Handler) -> Result<i32> {
    let (ours, theirs) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "criu: socketpair".to_string())?;
    let mut keep = req.keep_fds.clone();
    keep.push(theirs.as_raw_fd());
    let mut cmd = Command::new(criu_binary());
    cmd.arg("swrk")
        .arg(theirs.as_raw_fd().to_string())
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    // SAFETY: between fork and exec the closure only calls fcntl, which is
    // async-signal-safe, on descriptors this process owns.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &keep {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::msg(format!(
                "criu: `{}` not found on PATH: checkpoint and restore need CRIU {}.{} or newer (Debian: apt-get install criu)",
                criu_binary(),
                MIN_VERSION / 10000,
                MIN_VERSION / 100 % 100
            ))
        } else {
            Error::msg(format!("criu: start `{} swrk`: {e}", criu_binary()))
        }
    })?;
    drop(theirs);
    let result = (|| {
        if let Some(before) = req.before_send.as_mut() {
            before(child.id() as i32, &mut req.opts)?;
        }
        let mut msg = Criu_req::new();
        msg.set_type(req.kind);
        msg.opts = protobuf::MessageField::some(req.opts.clone());
        send(&ours, &msg)?;
        loop {
            let (resp, fd) = recv(&ours)?;
            if !resp.success() && resp.type_() != ReqType::NOTIFY {
                return Err(failure(req.kind, &resp));
            }
            if resp.type_() == ReqType::NOTIFY {
                let notify = resp.notify.clone().unwrap_or_default();
                let outcome = on_notify(notify.script(), &notify, fd);
                let mut ack = Criu_req::new();
                ack.set_type(ReqType::NOTIFY);
                ack.set_notify_success(outcome.is_ok());
                send(&ours, &ack)?;
                outcome?;
                continue;
            }
            if resp.type_() != req.kind {
                return Err(Error::msg(format!(
                    "criu: unexpected reply {:?} to {:?}",
                    resp.type_(),
                    req.kind
                )));
            }
            return Ok(resp.restore.pid());
        }
    })();
    if result.is_err() {
        let _ = child.kill();
    }
    drop(ours);
    reap(&mut child);
    result
}

/// CRIU's version as MAJOR*10000 + MINOR*100 + SUBLEVEL; an error that says
/// what is missing when CRIU is absent or older than hull needs.
pub fn check_version() -> Result<u32> {
    let (ours, theirs) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "criu: socketpair".to_string())?;
    let fd = theirs.as_raw_fd();
    let mut cmd = Command::new(criu_binary());
    cmd.arg("swrk").arg(fd.to_string()).stdin(Stdio::null());
    // SAFETY: fcntl on an owned descriptor, async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::msg(format!(
            "criu: `{}` cannot be started ({e}): checkpoint and restore need CRIU {}.{} or newer (Debian: apt-get install criu)",
            criu_binary(),
            MIN_VERSION / 10000,
            MIN_VERSION / 100 % 100
        ))
    })?;
    drop(theirs);
    let mut msg = Criu_req::new();
    msg.set_type(ReqType::VERSION);
    let version = send(&ours, &msg).and_then(|_| recv(&ours)).map(|(r, _)| {
        let v = &r.version;
        (v.major_number() * 10000 + v.minor_number() * 100 + v.sublevel()) as u32
    });
    drop(ours);
    reap(&mut child);
    let version = version.map_err(|e| e.wrap("criu: version request"))?;
    if version < MIN_VERSION {
        return Err(Error::msg(format!(
            "criu: version {}.{}.{} is too old: hull needs {}.{} or newer",
            version / 10000,
            version / 100 % 100,
            version % 100,
            MIN_VERSION / 10000,
            MIN_VERSION / 100 % 100
        )));
    }
    Ok(version)
}

fn reap(child: &mut Child) {
    let _ = child.wait();
}

fn send(sock: &OwnedFd, msg: &Criu_req) -> Result<()> {
    let bytes = msg
        .write_to_bytes()
        .map_err(|e| Error::msg(format!("criu: encode request: {e}")))?;
    nix::unistd::write(sock, &bytes).ctx(|| "criu: send request".to_string())?;
    Ok(())
}

/// One reply, and the descriptor sent with it (orphan-pts-master).
fn recv(sock: &OwnedFd) -> Result<(Criu_resp, Option<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    // Replies are small; 1 MiB covers any CRIU sends.
    let mut buf = vec![0u8; 1 << 20];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .ctx(|| "criu: receive reply".to_string())?;
        let mut fd = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(fds) = c
                    && let Some(&f) = fds.first()
                {
                    // SAFETY: the kernel just installed this descriptor for us.
                    fd = Some(unsafe { OwnedFd::from_raw_fd(f) });
                }
            }
        }
        (msg.bytes, fd)
    };
    if n == 0 {
        return Err(Error::msg(
            "criu: it exited without replying (see its log in the work directory)",
        ));
    }
    let resp = Criu_resp::parse_from_bytes(&buf[..n])
        .map_err(|e| Error::msg(format!("criu: decode reply: {e}")))?;
    Ok((resp, fd))
}

fn failure(kind: ReqType, resp: &Criu_resp) -> Error {
    let what = match kind {
        ReqType::DUMP => "dump",
        ReqType::PRE_DUMP => "pre-dump",
        ReqType::RESTORE => "restore",
        _ => "request",
    };
    let errno = resp.cr_errno();
    let cause = if errno != 0 {
        format!(" ({})", nix::errno::Errno::from_raw(errno).desc())
    } else {
        String::new()
    };
    Error::msg(format!("criu: {what} failed{cause}"))
}

/// The last error lines of a CRIU log, for the message the user sees.
pub fn log_errors(log: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(log) else {
        return String::new();
    };
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Error (") || l.contains("Error:"))
        .collect();
    let tail = &errors[errors.len().saturating_sub(3)..];
    tail.iter().map(|l| l.trim()).collect::<Vec<_>>().join("; ")
}

/// `--manage-cgroups-mode` values, as runc names them.
pub fn cgroup_mode(name: &str) -> Result<CgMode> {
    Ok(match name {
        "soft" => CgMode::SOFT,
        "full" => CgMode::FULL,
        "strict" => CgMode::STRICT,
        "ignore" => CgMode::IGNORE,
        other => {
            return Err(Error::msg(format!(
                "--manage-cgroups-mode: \"{other}\" is not one of soft, full, strict, ignore"
            )));
        }
    })
}

/// `--empty-ns` values: namespace names to CLONE_* flags.
pub fn empty_ns_flags(names: &[String]) -> Result<u32> {
    let mut flags = 0u32;
    for n in names {
        flags |= match n.as_str() {
            "network" | "net" => libc::CLONE_NEWNET as u32,
            other => {
                return Err(Error::msg(format!(
                    "--empty-ns: \"{other}\" is not supported (only network)"
                )));
            }
        };
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_modes_and_empty_namespaces_parse_as_runc_names_them() {
        assert_eq!(cgroup_mode("soft").unwrap(), CgMode::SOFT);
        assert_eq!(cgroup_mode("ignore").unwrap(), CgMode::IGNORE);
        assert!(cgroup_mode("props").is_err());
        assert_eq!(
            empty_ns_flags(&["network".to_string()]).unwrap(),
            libc::CLONE_NEWNET as u32
        );
        assert!(empty_ns_flags(&["pid".to_string()]).is_err());
    }

    #[test]
    fn log_errors_keeps_the_last_error_lines() {
        let dir = std::env::temp_dir().join(format!("hull-criu-log-{}", std::process::id()));
        std::fs::write(
            &dir,
            "(00.1) ok\n(00.2) Error (criu/a.c:1): first\n(00.3) fine\n(00.4) Error (criu/b.c:2): second\n",
        )
        .unwrap();
        let got = log_errors(&dir);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(
            got,
            "(00.2) Error (criu/a.c:1): first; (00.4) Error (criu/b.c:2): second"
        );
    }
}
