//! The device cgroup: `linux.resources.devices` plus the default rules
//! hull always adds (as runc does), applied through devices.allow/deny on
//! v1 and through a BPF_PROG_TYPE_CGROUP_DEVICE program on v2. Rules are
//! evaluated in order, the last match wins, and anything unmatched is
//! denied.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One normalized rule: type 'a', 'c' or 'b'; None for a wildcard number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Subset of "rwm".
    pub access: String,
}

impl Rule {
    /// The lines devices.allow/deny want ("c 1:3 rwm"). v1 reads type
    /// "a" as "everything", so a narrower "a" rule becomes a char and a
    /// block line.
    pub fn v1_lines(&self) -> Vec<String> {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        if self.is_wildcard() {
            return vec!["a".into()];
        }
        let types: &[char] = if self.typ == 'a' {
            &['c', 'b']
        } else {
            &[self.typ]
        };
        types
            .iter()
            .map(|t| format!("{t} {}:{} {}", n(self.major), n(self.minor), self.access))
            .collect()
    }

    /// Matches every device with every access.
    fn is_wildcard(&self) -> bool {
        self.typ == 'a' && self.major.is_none() && self.minor.is_none() && self.access == "rwm"
    }
}

fn rule(typ: char, major: Option<u32>, minor: Option<u32>, access: &str) -> Rule {
    Rule {
        allow: true,
        typ,
        major,
        minor,
        access: access.to_string(),
    }
}

/// The rules hull adds after the config's (runc's allowed devices): mknod
/// of any char or block device, and the standard /dev nodes.
pub fn default_rules() -> Vec<Rule> {
    vec![
        rule('c', None, None, "m"),
        rule('b', None, None, "m"),
        rule('c', Some(1), Some(3), "rwm"), // null
        rule('c', Some(1), Some(5), "rwm"), // zero
        rule('c', Some(1), Some(7), "rwm"), // full
        rule('c', Some(1), Some(8), "rwm"), // random
        rule('c', Some(1), Some(9), "rwm"), // urandom
        rule('c', Some(5), Some(0), "rwm"), // tty
        rule('c', Some(5), Some(1), "rwm"), // console
        rule('c', Some(5), Some(2), "rwm"), // ptmx
        rule('c', Some(136), None, "rwm"),  // pts/*
    ]
}

/// Normalizes the config's rules, naming the offending entry on error.
pub fn from_config(list: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
    let mut out = Vec::with_capacity(list.len());
    for (i, d) in list.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => 'a',
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::P => {
                return Err(Error::msg(format!(
                    "{field}.type: \"p\" (fifo) is not a device cgroup type (use a, c or b)"
                )));
            }
        };
        let num = |v: Option<i64>, what: &str| -> Result<Option<u32>> {
            match v {
                None | Some(-1) => Ok(None),
                Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(Some(n as u32)),
                Some(n) => Err(Error::msg(format!("{field}.{what}: {n} is out of range"))),
            }
        };
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        let access = if access.is_empty() {
            "rwm".into()
        } else {
            access
        };
        if access.chars().any(|c| !matches!(c, 'r' | 'w' | 'm')) {
            return Err(Error::msg(format!(
                "{field}.access: {access:?} may hold only r, w and m"
            )));
        }
        let mut norm = String::new();
        for c in ['r', 'w', 'm'] {
            if access.contains(c) {
                norm.push(c);
            }
        }
        out.push(Rule {
            allow: d.allow(),
            typ,
            major: num(d.major(), "major")?,
            minor: num(d.minor(), "minor")?,
            access: norm,
        });
    }
    Ok(out)
}

/// The full rule list: the config's rules, then hull's defaults.
pub fn effective_rules(config: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
    let mut rules = from_config(config)?;
    rules.extend(default_rules());
    Ok(rules)
}

/// v1: deny everything first (the default is deny, as on v2), then write
/// the rules in order: an allow-all resets to allow, later rules refine.
pub fn apply_v1(dir: &Path, rules: &[Rule]) -> Result<()> {
    let w = |file: &str, line: &str| {
        super::resources::write_field("linux.resources.devices", &dir.join(file), line)
    };
    w("devices.deny", "a")?;
    for r in rules {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        for line in r.v1_lines() {
            w(file, &line)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// cgroup v2: an eBPF program
// ---------------------------------------------------------------------------

/// One eBPF instruction (struct bpf_insn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0xf),
            off,
            imm,
        }
    }
    fn bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = self.regs;
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }
}

// Opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_W_MEM: u8 = 0x61; // BPF_LDX | BPF_W | BPF_MEM
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JNE_K: u8 = 0x55;
const JNE_X: u8 = 0x5d;
const EXIT: u8 = 0x95;

// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
// access_type = (access << 16) | type.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

/// Builds the program: R2 = type, R3 = access, R4 = major, R5 = minor;
/// rules are tested from the last to the first, so the last match wins;
/// no match denies.
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        Insn::new(LDX_W_MEM, 2, 1, 0, 0),
        Insn::new(ALU32_AND_K, 2, 0, 0, 0xffff),
        Insn::new(LDX_W_MEM, 3, 1, 0, 0),
        Insn::new(ALU32_RSH_K, 3, 0, 0, 16),
        Insn::new(LDX_W_MEM, 4, 1, 4, 0),
        Insn::new(LDX_W_MEM, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let mut block = Vec::new();
        // Each test jumps to the end of this block when it does not match;
        // offsets are patched once the block length is known (marked off = -1).
        match r.typ {
            'c' => block.push(Insn::new(JNE_K, 2, 0, -1, DEV_CHAR)),
            'b' => block.push(Insn::new(JNE_K, 2, 0, -1, DEV_BLOCK)),
            _ => {}
        }
        let mut acc = 0;
        for (c, bit) in [('r', ACC_READ), ('w', ACC_WRITE), ('m', ACC_MKNOD)] {
            if r.access.contains(c) {
                acc |= bit;
            }
        }
        if acc != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // Requested access must be a subset of the rule's.
            block.push(Insn::new(ALU32_MOV_X, 1, 3, 0, 0));
            block.push(Insn::new(ALU32_AND_K, 1, 0, 0, acc));
            block.push(Insn::new(JNE_X, 1, 3, -1, 0));
        }
        if let Some(m) = r.major {
            block.push(Insn::new(JNE_K, 4, 0, -1, m as i32));
        }
        if let Some(m) = r.minor {
            block.push(Insn::new(JNE_K, 5, 0, -1, m as i32));
        }
        block.push(Insn::new(ALU64_MOV_K, 0, 0, 0, i32::from(r.allow)));
        block.push(Insn::new(EXIT, 0, 0, 0, 0));
        let len = block.len() as i16;
        for (i, insn) in block.iter_mut().enumerate() {
            if insn.off == -1 && matches!(insn.code, JNE_K | JNE_X) {
                insn.off = len - i as i16 - 1;
            }
        }
        let unconditional = block.len() == 2;
        p.extend(block);
        if unconditional {
            // Everything before this rule is unreachable.
            return p;
        }
    }
    p.push(Insn::new(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(Insn::new(EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    // Room for the rest of union bpf_attr, zeroed.
    _pad: [u64; 12],
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _pad: [u32; 11],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<i64> {
    // SAFETY: attr is a properly sized, zero-padded bpf_attr for `cmd`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads the program for `rules` and attaches it to the cgroup dir.
pub fn apply_v2(dir: &Path, rules: &[Rule]) -> Result<()> {
    let insns: Vec<u8> = program(rules).iter().flat_map(|i| i.bytes()).collect();
    // The program calls no helpers, so no GPL-only symbol is involved; the
    // license string only has to be present.
    let license = c"Apache-2.0";
    let mut log = vec![0u8; 16 * 1024];
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"hull_devcg");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: (insns.len() / 8) as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    let prog = match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: a fresh fd returned by the kernel, owned here.
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd as i32) },
        Err(e) => {
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            return Err(Error::msg(format!(
                "linux.resources.devices: load the device-cgroup BPF program: {e}{}",
                if text.is_empty() {
                    String::new()
                } else {
                    format!(" (verifier: {text})")
                }
            )));
        }
    };
    let cg = std::fs::File::open(dir).map_err(|e| {
        Error::msg(format!(
            "linux.resources.devices: open {}: {e}",
            dir.display()
        ))
    })?;
    let mut attach = ProgAttachAttr {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attach).map_err(|e| {
        Error::msg(format!(
            "linux.resources.devices: attach the device-cgroup BPF program to {}: {e}",
            dir.display()
        ))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the generated program in a tiny interpreter.
    fn run(p: &[Insn], typ: i32, acc: i32, major: u32, minor: u32) -> u64 {
        let ctx = [((acc << 16) | typ) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W_MEM => r[dst] = u64::from(ctx[i.off as usize / 4]),
                ALU32_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                ALU32_RSH_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                ALU32_MOV_X => r[dst] = r[src] as u32 as u64,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                JNE_K if r[dst] != i.imm as u32 as u64 => pc += i.off as usize,
                JNE_X if r[dst] != r[src] => pc += i.off as usize,
                JNE_K | JNE_X => {}
                EXIT => return r[0],
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    fn cfg(v: serde_json::Value) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn last_match_wins_and_defaults_apply() {
        let rules = effective_rules(&cfg(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"},
            {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}
        ])))
        .unwrap();
        let p = program(&rules);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 229), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 10, 229), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 10, 229), 1, "default mknod");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 11), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "null");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 7), 1, "pts");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 0);
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 1);
    }

    #[test]
    fn allow_all_then_deny() {
        let rules = from_config(&cfg(serde_json::json!([
            {"allow": true, "access": "rwm"},
            {"allow": false, "type": "b", "major": 8, "access": "rwm"}
        ])))
        .unwrap();
        let p = program(&rules);
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 1), 0);
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 9, 1), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 4, 1), 1);
        // Nothing configured: deny, except the defaults.
        let p = program(&effective_rules(&[]).unwrap());
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 4, 1), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 9), 1);
    }

    #[test]
    fn v1_lines() {
        let rules = from_config(&cfg(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "access": "mr"}
        ])))
        .unwrap();
        assert_eq!(rules[0].v1_lines(), ["a"]);
        assert_eq!(rules[1].v1_lines(), ["c 1:* rm"]);
        assert!(from_config(&cfg(serde_json::json!([{"allow": true, "access": "x"}]))).is_err());
    }
}
