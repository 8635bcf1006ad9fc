//! The protocol between `hull create` (the parent) and the init stages, over
//! one SOCK_SEQPACKET socketpair: one datagram per message, JSON-encoded.
//!
//! `create`, in order (launch.rs is the parent, init.rs the stages):
//!
//! ```text
//!  parent (launch.rs)                  stage 1 (only to join namespaces by
//!  |                                   path or create user/time ones)
//!  | clone3 ------------------------->  |
//!  |                                    | setns by path, time offsets,
//!  |                                    | unshare(CLONE_NEWUSER)
//!  |  <------------- MapIds { pid }     |
//!  | write uid_map/gid_map              |
//!  |  MapsDone ------------------------> | become root, clone3 the init
//!  |  <------------- InitPid { pid }    | exits
//!  |
//!  |     (without stage 1 the parent clones the init itself)
//!  |                                   init (PID 1 in the container)
//!  | cgroup, CPU affinity, net devices  |
//!  |  Go { pid } ----------------------> | hostname, rootfs::prepare
//!  |  <--------------------- RunHooks    | (only with prestart or
//!  | prestart + createRuntime hooks     |  createRuntime hooks)
//!  |  HooksDone -----------------------> | createContainer hooks, pivot_root,
//!  |                                    | process attributes, seccomp
//!  |  <------------------------ Ready   |
//!  | state.json "created", exit         | wait in accept() on the start
//!                                       | socket (process/start.rs)
//! ```
//!
//! `exec` (exec.rs): the exec stage joins the namespaces and forks the
//! process, which sends `ExecPid { pid, placed }`; the parent puts it in
//! the cgroup unless placed and answers `Go { pid }`; the process then
//! execs, which closes the channel (close-on-exec): EOF means success.
//!
//! At any point a stage may send `Error { msg }` (the parent reports it and
//! cleans up) or, with --debug, `Debug { msg }` lines, which `recv` logs and
//! skips.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Msg {
    /// stage 1 -> parent: write uid_map/gid_map for this pid.
    MapIds { pid: i32 },
    /// parent -> stage 1: the maps are written.
    MapsDone,
    /// stage 1 -> parent: the host pid of the container init.
    InitPid { pid: i32 },
    /// exec stage -> parent: the host pid of the new process, and whether
    /// it already is in the container's cgroup.
    ExecPid { pid: i32, placed: bool },
    /// parent -> init: the cgroup is joined and devices moved; carry on.
    /// Carries the init's pid as the host sees it (for hook state).
    Go { pid: i32 },
    /// init -> parent: run the prestart and createRuntime hooks now.
    RunHooks,
    /// parent -> init: the hooks succeeded.
    HooksDone,
    /// init -> parent: set up and waiting for `start`.
    Ready,
    /// any stage -> parent: set-up failed.
    Error { msg: String },
    /// exec trampoline -> parent: the final execve failed (never encoded:
    /// the trampoline's binary report, see security::trampoline).
    ExecFailed { errno: i32 },
    /// any stage -> parent: a --debug line (logged by the parent, see
    /// logging::set_forward). `recv` handles these itself.
    Debug { msg: String },
}

impl Msg {
    /// The pid a message carries, if any.
    fn pid(&self) -> Option<i32> {
        match self {
            Msg::MapIds { pid }
            | Msg::InitPid { pid }
            | Msg::ExecPid { pid, .. }
            | Msg::Go { pid } => Some(*pid),
            _ => None,
        }
    }
}

/// Decodes one received datagram. Every pid must name a process: the
/// receiver writes id maps for it, moves it into a cgroup or kills it, and
/// 0 or a negative number would mean a process group or every process.
pub fn decode(buf: &[u8]) -> Result<Msg> {
    let m: Msg =
        serde_json::from_slice(buf).map_err(|e| Error::msg(format!("decode sync message: {e}")))?;
    if let Some(pid) = m.pid().filter(|p| *p <= 0) {
        return Err(Error::msg(format!(
            "decode sync message: pid {pid} is not a process id"
        )));
    }
    Ok(m)
}

pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "create sync socketpair".into())?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    pub fn from_fd(fd: OwnedFd) -> Channel {
        Channel { fd }
    }

    pub fn send(&self, msg: &Msg) -> Result<()> {
        let buf =
            serde_json::to_vec(msg).map_err(|e| Error::msg(format!("encode sync message: {e}")))?;
        nix::sys::socket::send(
            self.fd.as_raw_fd(),
            &buf,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        )
        .ctx(|| "send sync message".into())?;
        Ok(())
    }

    /// Receives one message; a closed peer is reported as `None`.
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 65536];
        loop {
            match nix::sys::socket::recv(
                self.fd.as_raw_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::empty(),
            ) {
                Ok(0) => return Ok(None),
                Ok(n) if crate::security::trampoline::decode_failure(&buf[..n]).is_some() => {
                    let errno = crate::security::trampoline::decode_failure(&buf[..n]);
                    return Ok(errno.map(|e| Msg::ExecFailed { errno: e as i32 }));
                }
                Ok(n) => match decode(&buf[..n])? {
                    Msg::Debug { msg } => crate::logging::debug(msg),
                    m => return Ok(Some(m)),
                },
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| "receive sync message".into()),
            }
        }
    }

    /// Receives and insists on one particular message.
    pub fn expect(&self, want: Msg) -> Result<()> {
        match self.recv()? {
            Some(m) if m == want => Ok(()),
            Some(Msg::Error { msg }) => Err(Error::Msg(msg)),
            Some(other) => Err(Error::msg(format!(
                "sync: expected {want:?}, got {other:?}"
            ))),
            None => Err(Error::msg(format!(
                "sync: peer exited while hull waited for {want:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_pids_must_be_positive() {
        for m in [
            Msg::MapIds { pid: 7 },
            Msg::ExecPid {
                pid: 9,
                placed: true,
            },
            Msg::Error { msg: "x".into() },
            Msg::Ready,
        ] {
            assert_eq!(decode(&serde_json::to_vec(&m).unwrap()).unwrap(), m);
        }
        for bad in [
            &br#"{"Go":{"pid":0}}"#[..],
            br#"{"InitPid":{"pid":-1}}"#,
            br#"{"Nope":1}"#,
            b"",
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
