//! distcc's exit codes (`src/exitcode.h`), shared by client and server.
//!
//! A compiler's own exit status is passed through untouched; these are only for failures of
//! distcc/distfarm itself.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    DistccFailed = 100,
    BadArguments = 101,
    BindFailed = 102,
    ConnectFailed = 103,
    CompilerCrashed = 104,
    OutOfMemory = 105,
    BadHostSpec = 106,
    IoError = 107,
    Truncated = 108,
    ProtocolError = 109,
    CompilerMissing = 110,
    RecursiveCall = 111,
    SetuidFailed = 112,
    AccessDenied = 113,
    Busy = 114,
    NoSuchFile = 115,
    NoHosts = 116,
    Gone = 117,
    Timeout = 118,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The raw wait status distccd puts in `STAT` when it could not run or collect the
    /// compiler: `W_EXITCODE(code, 0)`.
    pub fn as_wait_status(self) -> u32 {
        (self as u32) << 8
    }
}
