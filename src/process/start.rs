//! The start protocol. The waiting init listens on `START_SOCKET` in the
//! state dir (bound by the parent before the clone, inherited as an fd);
//! `start` connects and reads until EOF: nothing means the exec happened
//! (the connection closed with close-on-exec), text is the exec error. A
//! dead init refuses the connection at once, so `start` never hangs.

use crate::error::{Context, Result};
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// The unix socket the waiting init listens on; `start` connects to it.
pub const START_SOCKET: &str = "start.sock";

/// Binds and listens on the start socket in the state dir. The path goes
/// through /proc/self/fd so a long --root cannot exceed sun_path.
pub fn listen(state_dir: &Path) -> Result<OwnedFd> {
    use nix::sys::socket::{
        AddressFamily, Backlog, SockFlag, SockType, UnixAddr, bind, listen, socket,
    };
    let dir = std::fs::File::open(state_dir).ctx(|| format!("open {}", state_dir.display()))?;
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx(|| "create start socket".into())?;
    let path = format!("/proc/self/fd/{}/{START_SOCKET}", dir.as_raw_fd());
    let addr = UnixAddr::new(path.as_str()).ctx(|| "start socket address".into())?;
    bind(sock.as_raw_fd(), &addr)
        .ctx(|| format!("bind {}", state_dir.join(START_SOCKET).display()))?;
    listen(&sock, Backlog::new(1).expect("backlog 1 is valid"))
        .ctx(|| "listen on start socket".into())?;
    Ok(sock)
}

/// Releases the init waiting in state dir `dir_path`: returns its exec
/// error, empty when it exec'd. The socket is removed.
pub fn release(dir_path: &Path) -> Result<String> {
    let dir = std::fs::File::open(dir_path).ctx(|| format!("open {}", dir_path.display()))?;
    let path = format!("/proc/self/fd/{}/{START_SOCKET}", dir.as_raw_fd());
    let mut conn = std::os::unix::net::UnixStream::connect(&path).ctx(|| {
        format!(
            "start: connect to the container init ({})",
            dir_path.join(START_SOCKET).display()
        )
    })?;
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply);
    let _ = std::fs::remove_file(dir_path.join(START_SOCKET));
    // The exec trampoline reports a failed final execve in binary.
    if let Some(errno) = crate::security::trampoline::decode_failure(&reply) {
        return Ok(format!("exec process.args[0]: {errno}: {}", errno.desc()));
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}
