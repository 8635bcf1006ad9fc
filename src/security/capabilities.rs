//! The five capability sets of `process.capabilities`, applied in the order
//! the kernel requires around the uid change: bounding set dropped while
//! still root, caps kept across setuid, then effective/permitted/inheritable
//! in one capset, then ambient.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::str::FromStr;

/// Highest capability number this kernel knows.
pub fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// A capability set as a bit mask; names unknown to this kernel are skipped
/// (as other runtimes do) and reported at --debug.
pub fn mask(set: Option<&Capabilities>, field: &str) -> Result<u64> {
    let last = last_cap();
    let mut m = 0u64;
    for cap in set.into_iter().flatten() {
        let name = format!("CAP_{cap}");
        let c = caps::Capability::from_str(&name)
            .map_err(|_| Error::msg(format!("{field}: unknown capability {name}")))?;
        if c.index() > last {
            crate::logging::debug(format!(
                "{field}: {name} is unknown to this kernel, skipped"
            ));
            continue;
        }
        m |= 1u64 << c.index();
    }
    Ok(m)
}

/// The masks of all five sets.
#[derive(Clone, Copy, Debug, Default)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

impl CapSets {
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> Result<CapSets> {
        let Some(c) = c else {
            return Ok(CapSets::default());
        };
        Ok(CapSets {
            bounding: mask(c.bounding().as_ref(), "process.capabilities.bounding")?,
            effective: mask(c.effective().as_ref(), "process.capabilities.effective")?,
            permitted: mask(c.permitted().as_ref(), "process.capabilities.permitted")?,
            inheritable: mask(c.inheritable().as_ref(), "process.capabilities.inheritable")?,
            ambient: mask(c.ambient().as_ref(), "process.capabilities.ambient")?,
        })
    }
}

/// Drops every capability outside the bounding set (needs CAP_SETPCAP: call before setuid).
pub fn drop_bounding(bounding: u64) -> Result<()> {
    for cap in 0..=last_cap() {
        if bounding & (1 << cap) == 0 {
            // SAFETY: prctl with integer arguments only.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if r != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINVAL) {
                    return Err(e)
                        .ctx(|| format!("process.capabilities.bounding: drop capability {cap}"));
                }
            }
        }
    }
    Ok(())
}

pub fn set_keep_caps(keep: bool) -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, keep as libc::c_ulong, 0, 0, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "prctl(PR_SET_KEEPCAPS)".into());
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Sets effective, permitted and inheritable in one capset(2), then raises ambient.
pub fn apply_sets(c: &CapSets) -> Result<()> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: c.effective as u32,
            permitted: c.permitted as u32,
            inheritable: c.inheritable as u32,
        },
        CapData {
            effective: (c.effective >> 32) as u32,
            permitted: (c.permitted >> 32) as u32,
            inheritable: (c.inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and two data structs, as capset(2) v3 expects.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "process.capabilities: capset (effective must be within permitted)".into());
    }
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    for cap in 0..=last_cap() {
        if c.ambient & (1 << cap) != 0 {
            if (c.inheritable & c.permitted) & (1 << cap) == 0 {
                // The kernel refuses ambient caps outside permitted and
                // inheritable; like other runtimes, skip them with a note.
                crate::logging::debug(format!(
                    "process.capabilities.ambient: capability {cap} is not both permitted and inheritable, not raised"
                ));
                continue;
            }
            // SAFETY: prctl with integer arguments only.
            let r = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            };
            if r != 0 {
                return Err(std::io::Error::last_os_error()).ctx(|| {
                    format!("process.capabilities.ambient: raise capability {cap} (it must also be permitted and inheritable)")
                });
            }
        }
    }
    Ok(())
}
