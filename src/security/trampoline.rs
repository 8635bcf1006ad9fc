//! The last step into the container's program goes through a tiny static
//! program kept in a sealed memfd (CVE-2019-5736, the `#!/proc/self/exe`
//! script).
//!
//! When a process running hull's image execs a script whose interpreter
//! is `/proc/self/exe`, the kernel resolves that link while the process
//! still runs hull: hull's binary starts again inside the container, now
//! dumpable, and a container process can open its `/proc/PID/exe` and
//! write the host's file once it exited. So neither the init nor `exec`'s
//! process performs that execve itself: each execs the trampoline below
//! (`execveat(memfd, "", AT_EMPTY_PATH)`), which only marks the report
//! descriptor close-on-exec and execs the program. `/proc/self/exe` of
//! that execve is the sealed memfd: a script naming it runs the trampoline
//! again, which refuses its arguments and exits 127; nobody can write it.
//!
//! Calling convention: `argv = [REPORT_FD (decimal), PATH, ARGV0, ARGV1...]`,
//! the environment as is. If the final execve fails, the trampoline writes
//! `[0, errno as u32 little-endian]` (5 bytes) to REPORT_FD and exits 127;
//! hull's readers recognise it with [`decode_failure`] (hull's own messages
//! are text or JSON and never start with a NUL byte).
//!
//! Without a trampoline for the build's architecture (only x86_64 has one),
//! [`needed_reexec`] tells the callers to re-execute hull from a sealed
//! copy instead (security::exeseal), which protects the same way at the
//! cost of a second start of hull.

use crate::error::{Error, Result};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The trampoline's machine code (x86_64, position independent, loaded at
/// [`BASE`] + [`CODE_OFFSET`]). Source, Intel syntax:
///
/// ```text
///     mov rbx, rsp                ; [rbx] = argc, [rbx+8] = argv[0] ...
///     cmp qword ptr [rbx], 2
///     jb bad                      ; need the report fd and a path
///     mov rcx, [rbx+8]            ; argv[0]: the report fd, in decimal
///     xor edi, edi
///     movzx eax, byte ptr [rcx]
///     test eax, eax
///     jz bad                      ; empty
/// 1:  movzx eax, byte ptr [rcx]
///     test eax, eax
///     jz 2f
///     sub eax, '0'
///     cmp eax, 9
///     ja bad                      ; not a digit ("/proc/self/exe" lands here)
///     imul edi, edi, 10
///     add edi, eax
///     inc rcx
///     jmp 1b
/// 2:  mov r12d, edi
///     mov eax, 72                 ; fcntl(fd, F_SETFD, FD_CLOEXEC)
///     mov esi, 2
///     mov edx, 1
///     syscall
///     mov rdi, [rbx+16]           ; execve(argv[1], &argv[2], envp)
///     lea rsi, [rbx+24]
///     mov rax, [rbx]
///     lea rdx, [rbx+rax*8+16]
///     mov eax, 59
///     syscall
///     neg eax                     ; failed: report [0, errno]
///     sub rsp, 16
///     mov byte ptr [rsp], 0
///     mov [rsp+1], eax
///     mov edi, r12d
///     mov rsi, rsp
///     mov edx, 5
///     mov eax, 1                  ; write
///     syscall
/// bad:
///     mov edi, 127
///     mov eax, 231                ; exit_group(127)
///     syscall
/// ```
#[cfg(target_arch = "x86_64")]
const CODE: [u8; 134] = [
    0x48, 0x89, 0xe3, 0x48, 0x83, 0x3b, 0x02, 0x72, 0x71, 0x48, 0x8b, 0x4b, 0x08, 0x31, 0xff, 0x0f,
    0xb6, 0x01, 0x85, 0xc0, 0x74, 0x64, 0x0f, 0xb6, 0x01, 0x85, 0xc0, 0x74, 0x12, 0x83, 0xe8, 0x30,
    0x83, 0xf8, 0x09, 0x77, 0x55, 0x6b, 0xff, 0x0a, 0x01, 0xc7, 0x48, 0xff, 0xc1, 0xeb, 0xe7, 0x41,
    0x89, 0xfc, 0xb8, 0x48, 0x00, 0x00, 0x00, 0xbe, 0x02, 0x00, 0x00, 0x00, 0xba, 0x01, 0x00, 0x00,
    0x00, 0x0f, 0x05, 0x48, 0x8b, 0x7b, 0x10, 0x48, 0x8d, 0x73, 0x18, 0x48, 0x8b, 0x03, 0x48, 0x8d,
    0x54, 0xc3, 0x10, 0xb8, 0x3b, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xf7, 0xd8, 0x48, 0x83, 0xec, 0x10,
    0xc6, 0x04, 0x24, 0x00, 0x89, 0x44, 0x24, 0x01, 0x44, 0x89, 0xe7, 0x48, 0x89, 0xe6, 0xba, 0x05,
    0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x7f, 0x00, 0x00, 0x00, 0xb8,
    0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
];

/// Where the single PT_LOAD segment (the whole file) is mapped.
#[cfg(target_arch = "x86_64")]
const BASE: u64 = 0x40_0000;
/// ELF header (64 bytes) + one program header (56 bytes).
#[cfg(target_arch = "x86_64")]
const CODE_OFFSET: usize = 64 + 56;

/// The whole ELF file: a static ET_EXEC with one read+execute segment.
#[cfg(target_arch = "x86_64")]
fn image() -> Vec<u8> {
    let total = (CODE_OFFSET + CODE.len()) as u64;
    let mut f = Vec::with_capacity(total as usize);
    // e_ident: ELF, 64-bit, little-endian, version 1, System V ABI.
    f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    f.extend_from_slice(&62u16.to_le_bytes()); // e_machine: EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes()); // e_version
    f.extend_from_slice(&(BASE + CODE_OFFSET as u64).to_le_bytes()); // e_entry
    f.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    f.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    f.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    f.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    f.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    f.extend_from_slice(&5u32.to_le_bytes()); // p_flags: R + X
    f.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    f.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    f.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    f.extend_from_slice(&total.to_le_bytes()); // p_filesz
    f.extend_from_slice(&total.to_le_bytes()); // p_memsz
    f.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    f.extend_from_slice(&CODE);
    f
}

/// True when this build has no trampoline, so every container needs hull
/// re-executed from a sealed copy (unless protection is off).
pub const fn needed_reexec() -> bool {
    !cfg!(target_arch = "x86_64")
}

/// The seals that make the memfd immutable (F_SEAL_SEAL keeps them so).
const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
/// memfd_create: executable (needed where vm.memfd_noexec is 1; 6.3+).
const MFD_EXEC: libc::c_uint = 0x10;

/// A sealed, executable memfd holding the trampoline.
pub struct Trampoline {
    memfd: OwnedFd,
}

fn sys_err(what: &str) -> Error {
    Error::msg(format!(
        "protect hull's binary (CVE-2019-5736; {}=off turns this off): {what}: {}",
        super::exeseal::ENV,
        std::io::Error::last_os_error()
    ))
}

impl Trampoline {
    /// The trampoline when this process needs one: None when protection is
    /// off or hull already runs from a sealed copy (its own image is then
    /// safe to exec from). Call it before seccomp is in place.
    pub fn prepare() -> Result<Option<Trampoline>> {
        if super::exeseal::mode()? == super::exeseal::Mode::Off
            || super::exeseal::reexecuted()
            || needed_reexec()
        {
            return Ok(None);
        }
        Self::create().map(Some)
    }

    #[cfg(target_arch = "x86_64")]
    fn create() -> Result<Trampoline> {
        let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
        let name = c"hull-trampoline";
        // SAFETY: memfd_create with a NUL-terminated name; the result is checked.
        let mut raw = unsafe { libc::memfd_create(name.as_ptr(), flags | MFD_EXEC) };
        if raw < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            // Kernels before 6.3 do not know MFD_EXEC (their memfds are executable).
            // SAFETY: as above.
            raw = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        }
        if raw < 0 {
            return Err(sys_err("memfd_create"));
        }
        // SAFETY: memfd_create returned this new descriptor.
        let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
        let elf = image();
        // SAFETY: writes from a live buffer of the given length.
        let n = unsafe { libc::write(memfd.as_raw_fd(), elf.as_ptr().cast(), elf.len()) };
        if n != elf.len() as isize {
            return Err(sys_err("write the trampoline into its memfd"));
        }
        // SAFETY: fcntl on the memfd we own.
        if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
            return Err(sys_err("seal the trampoline's memfd"));
        }
        Ok(Trampoline { memfd })
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn create() -> Result<Trampoline> {
        Err(Error::msg("no trampoline for this architecture"))
    }

    /// Execs `exe` with `argv` and `envp` through the trampoline. `report`
    /// is left open across the trampoline's exec (it closes on the final
    /// one) to carry a failure of the final execve. Returns only on error:
    /// the errno of the trampoline's own exec.
    pub fn exec(
        &self,
        exe: &CStr,
        argv: &[CString],
        envp: &[CString],
        report: RawFd,
    ) -> nix::errno::Errno {
        let fd = CString::new(report.to_string()).expect("digits");
        let mut args: Vec<*mut libc::c_char> =
            vec![fd.as_ptr().cast_mut(), exe.as_ptr().cast_mut()];
        args.extend(argv.iter().map(|a| a.as_ptr().cast_mut()));
        args.push(std::ptr::null_mut());
        let mut env: Vec<*mut libc::c_char> = envp.iter().map(|e| e.as_ptr().cast_mut()).collect();
        env.push(std::ptr::null_mut());
        // SAFETY: clearing FD_CLOEXEC on a descriptor number only changes flags.
        unsafe { libc::fcntl(report, libc::F_SETFD, 0) };
        // SAFETY: NULL-terminated arrays of pointers to CStrings that
        // outlive the call; on success this process image is replaced.
        unsafe {
            libc::execveat(
                self.memfd.as_raw_fd(),
                c"".as_ptr(),
                args.as_ptr(),
                env.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        let mut err = nix::errno::Errno::last();
        // A seccomp profile may allow execve but not execveat: the same
        // memfd through the container's procfs, when it has one.
        if matches!(err, nix::errno::Errno::EPERM | nix::errno::Errno::ENOSYS) {
            let path =
                CString::new(format!("/proc/self/fd/{}", self.memfd.as_raw_fd())).expect("digits");
            // SAFETY: as above.
            unsafe { libc::execve(path.as_ptr(), args.as_ptr().cast(), env.as_ptr().cast()) };
            err = nix::errno::Errno::last();
        }
        // SAFETY: as above; the caller reports on it itself.
        unsafe { libc::fcntl(report, libc::F_SETFD, libc::FD_CLOEXEC) };
        err
    }
}

/// The errno the trampoline reported for a failed final execve, if `buf`
/// is its report.
pub fn decode_failure(buf: &[u8]) -> Option<nix::errno::Errno> {
    match buf {
        [0, a, b, c, d] => Some(nix::errno::Errno::from_raw(i32::from_le_bytes([
            *a, *b, *c, *d,
        ]))),
        _ => None,
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Runs the trampoline in a forked child; returns its exit status and
    /// what it wrote to the report pipe.
    fn run(exe: &CStr, argv: &[&str]) -> (i32, Vec<u8>) {
        let t = Trampoline::create().unwrap();
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let argv: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
        // SAFETY: the child only execs or _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let _ = t.exec(exe, &argv, &[], w.as_raw_fd());
                // SAFETY: leave the forked test process at once.
                unsafe { libc::_exit(99) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(w);
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut std::fs::File::from(r), &mut out).unwrap();
                let status = match nix::sys::wait::waitpid(child, None).unwrap() {
                    nix::sys::wait::WaitStatus::Exited(_, c) => c,
                    other => panic!("{other:?}"),
                };
                (status, out)
            }
        }
    }

    #[test]
    fn execs_the_program_and_closes_the_report_fd() {
        // sh exits with 3 only if it sees the arguments as given; the
        // report pipe reads EOF (closed on exec, nothing written).
        let (status, out) = run(c"/bin/sh", &["sh", "-c", "exit $0", "3"]);
        assert_eq!((status, out), (3, vec![]));
    }

    #[test]
    fn reports_a_failed_exec() {
        let (status, out) = run(c"/nonexistent", &["x"]);
        assert_eq!(status, 127);
        assert_eq!(decode_failure(&out), Some(nix::errno::Errno::ENOENT));
    }

    #[test]
    fn the_image_is_sealed() {
        let t = Trampoline::create().unwrap();
        // SAFETY: fcntl on the memfd the test owns.
        let seals = unsafe { libc::fcntl(t.memfd.as_raw_fd(), libc::F_GET_SEALS) };
        assert_eq!(seals & SEALS, SEALS);
        let path = format!("/proc/self/fd/{}", t.memfd.as_raw_fd());
        let w = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        assert!(std::io::Write::write(&mut &w, b"x").is_err());
    }
}
