//! `linux.netDevices`: moves host network devices into the container's
//! network namespace (optionally renaming them) with one rtnetlink request
//! per device.

use crate::error::{Context, Error, Result};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const NLMSG_ERROR: u16 = 2;

fn push_attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// Builds RTM_NEWLINK for `ifindex`: move to the namespace `ns_fd`, named `new_name`.
fn link_move_request(seq: u32, ifindex: i32, ns_fd: i32, new_name: &str) -> Vec<u8> {
    let mut body = Vec::new();
    // struct ifinfomsg: family, pad, type, index, flags, change
    body.push(libc::AF_UNSPEC as u8);
    body.push(0);
    body.extend_from_slice(&0u16.to_ne_bytes());
    body.extend_from_slice(&ifindex.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    push_attr(&mut body, IFLA_NET_NS_FD, &(ns_fd as u32).to_ne_bytes());
    let mut name = new_name.as_bytes().to_vec();
    name.push(0);
    push_attr(&mut body, IFLA_IFNAME, &name);
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend(body);
    msg
}

/// Moves each device into the network namespace of `pid`.
pub fn move_net_devices(
    pid: i32,
    devices: &HashMap<String, oci_spec::runtime::LinuxNetDevice>,
) -> Result<()> {
    if devices.is_empty() {
        return Ok(());
    }
    let ns_path = format!("/proc/{pid}/ns/net");
    let ns = std::fs::File::open(&ns_path).ctx(|| format!("linux.netDevices: open {ns_path}"))?;
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "linux.netDevices: netlink socket".into());
    }
    // SAFETY: raw is a fresh descriptor owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut names: Vec<&String> = devices.keys().collect();
    names.sort();
    for (seq, host_name) in names.into_iter().enumerate() {
        let field = format!("linux.netDevices[{host_name:?}]");
        let cname = std::ffi::CString::new(host_name.as_str())
            .map_err(|_| Error::msg(format!("{field}: name holds a NUL byte")))?;
        // SAFETY: cname is a valid NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if index == 0 {
            return Err(std::io::Error::last_os_error())
                .ctx(|| format!("{field}: no such device on the host"));
        }
        let new_name = devices[host_name]
            .name()
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| host_name.clone());
        if new_name.len() >= libc::IFNAMSIZ || new_name.contains('/') {
            return Err(Error::msg(format!(
                "{field}: invalid interface name {new_name:?}"
            )));
        }
        let msg = link_move_request(seq as u32 + 1, index as i32, ns.as_raw_fd(), &new_name);
        nix::sys::socket::send(sock.as_raw_fd(), &msg, nix::sys::socket::MsgFlags::empty())
            .ctx(|| format!("{field}: netlink send"))?;
        let mut reply = [0u8; 4096];
        let n = nix::sys::socket::recv(
            sock.as_raw_fd(),
            &mut reply,
            nix::sys::socket::MsgFlags::empty(),
        )
        .ctx(|| format!("{field}: netlink receive"))?;
        if n >= 20 && u16::from_ne_bytes([reply[4], reply[5]]) == NLMSG_ERROR {
            let code = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
            if code != 0 {
                return Err(Error::Sys {
                    context: format!(
                        "{field}: move into the container's network namespace as {new_name:?}"
                    ),
                    errno: nix::errno::Errno::from_raw(-code),
                });
            }
        }
    }
    Ok(())
}

/// Brings `lo` up in a new network namespace, as engines expect.
pub fn loopback_up() -> Result<()> {
    // SAFETY: plain socket(2) call; checked below.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "bring up lo: socket".into());
    }
    // SAFETY: raw is a fresh descriptor owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills ifr_flags of a valid ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "bring up lo: SIOCGIFFLAGS".into());
    }
    // SAFETY: the union field written by SIOCGIFFLAGS just above.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "bring up lo: SIOCSIFFLAGS".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_well_formed() {
        let m = link_move_request(7, 3, 9, "eth9");
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(m.len() % 4, 0);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWLINK);
    }
}
