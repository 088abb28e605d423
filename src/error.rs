//! Status codes and the error type every layer returns.

use std::fmt;

/// The outcome classes of API.md, as Rust sees them. `ffi` maps them to `SSC_*` integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    Miss,
    Pending,
    TimedOut,
    InvalidArgument,
    QuotaExceeded,
    Malformed,
    Io,
    Locked,
    Corrupt,
    Cancelled,
    Network,
    Internal,
}

impl Status {
    /// The C value of this status (API.md's table).
    pub fn code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Miss => 1,
            Status::Pending => 2,
            Status::TimedOut => 3,
            Status::InvalidArgument => -1,
            Status::QuotaExceeded => -2,
            Status::Malformed => -3,
            Status::Io => -4,
            Status::Locked => -5,
            Status::Corrupt => -6,
            Status::Cancelled => -7,
            Status::Network => -8,
            Status::Internal => -99,
        }
    }

    /// The name of the C constant.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "SSC_OK",
            Status::Miss => "SSC_MISS",
            Status::Pending => "SSC_PENDING",
            Status::TimedOut => "SSC_TIMED_OUT",
            Status::InvalidArgument => "SSC_ERR_INVALID_ARGUMENT",
            Status::QuotaExceeded => "SSC_ERR_QUOTA_EXCEEDED",
            Status::Malformed => "SSC_ERR_MALFORMED",
            Status::Io => "SSC_ERR_IO",
            Status::Locked => "SSC_ERR_LOCKED",
            Status::Corrupt => "SSC_ERR_CORRUPT",
            Status::Cancelled => "SSC_ERR_CANCELLED",
            Status::Network => "SSC_ERR_NETWORK",
            Status::Internal => "SSC_ERR_INTERNAL",
        }
    }

    pub const ALL: [Status; 13] = [
        Status::Ok,
        Status::Miss,
        Status::Pending,
        Status::TimedOut,
        Status::InvalidArgument,
        Status::QuotaExceeded,
        Status::Malformed,
        Status::Io,
        Status::Locked,
        Status::Corrupt,
        Status::Cancelled,
        Status::Network,
        Status::Internal,
    ];

    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// A failure with its status and a message for `ssc_last_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(Status::InvalidArgument, message)
    }

    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(Status::Internal, message)
    }

    /// An I/O failure, naming what was being done, the path and the errno name (ENOSPC, EACCES, …).
    pub fn io(what: &str, path: &std::path::Path, err: &std::io::Error) -> Error {
        Error::new(
            Status::Io,
            format!("{what} {}: {}", path.display(), describe_io(err)),
        )
    }
}

/// "ENOSPC (No space left on device)" rather than just the prose, so hosts can grep for the cause.
pub fn describe_io(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => format!("{} ({})", errno_name(code), err),
        None => err.to_string(),
    }
}

fn errno_name(code: i32) -> &'static str {
    match code {
        libc::ENOSPC => "ENOSPC",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EIO => "EIO",
        libc::ENOENT => "ENOENT",
        libc::EROFS => "EROFS",
        libc::EDQUOT => "EDQUOT",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EEXIST => "EEXIST",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::EINVAL => "EINVAL",
        libc::EBADF => "EBADF",
        libc::ENOMEM => "ENOMEM",
        libc::EWOULDBLOCK => "EWOULDBLOCK",
        libc::EINTR => "EINTR",
        _ => "errno",
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.message)
    }
}

impl std::error::Error for Error {}
