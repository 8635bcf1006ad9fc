//! `run` in the foreground: forwards signals to the container init, relays
//! its terminal when hull owns it, reaps children (hull is their subreaper)
//! and returns the init's exit status.

use crate::error::{Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Signals `run` catches and forwards (everything but the synchronous faults).
pub fn forwarded_signals() -> SigSet {
    let mut set = SigSet::all();
    for s in [
        Signal::SIGSEGV,
        Signal::SIGBUS,
        Signal::SIGILL,
        Signal::SIGFPE,
        Signal::SIGTRAP,
        Signal::SIGKILL,
        Signal::SIGSTOP,
    ] {
        set.remove(s);
    }
    set
}

/// Blocks the forwarded signals so none is lost before the loop starts.
pub fn block_signals() -> Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&forwarded_signals()), None)
        .ctx(|| "block signals".into())
}

/// Unblocks every signal and restores default dispositions, for a child
/// about to become a container process.
pub fn reset_signal_state() {
    use nix::sys::signal::{SigHandler, signal};
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: restoring default dispositions installs no Rust handler.
            let _ = unsafe { signal(sig, SigHandler::SigDfl) };
        }
    }
}

pub fn become_subreaper() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "prctl(PR_SET_CHILD_SUBREAPER)".into());
    }
    Ok(())
}

fn status_code(s: WaitStatus) -> Option<i32> {
    match s {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Reaps every exited child; returns the init's status if it was among them.
fn reap(init: i32) -> Option<i32> {
    let mut found = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(s) => {
                if s.pid().map(|p| p.as_raw()) == Some(init) {
                    found = status_code(s);
                }
            }
        }
    }
}

struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let saved = nix::sys::termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            nix::sys::termios::cfmakeraw(&mut raw);
            let _ = nix::sys::termios::tcsetattr(
                stdin.as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                &raw,
            );
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

fn copy_once(from: BorrowedFd, to: BorrowedFd) -> bool {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            let mut off = 0;
            while off < n {
                match nix::unistd::write(to, &buf[off..n]) {
                    Ok(w) => off += w,
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => return false,
                }
            }
            true
        }
    }
}

/// Runs until the init exits; returns its exit code (128+signal if killed).
pub fn supervise(init: i32, master: Option<OwnedFd>, fixed_size: bool) -> Result<i32> {
    let sfd = SignalFd::with_flags(
        &forwarded_signals(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )
    .ctx(|| "signalfd".into())?;
    let _raw = master.as_ref().map(|_| RawMode::enter());
    // Follow the caller's terminal size unless the config fixed one.
    if let (Some(m), Some(ws), false) = (&master, crate::console::window_size(0), fixed_size)
        && ws.ws_row > 0
        && ws.ws_col > 0
    {
        crate::console::set_window_size(m.as_raw_fd(), &ws);
    }
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let mut exit = reap(init);
    loop {
        if exit.is_some() && !master_open {
            break;
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &master {
            if master_open {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
            if stdin_open && exit.is_none() {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        // Once the init is gone, drain the terminal briefly and stop.
        let timeout = if exit.is_some() {
            PollTimeout::from(100u8)
        } else {
            PollTimeout::NONE
        };
        let n = match poll(&mut fds, timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).ctx(|| "poll".into()),
        };
        if n == 0 {
            break;
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGCHLD {
                    if let Some(code) = reap(init) {
                        exit = Some(code);
                    }
                } else if sig == libc::SIGWINCH && master.is_some() {
                    if let (Some(m), Some(ws)) = (&master, crate::console::window_size(0)) {
                        crate::console::set_window_size(m.as_raw_fd(), &ws);
                    }
                } else {
                    let _ = super::signals::send(init, sig);
                }
            }
        }
        if let Some(m) = &master {
            let mut idx = 1;
            if master_open {
                if ready[idx] && !copy_once(m.as_fd(), stdout.as_fd()) {
                    master_open = false;
                }
                idx += 1;
            }
            if stdin_open
                && exit.is_none()
                && ready.get(idx).copied().unwrap_or(false)
                && !copy_once(stdin.as_fd(), m.as_fd())
            {
                stdin_open = false;
            }
        }
    }
    Ok(exit.unwrap_or(255))
}
