//! Which functions run: the recorder of the training build behind
//! `build/hot-functions.txt` (scripts/hot-functions.sh). Compiled only with
//! `--cfg hull_hot_trace`, which that script's rustc wrapper passes together
//! with LLVM's SanitizerCoverage at function level (trace-pc-guard and
//! pc-table); the release binary never contains it.
//!
//! Each instrumented function calls `__sanitizer_cov_trace_pc_guard` with
//! its own guard on entry. At start-up the guards are numbered and
//! `$HULL_HOT_TRACE/hits.PID` is mapped shared, one byte a guard: forked
//! stages keep writing into the same file after they unshare and pivot,
//! so everything the init runs before its exec is recorded too. The table of
//! function addresses goes to `$HULL_HOT_TRACE/pcs` (once) with this
//! binary's load address, for the script to name the functions.
//!
//! Everything here runs inside the instrumentation callbacks, before `main`
//! or in the middle of any function: only raw libc calls, no allocation, no
//! instrumented code (LLVM leaves `__sanitizer_*` functions alone).

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

static HITS: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static GUARDS: AtomicU32 = AtomicU32::new(0);

/// `dir/name` (+ `.pid` when given) as a NUL-terminated path in `buf`.
fn path_in(buf: &mut [u8; 512], dir: &[u8], name: &[u8], pid: Option<u32>) -> bool {
    let mut len = 0;
    let mut push = |bytes: &[u8], len: &mut usize| -> bool {
        if *len + bytes.len() >= buf.len() {
            return false;
        }
        buf[*len..*len + bytes.len()].copy_from_slice(bytes);
        *len += bytes.len();
        true
    };
    if !(push(dir, &mut len) && push(b"/", &mut len) && push(name, &mut len)) {
        return false;
    }
    if let Some(mut pid) = pid {
        let mut digits = [0u8; 10];
        let mut n = 0;
        loop {
            digits[9 - n] = b'0' + (pid % 10) as u8;
            n += 1;
            pid /= 10;
            if pid == 0 {
                break;
            }
        }
        if !(push(b".", &mut len) && push(&digits[10 - n..], &mut len)) {
            return false;
        }
    }
    buf[len] = 0;
    true
}

fn trace_dir() -> Option<&'static [u8]> {
    // SAFETY: getenv with a NUL-terminated name; the result, when not null,
    // is a NUL-terminated string in the environment, which nothing here changes.
    let dir = unsafe { libc::getenv(c"HULL_HOT_TRACE".as_ptr()) };
    if dir.is_null() {
        return None;
    }
    // SAFETY: a non-null getenv result is a valid C string that lives as long
    // as the environment, i.e. for the whole of this training process.
    Some(unsafe { std::ffi::CStr::from_ptr(dir) }.to_bytes())
}

/// Numbers the guards 1..=n and maps the shared hit file.
///
/// # Safety
/// Called by SanitizerCoverage's module constructor with its guard section.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __sanitizer_cov_trace_pc_guard_init(start: *mut u32, stop: *mut u32) {
    // SAFETY: [start, stop) is the guard section the constructor passes; a
    // non-zero first guard means another module's constructor numbered it.
    unsafe {
        if start == stop || *start != 0 {
            return;
        }
        let n = stop.offset_from(start) as usize;
        for i in 0..n {
            *start.add(i) = i as u32 + 1;
        }
        GUARDS.store(n as u32, Ordering::Relaxed);
    }
    let Some(dir) = trace_dir() else { return };
    let mut path = [0u8; 512];
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u32;
    if !path_in(&mut path, dir, b"hits", Some(pid)) {
        return;
    }
    let len = n_guards() + 1;
    // SAFETY: a NUL-terminated path; the descriptor is closed once mapped
    // (the shared mapping keeps the file), and the mapping is never unmapped.
    unsafe {
        let fd = libc::open(
            path.as_ptr().cast(),
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
        );
        if fd < 0 {
            return;
        }
        if libc::ftruncate(fd, len as libc::off_t) == 0 {
            let map = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            );
            if map != libc::MAP_FAILED {
                HITS.store(map.cast(), Ordering::Relaxed);
            }
        }
        libc::close(fd);
    }
}

fn n_guards() -> usize {
    GUARDS.load(Ordering::Relaxed) as usize
}

/// Marks the function that owns `guard` as run. It calls nothing (a call
/// to an instrumented function would come straight back here).
///
/// # Safety
/// Called by instrumented code with a guard numbered by the init above.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __sanitizer_cov_trace_pc_guard(guard: *mut u32) {
    let hits = HITS.load(Ordering::Relaxed);
    // SAFETY: guards are numbered 1..=n and the map has n + 1 bytes.
    unsafe {
        let index = *guard as usize;
        if !hits.is_null() && index != 0 && index <= GUARDS.load(Ordering::Relaxed) as usize {
            *hits.add(index) = 1;
        }
    }
}

/// Writes the function address table (parallel to the guards) once, headed
/// by the run-time address of this function so the script can subtract the
/// load address.
///
/// # Safety
/// Called by SanitizerCoverage's module constructor with its pc table.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __sanitizer_cov_pcs_init(begin: *const usize, end: *const usize) {
    let Some(dir) = trace_dir() else { return };
    let mut path = [0u8; 512];
    if !path_in(&mut path, dir, b"pcs", None) {
        return;
    }
    let anchor = __sanitizer_cov_pcs_init as *const () as usize;
    // SAFETY: a NUL-terminated path; [begin, end) is the pc table the
    // constructor passes; O_EXCL makes the first process the only writer.
    unsafe {
        let fd = libc::open(
            path.as_ptr().cast(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o644,
        );
        if fd < 0 {
            return;
        }
        let head = anchor.to_ne_bytes();
        libc::write(fd, head.as_ptr().cast(), head.len());
        let bytes = (end as usize) - (begin as usize);
        libc::write(fd, begin.cast(), bytes);
        libc::close(fd);
    }
}
