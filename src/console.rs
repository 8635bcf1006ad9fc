//! The container's terminal: a pty opened inside the container's devpts,
//! whose master travels to the console socket over SCM_RIGHTS.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

nix::ioctl_read!(tiocgptn, b'T', 0x30, libc::c_uint);
nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);
nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);

/// In the init, after pivot_root: opens a pty, sends its master to
/// `socket`, makes the slave the controlling terminal and stdio, and binds
/// it over /dev/console.
pub fn setup_in_container(
    socket: RawFd,
    size: Option<(u16, u16)>,
    bind_console: bool,
    owner: u32,
) -> Result<()> {
    let master = nix::fcntl::open(
        "/dev/ptmx",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "process.terminal: open /dev/ptmx in the container".into())?;
    // SAFETY: unlockpt on a valid master descriptor.
    if unsafe { libc::unlockpt(master.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "process.terminal: unlockpt".into());
    }
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int.
    unsafe { tiocgptn(master.as_raw_fd(), &mut n) }.ctx(|| "process.terminal: TIOCGPTN".into())?;
    // SAFETY: TIOCGPTPEER returns a new descriptor for the slave (checked).
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "process.terminal: open the pty slave".into());
    }
    // SAFETY: slave is a fresh descriptor we own.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    // The terminal belongs to the process's user, as with runc; its group
    // stays devpts' (the mount's gid=, usually tty). EINVAL/EPERM: the id
    // or the current owner is not mapped in a user namespace: leave it.
    match nix::unistd::fchown(&slave, Some(nix::unistd::Uid::from_raw(owner)), None) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::EPERM) => {}
        Err(e) => {
            return Err(Error::msg(format!(
                "process.terminal: chown the pty to uid {owner}: {e}"
            )));
        }
    }
    if let Some((h, w)) = size {
        let ws = libc::winsize {
            ws_row: h,
            ws_col: w,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize.
        unsafe { tiocswinsz(master.as_raw_fd(), &ws) }
            .ctx(|| "process.consoleSize: TIOCSWINSZ".into())?;
    }
    let name = format!("/dev/pts/{n}");
    send_fd(socket, &master, name.as_bytes())
        .ctx(|| "--console-socket: send the pty master".into())?;
    drop(master);
    // SAFETY: TIOCSCTTY with arg 0 on our slave; we are a session leader.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "process.terminal: TIOCSCTTY".into());
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors of this process.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error())
                .ctx(|| format!("dup pty slave to fd {target}"));
        }
    }
    if !bind_console {
        return Ok(());
    }
    // /dev/console is the container's terminal too. Bind the slave we hold
    // (by fd) onto a /dev/console that is not a symlink (CVE-2025-52565).
    use nix::fcntl::OFlag;
    let flags = OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let target = nix::fcntl::open(
        "/dev/console",
        flags,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .ctx(|| "open /dev/console (it must not be a symlink)".into())?;
    let st = nix::sys::stat::fstat(&target).ctx(|| "stat /dev/console".into())?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        return Err(Error::msg(
            "/dev/console is neither a file nor a character device",
        ));
    }
    nix::mount::mount(
        Some(format!("/proc/self/fd/{}", slave.as_raw_fd()).as_str()),
        format!("/proc/self/fd/{}", target.as_raw_fd()).as_str(),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(|| format!("bind {name} on /dev/console"))
}

pub fn send_fd(
    socket: RawFd,
    fd: &impl AsRawFd,
    payload: &[u8],
) -> std::result::Result<(), nix::errno::Errno> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(payload)];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None).map(|_| ())
}

/// Receives one descriptor sent with SCM_RIGHTS.
pub fn recv_fd(socket: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ctx(|| "receive the pty master".into())?;
    for c in msg
        .cmsgs()
        .map_err(|e| Error::msg(format!("receive the pty master: {e}")))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(&fd) = fds.first()
        {
            // SAFETY: the kernel installed this descriptor for us.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Err(Error::msg(
        "receive the pty master: no descriptor in the message",
    ))
}

/// The window size of a terminal, if it is one.
pub fn window_size(fd: RawFd) -> Option<libc::winsize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize.
    unsafe { tiocgwinsz(fd, &mut ws) }.ok().map(|_| ws)
}

pub fn set_window_size(fd: RawFd, ws: &libc::winsize) {
    // SAFETY: TIOCSWINSZ reads one winsize.
    let _ = unsafe { tiocswinsz(fd, ws) };
}

/// A connected socket pair standing in for --console-socket when hull
/// relays the terminal itself (`run` and `exec` in the foreground):
/// (hull's end, the end the container process sends its pty master on).
pub fn internal_socket() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "console socketpair".into())
}
