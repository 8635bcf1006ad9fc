//! The `--log` file and `--log-format text|json`, in the shape engines read
//! back when a runtime call fails: `{"level":"error","msg":"...","time":"..."}`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Sink {
    file: Option<File>,
    format: Format,
    debug: bool,
}

/// Where debug lines go when there is no log file, in a process whose
/// stderr is not hull's own (the container init): see [`set_forward`].
type Forward = Box<dyn Fn(&str) + Send>;
static FORWARD: Mutex<Option<Forward>> = Mutex::new(None);

/// In the container init, stderr belongs to the container: with --debug and
/// no --log file, debug lines are handed to `f` instead (the init sends
/// them to the parent over the sync channel, which logs them as its own).
/// With a --log file, the init writes to the file it inherited. `f` may
/// drop lines (once the channel is closed).
pub fn set_forward(f: Option<Forward>) {
    *FORWARD.lock().unwrap_or_else(|e| e.into_inner()) = f;
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    file: None,
    format: Format::Text,
    debug: false,
});

/// Opens the log file (if any). Errors opening it are reported, not fatal.
pub fn init(path: Option<&std::path::Path>, format: Format, debug: bool) {
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    sink.format = format;
    sink.debug = debug;
    if let Some(p) = path {
        match OpenOptions::new().create(true).append(true).open(p) {
            Ok(f) => sink.file = Some(f),
            Err(e) => eprintln!("hull: cannot open log file {}: {e}", p.display()),
        }
    }
}

pub fn debug_enabled() -> bool {
    SINK.lock().map(|s| s.debug).unwrap_or(false)
}

/// Writes one log record; debug records only with `--debug`. Without a
/// log file, debug lines go to stderr.
pub fn log(level: &str, msg: &str) {
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if level == "debug" && !sink.debug {
        return;
    }
    let line = match sink.format {
        Format::Json => format!(
            "{}\n",
            serde_json::json!({"level": level, "msg": msg, "time": rfc3339_now(false)})
        ),
        Format::Text => format!(
            "time=\"{}\" level={} msg=\"{}\"\n",
            rfc3339_now(false),
            level,
            msg.replace('"', "\\\"")
        ),
    };
    if sink.file.is_none() && level == "debug" {
        drop(sink);
        if let Some(f) = FORWARD.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            f(msg);
            return;
        }
        let _ = std::io::stderr().write_all(format!("hull: {level}: {msg}\n").as_bytes());
        return;
    }
    match sink.file.as_mut() {
        Some(f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None if level == "debug" || level == "warning" => {
            let _ = std::io::stderr().write_all(format!("hull: {level}: {msg}\n").as_bytes());
        }
        None => {}
    }
}

pub fn debug(msg: impl AsRef<str>) {
    log("debug", msg.as_ref());
}

pub fn warn(msg: impl AsRef<str>) {
    log("warning", msg.as_ref());
}

/// Current time as RFC 3339 in UTC, with nanoseconds when asked (Go's RFC3339Nano style).
pub fn rfc3339_now(nanos: bool) -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, if nanos { d.subsec_nanos() } else { 0 })
}

/// Formats a Unix time as RFC 3339 UTC; trailing zeros of the fraction are trimmed.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000, 500_000_000),
            "2023-11-14T22:13:20.5Z"
        );
    }
}
