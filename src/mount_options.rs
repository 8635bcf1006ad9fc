//! Mount options of config.md's table, turned into mount(2) flags,
//! propagation changes, recursive attributes and filesystem data; and the
//! propagation names of `rootfsPropagation`. A leaf: the spec checks, the
//! rootfs set-up and `features` all read mount options through it.

use nix::mount::MsFlags;

#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Flags to set.
    pub flags: MsFlags,
    /// Flags an option explicitly clears (e.g. "rw", "suid").
    pub cleared: MsFlags,
    /// Propagation changes, applied after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes for mount_setattr (attr_set, attr_clr).
    pub rec_set: u64,
    pub rec_clr: u64,
    /// Options the filesystem itself parses (e.g. "mode=755,size=64k").
    pub data: Vec<String>,
    /// An idmapped mount was asked for ("idmap" or "ridmap").
    pub idmap: bool,
    /// "ridmap": the mapping also applies to the submounts of an rbind.
    pub ridmap: bool,
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn data(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

// MOUNT_ATTR_* values for mount_setattr(2).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

/// Parses the option list of one mount.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions {
        flags: MsFlags::empty(),
        cleared: MsFlags::empty(),
        propagation: Vec::new(),
        rec_set: 0,
        rec_clr: 0,
        data: Vec::new(),
        idmap: false,
        ridmap: false,
    };
    for opt in options {
        let opt = opt.as_str();
        let set = |o: &mut MountOptions, f: MsFlags| {
            o.flags |= f;
            o.cleared.remove(f);
        };
        let clear = |o: &mut MountOptions, f: MsFlags| {
            o.flags.remove(f);
            o.cleared |= f;
        };
        match opt {
            "defaults" => {}
            "ro" => set(&mut o, MsFlags::MS_RDONLY),
            "rw" => clear(&mut o, MsFlags::MS_RDONLY),
            "suid" => clear(&mut o, MsFlags::MS_NOSUID),
            "nosuid" => set(&mut o, MsFlags::MS_NOSUID),
            "dev" => clear(&mut o, MsFlags::MS_NODEV),
            "nodev" => set(&mut o, MsFlags::MS_NODEV),
            "exec" => clear(&mut o, MsFlags::MS_NOEXEC),
            "noexec" => set(&mut o, MsFlags::MS_NOEXEC),
            "sync" => set(&mut o, MsFlags::MS_SYNCHRONOUS),
            "async" => clear(&mut o, MsFlags::MS_SYNCHRONOUS),
            "dirsync" => set(&mut o, MsFlags::MS_DIRSYNC),
            "remount" => set(&mut o, MsFlags::MS_REMOUNT),
            "mand" => set(&mut o, MsFlags::MS_MANDLOCK),
            "nomand" => clear(&mut o, MsFlags::MS_MANDLOCK),
            "atime" => clear(&mut o, MsFlags::MS_NOATIME),
            "noatime" => set(&mut o, MsFlags::MS_NOATIME),
            "diratime" => clear(&mut o, MsFlags::MS_NODIRATIME),
            "nodiratime" => set(&mut o, MsFlags::MS_NODIRATIME),
            "relatime" => set(&mut o, MsFlags::MS_RELATIME),
            "norelatime" => clear(&mut o, MsFlags::MS_RELATIME),
            "strictatime" => set(&mut o, MsFlags::MS_STRICTATIME),
            "nostrictatime" => clear(&mut o, MsFlags::MS_STRICTATIME),
            "lazytime" => set(&mut o, MsFlags::MS_LAZYTIME),
            "nolazytime" => clear(&mut o, MsFlags::MS_LAZYTIME),
            "iversion" => set(&mut o, MsFlags::MS_I_VERSION),
            "noiversion" => clear(&mut o, MsFlags::MS_I_VERSION),
            "silent" => set(&mut o, MsFlags::MS_SILENT),
            "loud" => clear(&mut o, MsFlags::MS_SILENT),
            "nosymfollow" => set(&mut o, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)),
            "symfollow" => clear(&mut o, MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW)),
            "bind" => set(&mut o, MsFlags::MS_BIND),
            "rbind" => set(&mut o, MsFlags::MS_BIND | MsFlags::MS_REC),
            "private" => o.propagation.push(MsFlags::MS_PRIVATE),
            "rprivate" => o.propagation.push(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            "shared" => o.propagation.push(MsFlags::MS_SHARED),
            "rshared" => o.propagation.push(MsFlags::MS_SHARED | MsFlags::MS_REC),
            "slave" => o.propagation.push(MsFlags::MS_SLAVE),
            "rslave" => o.propagation.push(MsFlags::MS_SLAVE | MsFlags::MS_REC),
            "unbindable" => o.propagation.push(MsFlags::MS_UNBINDABLE),
            "runbindable" => o.propagation.push(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
            "rro" => o.rec_set |= MOUNT_ATTR_RDONLY,
            "rrw" => o.rec_clr |= MOUNT_ATTR_RDONLY,
            "rnosuid" => o.rec_set |= MOUNT_ATTR_NOSUID,
            "rsuid" => o.rec_clr |= MOUNT_ATTR_NOSUID,
            "rnodev" => o.rec_set |= MOUNT_ATTR_NODEV,
            "rdev" => o.rec_clr |= MOUNT_ATTR_NODEV,
            "rnoexec" => o.rec_set |= MOUNT_ATTR_NOEXEC,
            "rexec" => o.rec_clr |= MOUNT_ATTR_NOEXEC,
            "rnodiratime" => o.rec_set |= MOUNT_ATTR_NODIRATIME,
            "rdiratime" => o.rec_clr |= MOUNT_ATTR_NODIRATIME,
            "rrelatime" => {
                o.rec_clr |= MOUNT_ATTR__ATIME;
                o.rec_set |= MOUNT_ATTR_RELATIME;
            }
            "rnorelatime" | "ratime" => o.rec_clr |= MOUNT_ATTR__ATIME,
            // Back to the default (relatime), recursively.
            "rnostrictatime" => o.rec_clr |= MOUNT_ATTR__ATIME,
            "rnoatime" => {
                o.rec_clr |= MOUNT_ATTR__ATIME;
                o.rec_set |= MOUNT_ATTR_NOATIME;
            }
            "rstrictatime" => {
                o.rec_clr |= MOUNT_ATTR__ATIME;
                o.rec_set |= MOUNT_ATTR_STRICTATIME;
            }
            "rnosymfollow" => o.rec_set |= MOUNT_ATTR_NOSYMFOLLOW,
            "rsymfollow" => o.rec_clr |= MOUNT_ATTR_NOSYMFOLLOW,
            "idmap" => o.idmap = true,
            "ridmap" => {
                o.idmap = true;
                o.ridmap = true;
            }
            // Handled by hull itself, not the kernel.
            "tmpcopyup" => {}
            other => o.data.push(other.to_string()),
        }
    }
    o
}

/// Every mount option [`parse`] understands.
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// The mount flags of a propagation name ("rslave", ...); None if unknown.
pub fn propagation_flags(name: &str) -> Option<MsFlags> {
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(opts: &[&str]) -> Vec<String> {
        opts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_data_and_propagation_are_split() {
        let o = parse(&v(&[
            "nosuid", "ro", "mode=755", "size=64k", "rslave", "rbind",
        ]));
        assert!(o.flags.contains(
            MsFlags::MS_NOSUID | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC
        ));
        assert_eq!(o.data().as_deref(), Some("mode=755,size=64k"));
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let o = parse(&v(&["ro", "rw"]));
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn every_listed_mount_option_is_understood() {
        for o in super::MOUNT_OPTIONS {
            let parsed = super::parse(&[o.to_string()]);
            assert!(
                parsed.data.is_empty(),
                "{o} would be passed to the filesystem as data"
            );
        }
    }
}
