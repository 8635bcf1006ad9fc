//! hull's error type: every failure carries what was being done (file,
//! config field, syscall) so the one line on stderr explains itself.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem in config.json, located by its JSON pointer (e.g. `/process/user/uid`).
    #[error("{file}: {pointer}: {msg}")]
    Config {
        file: String,
        pointer: String,
        msg: String,
    },
    /// A syscall or I/O operation failed.
    #[error("{context}: {errno}")]
    Sys {
        context: String,
        errno: nix::errno::Errno,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("{0}")]
    Msg(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn msg(m: impl fmt::Display) -> Self {
        Error::Msg(m.to_string())
    }

    pub fn config(file: &str, pointer: &str, msg: impl fmt::Display) -> Self {
        Error::Config {
            file: file.to_string(),
            pointer: pointer.to_string(),
            msg: msg.to_string(),
        }
    }

    /// Prefixes the message with more context, keeping the original cause.
    pub fn wrap(self, context: impl fmt::Display) -> Self {
        Error::Msg(format!("{context}: {self}"))
    }
}

/// An I/O error in the words of its errno ("ENOENT: No such file or
/// directory"), without Rust's "(os error 2)".
pub fn io_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).to_string(),
        None => e.to_string(),
    }
}

/// Adds context to `nix` and `std::io` results.
pub trait Context<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            context: f(),
            errno,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| match e.raw_os_error() {
            Some(code) => Error::Sys {
                context: f(),
                errno: nix::errno::Errno::from_raw(code),
            },
            None => Error::Io {
                context: f(),
                source: e,
            },
        })
    }
}

impl<T> Context<T> for Result<T> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| e.wrap(f()))
    }
}

/// Shorthand for `Err(Error::Msg(format!(...)))`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::Msg(format!($($arg)*)))
    };
}
