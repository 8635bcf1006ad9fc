//! The seccomp agent of SCMP_ACT_NOTIFY: the parent connects to
//! `linux.seccomp.listenerPath` (a host path) before the clone; the
//! container process installs its filter and sends the agent the notify fd
//! with the container process state (config-linux.md, "The Container
//! Process State"), then closes both.

use crate::error::{Context, Error, Result};
use crate::security::seccomp::Filter;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Connects to `listenerPath` when the filter has a notify rule. Runs in
/// the parent, before the clone: the path is on the host.
pub fn connect(filter: &Filter) -> Result<Option<OwnedFd>> {
    let Some(path) = filter.listener_path().filter(|_| filter.notify()) else {
        return Ok(None);
    };
    let s = std::os::unix::net::UnixStream::connect(path).ctx(|| {
        format!(
            "linux.seccomp.listenerPath: the seccomp agent could not be reached at {}",
            path.display()
        )
    })?;
    Ok(Some(s.into()))
}

/// The container process state the listener receives.
pub fn process_state(
    filter: &Filter,
    oci_version: &str,
    id: &str,
    pid: i32,
    bundle: &Path,
    annotations: Option<&std::collections::HashMap<String, String>>,
    status: &str,
) -> serde_json::Value {
    let mut state = serde_json::json!({
        "ociVersion": oci_version,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": {
            "ociVersion": oci_version,
            "id": id,
            "status": status,
            "pid": pid,
            "bundle": bundle,
            "annotations": annotations.cloned().unwrap_or_default(),
        },
    });
    if let Some(m) = filter.listener_metadata() {
        state["metadata"] = serde_json::Value::String(m.to_owned());
    }
    state
}

/// Sends the state JSON with the notify fd (SCM_RIGHTS, first message
/// only) over the connected listener socket, then closes the socket.
fn send(sock: OwnedFd, notify_fd: &OwnedFd, state: &[u8]) -> Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fds = [notify_fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let mut sent = 0;
    while sent < state.len() {
        let iov = [std::io::IoSlice::new(&state[sent..])];
        let cmsgs: &[ControlMessage] = if sent == 0 { &cmsg } else { &[] };
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(e).ctx(|| "linux.seccomp.listenerPath: send the seccomp state".into());
            }
        }
    }
    drop(sock);
    Ok(())
}

/// Installs the container's filter (if any) in this process of container
/// `id`; with SCMP_ACT_NOTIFY, sends the notify fd and the process state
/// with `status` to the listener socket `listener` (from `connect`).
pub fn install_for(
    filter: Option<&Filter>,
    listener: Option<RawFd>,
    spec: &oci_spec::runtime::Spec,
    id: &str,
    pid: i32,
    bundle: &Path,
    status: &str,
) -> Result<()> {
    let Some(filter) = filter else {
        return Ok(());
    };
    // Everything the hand-off needs is ready before the filter goes in:
    // from then until the agent holds the notify fd, a notified syscall
    // would wait for an agent that cannot answer yet (profile.rs refuses
    // SCMP_ACT_NOTIFY for the syscalls made in that window).
    let state = filter.notify().then(|| {
        process_state(
            filter,
            crate::spec::OCI_VERSION,
            id,
            pid,
            bundle,
            spec.annotations().as_ref(),
            status,
        )
        .to_string()
    });
    let Some(notify_fd) = filter.install()? else {
        return Ok(());
    };
    let sock =
        listener.ok_or_else(|| Error::msg("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath"))?;
    // SAFETY: the parent passed this connected socket to this process only.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    send(sock, &notify_fd, state.unwrap_or_default().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_for_the_agent() {
        let s: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "listenerMetadata": "meta",
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
        }))
        .unwrap();
        let f = crate::security::seccomp::compile(&s).unwrap();
        let s = process_state(&f, "1.2.0", "c1", 42, Path::new("/b"), None, "creating");
        assert_eq!(s["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(s["metadata"], "meta");
        assert_eq!(s["state"]["status"], "creating");
        assert_eq!(s["state"]["pid"], 42);
        assert_eq!(s["state"]["bundle"], "/b");
    }
}
