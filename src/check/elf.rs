//! Just enough of the ELF format to find a program's interpreter
//! (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2), and of scripts to find
//! their `#!` interpreter.

use std::io::{Read, Seek, SeekFrom};

const PT_INTERP: u32 = 3;

/// What kind of executable a file is.
#[derive(Debug, PartialEq, Eq)]
pub enum Exe {
    /// ELF with the interpreter it names (None when statically linked).
    Elf { interp: Option<String> },
    /// A `#!` script and its interpreter path.
    Script { interp: String },
    /// Neither: exec(2) will fail with ENOEXEC.
    Unknown,
}

/// Reads the start of `f` and classifies it. Errors only on I/O failure or
/// a corrupt ELF header.
pub fn inspect(f: &mut (impl Read + Seek)) -> Result<Exe, String> {
    let mut head = [0u8; 256];
    let n = read_full(f, &mut head).map_err(|e| e.to_string())?;
    let head = &head[..n];
    if head.starts_with(b"#!") {
        let line = head[2..].split(|&b| b == b'\n').next().unwrap_or(&[]);
        let line = String::from_utf8_lossy(line);
        let interp = line.split_whitespace().next().unwrap_or("").to_string();
        return Ok(Exe::Script { interp });
    }
    if !head.starts_with(b"\x7fELF") {
        return Ok(Exe::Unknown);
    }
    if head.len() < 52 {
        return Err("truncated ELF header".into());
    }
    let is64 = match head[4] {
        1 => false,
        2 => true,
        c => return Err(format!("bad ELF class {c}")),
    };
    let le = match head[5] {
        1 => true,
        2 => false,
        d => return Err(format!("bad ELF data encoding {d}")),
    };
    let u16_at = |b: &[u8], o: usize| -> u16 {
        let a = [b[o], b[o + 1]];
        if le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    };
    let u32_at = |b: &[u8], o: usize| -> u32 {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let u64_at = |b: &[u8], o: usize| -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        if le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    };
    if is64 && head.len() < 64 {
        return Err("truncated ELF header".into());
    }
    // e_phoff, e_phentsize, e_phnum.
    let (phoff, phentsize, phnum) = if is64 {
        (
            u64_at(head, 32),
            u16_at(head, 54) as usize,
            u16_at(head, 56),
        )
    } else {
        (
            u32_at(head, 28) as u64,
            u16_at(head, 42) as usize,
            u16_at(head, 44),
        )
    };
    let min = if is64 { 56 } else { 32 };
    if phnum == 0 {
        return Ok(Exe::Elf { interp: None });
    }
    if phentsize < min || phnum > 4096 {
        return Err("bad program header table".into());
    }
    let mut table = vec![0u8; phentsize * phnum as usize];
    f.seek(SeekFrom::Start(phoff)).map_err(|e| e.to_string())?;
    if read_full(f, &mut table).map_err(|e| e.to_string())? < table.len() {
        return Err("truncated program header table".into());
    }
    for ph in table.chunks(phentsize) {
        if u32_at(ph, 0) != PT_INTERP {
            continue;
        }
        let (off, size) = if is64 {
            (u64_at(ph, 8), u64_at(ph, 32))
        } else {
            (u32_at(ph, 4) as u64, u32_at(ph, 16) as u64)
        };
        if size == 0 || size > 4096 {
            return Err("bad PT_INTERP size".into());
        }
        let mut buf = vec![0u8; size as usize];
        f.seek(SeekFrom::Start(off)).map_err(|e| e.to_string())?;
        let n = read_full(f, &mut buf).map_err(|e| e.to_string())?;
        let s = &buf[..n];
        let s = s.split(|&b| b == 0).next().unwrap_or(&[]);
        return Ok(Exe::Elf {
            interp: Some(String::from_utf8_lossy(s).into_owned()),
        });
    }
    Ok(Exe::Elf { interp: None })
}

fn read_full(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn scripts_and_junk() {
        let mut c = Cursor::new(b"#!/bin/sh -e\necho hi\n".to_vec());
        assert_eq!(
            inspect(&mut c).unwrap(),
            Exe::Script {
                interp: "/bin/sh".into()
            }
        );
        let mut c = Cursor::new(b"hello".to_vec());
        assert_eq!(inspect(&mut c).unwrap(), Exe::Unknown);
    }

    #[test]
    fn synthetic_elf64_with_interp() {
        // ELF64 LE header, one program header (PT_INTERP) at 64, string at 120.
        let mut b = vec![0u8; 160];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&3u32.to_le_bytes());
        b[72..80].copy_from_slice(&120u64.to_le_bytes());
        let s = b"/lib/ld.so\0";
        b[96..104].copy_from_slice(&(s.len() as u64).to_le_bytes());
        b[120..120 + s.len()].copy_from_slice(s);
        assert_eq!(
            inspect(&mut Cursor::new(b)).unwrap(),
            Exe::Elf {
                interp: Some("/lib/ld.so".into())
            }
        );
    }

    #[test]
    fn host_binaries() {
        // /bin/true on the build host is dynamically linked; busybox (if any) may be static.
        if let Ok(mut f) = std::fs::File::open("/bin/true") {
            match inspect(&mut f).unwrap() {
                Exe::Elf { interp } => {
                    if let Some(i) = interp {
                        assert!(i.starts_with('/'), "{i}");
                    }
                }
                other => panic!("/bin/true: {other:?}"),
            }
        }
    }
}
