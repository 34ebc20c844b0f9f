//! What a wrapper and the agent say to each other on the agent's unix socket, framed like
//! the distcc protocol (4-letter token, 8 hex digits, body).
//!
//! ```text
//! wrapper → agent   AGNT 4   SSHC <ssh config path or "">   AUTH <SSH_AUTH_SOCK or "">
//!                   BOFF <backoff seconds>   HELD 0|1   PIDN <wrapper pid>
//!                   FILE <source base name>   NHST n   n × HOST <host spec text>
//! agent → wrapper   PICK i  SLOT n  then  OPEN slot  STOR 0|1 (the far end keeps headers: pump
//!                                 trees go by hash; then the job's bytes follow, spliced)
//!                             or  FAIL <message> (the host could not be reached)
//!                   (for a TCP or local-socket host, OPEN at once: the slot is the
//!                    wrapper's, which connects by itself and hangs up when done)
//!                   NONE <message> (no candidate is usable)
//!
//! wrapper → agent   REPT <JobReport as JSON>       (a job ended; no answer)
//! monitor → agent   VIEW 1   agent → monitor   VIEW <AgentView as JSON>
//! wrapper → agent   BRWS <BrowseRequest as JSON>  (`+zeroconf`: keep the discovered list)
//!                   agent → wrapper   REDY 0 (the first list is in the file)
//!                                 or  NRDY <message> (browsing could not start)
//! ```
//!
//! The first token says which kind a connection is.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::agent_scan::ScanRequest;
use super::farm_view::{AgentView, JobReport};
use super::token::claimed_capacity;
use super::{ProtocolError, TokenReader, TokenWriter};

/// 3: the wrapper's pid and source (for `distfarm mon`) and the far end's header store.
/// 4: TCP and local-socket hosts are queued too; `PICK` tells the slot.
pub const VERSION: u32 = 4;
/// The version of the `VIEW` request.
pub const VIEW_VERSION: u32 = 1;
/// The longest JSON body either side accepts.
const JSON_LIMIT: u32 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    /// `DISTFARM_SSH_CONFIG`, if the wrapper has one.
    pub ssh_config: Option<String>,
    /// `SSH_AUTH_SOCK` of the wrapper.
    pub auth_sock: Option<String>,
    pub backoff: Duration,
    /// The wrapper already holds a distcc slot lock for the (single) host: open a channel
    /// without scheduling (lists with `localhost`, whose jobs run here).
    pub slot_held: bool,
    /// The wrapper's pid and source base name, for the monitor.
    pub pid: u32,
    pub file: String,
    /// Host spec texts, in the wrapper's order; the agent picks one.
    pub hosts: Vec<String>,
}

/// The agent's first answer, as soon as the job has its place: the wrapper starts its
/// preprocessor then, while the agent opens the channel (distcc, too, runs cpp while it
/// connects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Host `index` was chosen, in slot `slot` (what distcc's monitor shows).
    Host { index: usize, slot: u32 },
    /// No candidate is usable.
    NoHost { message: String },
}

/// The agent's second answer, after `Pick::Host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// The channel is open, in slot `slot`; the job's bytes follow. `stores_headers`: a
    /// distfarm session server is at the far end (see `protocol::hashed_tree`).
    Open { slot: u32, stores_headers: bool },
    /// The chosen host could not be reached.
    Failed { message: String },
}

fn optional(text: Vec<u8>) -> Option<String> {
    Some(String::from_utf8_lossy(&text).into_owned()).filter(|s| !s.is_empty())
}

impl JobRequest {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        w.int(b"AGNT", VERSION);
        w.string(b"SSHC", self.ssh_config.as_deref().unwrap_or("").as_bytes())?;
        w.string(b"AUTH", self.auth_sock.as_deref().unwrap_or("").as_bytes())?;
        w.int(b"BOFF", self.backoff.as_secs().min(u32::MAX.into()) as u32);
        w.int(b"HELD", u32::from(self.slot_held));
        w.int(b"PIDN", self.pid);
        w.string(b"FILE", self.file.as_bytes())?;
        w.int(b"NHST", self.hosts.len() as u32);
        for host in &self.hosts {
            w.string(b"HOST", host.as_bytes())?;
        }
        w.flush().await
    }

    pub async fn read<R: AsyncRead + Unpin>(r: &mut TokenReader<R>) -> Result<Self, ProtocolError> {
        let version = r.read_int("AGNT").await?;
        Self::read_after_header(version, r).await
    }

    /// Reads the rest of a request whose `AGNT` header (with `version`) was already read.
    pub async fn read_after_header<R: AsyncRead + Unpin>(
        version: u32,
        r: &mut TokenReader<R>,
    ) -> Result<Self, ProtocolError> {
        if version != VERSION {
            return Err(ProtocolError::UnsupportedVersion(version));
        }
        let ssh_config = optional(r.read_string("SSHC").await?);
        let auth_sock = optional(r.read_string("AUTH").await?);
        let backoff = Duration::from_secs(r.read_int("BOFF").await?.into());
        let slot_held = r.read_int("HELD").await? != 0;
        let pid = r.read_int("PIDN").await?;
        let file = String::from_utf8_lossy(&r.read_string("FILE").await?).into_owned();
        let count = r.read_int("NHST").await?;
        if count > 1000 {
            return Err(ProtocolError::TooLong {
                token: "NHST",
                len: count.into(),
                limit: 1000,
            });
        }
        let mut hosts = Vec::with_capacity(claimed_capacity(count));
        for _ in 0..count {
            hosts.push(String::from_utf8_lossy(&r.read_string("HOST").await?).into_owned());
        }
        Ok(JobRequest {
            ssh_config,
            auth_sock,
            backoff,
            slot_held,
            pid,
            file,
            hosts,
        })
    }
}

/// What a connection to the agent asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentRequest {
    Job(JobRequest),
    /// A pump-mode job's include scan.
    Scan(ScanRequest),
    Report(JobReport),
    View,
    /// `+zeroconf`: browse for servers and keep `<distcc_dir>/zeroconf/hosts` current.
    Browse(BrowseRequest),
}

/// What the agent browses for: the `DISTCC_DIR` whose zeroconf files it keeps, and the
/// wrapper's `PATH`, where `cc` says which servers fit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrowseRequest {
    /// `OsString`s, not paths: they serialize whatever their bytes.
    pub distcc_dir: std::ffi::OsString,
    pub path: Option<std::ffi::OsString>,
}

/// Sends a `BRWS` request and waits for its answer: `Err` carries the agent's reason.
pub async fn browse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &BrowseRequest,
) -> Result<Result<(), String>, ProtocolError> {
    let mut w = TokenWriter::new(&mut *stream);
    w.string(b"BRWS", &to_json(request))?;
    w.flush().await?;
    let mut r = TokenReader::new(stream, super::Limits::default());
    match r.read_any().await? {
        (token, _) if &token == b"REDY" => Ok(Ok(())),
        (token, len) if &token == b"NRDY" => {
            let body = r.read_body("NRDY", len, JSON_LIMIT).await?;
            Ok(Err(String::from_utf8_lossy(&body).into_owned()))
        }
        (other, _) => Err(ProtocolError::WrongToken {
            expected: "REDY",
            got: String::from_utf8_lossy(&other).into_owned(),
        }),
    }
}

/// The agent's answer to `BRWS`.
pub async fn write_browse_answer<W: AsyncWrite + Unpin>(
    w: &mut TokenWriter<W>,
    answer: Result<(), String>,
) -> Result<(), ProtocolError> {
    match answer {
        Ok(()) => w.int(b"REDY", 0),
        Err(message) => w.string(b"NRDY", message.as_bytes())?,
    }
    w.flush().await
}

impl AgentRequest {
    pub async fn read<R: AsyncRead + Unpin>(r: &mut TokenReader<R>) -> Result<Self, ProtocolError> {
        match r.read_any().await? {
            (token, version) if &token == b"AGNT" => Ok(AgentRequest::Job(
                JobRequest::read_after_header(version, r).await?,
            )),
            (token, version) if &token == b"SCAN" => Ok(AgentRequest::Scan(
                ScanRequest::read_after_header(version, r).await?,
            )),
            (token, len) if &token == b"REPT" => {
                let body = r.read_body("REPT", len, JSON_LIMIT).await?;
                Ok(AgentRequest::Report(from_json("REPT", &body)?))
            }
            (token, version) if &token == b"VIEW" => {
                if version != VIEW_VERSION {
                    return Err(ProtocolError::UnsupportedVersion(version));
                }
                Ok(AgentRequest::View)
            }
            (token, len) if &token == b"BRWS" => {
                let body = r.read_body("BRWS", len, JSON_LIMIT).await?;
                Ok(AgentRequest::Browse(from_json("BRWS", &body)?))
            }
            (other, _) => Err(ProtocolError::WrongToken {
                expected: "AGNT",
                got: String::from_utf8_lossy(&other).into_owned(),
            }),
        }
    }
}

fn from_json<T: serde::de::DeserializeOwned>(
    token: &'static str,
    body: &[u8],
) -> Result<T, ProtocolError> {
    serde_json::from_slice(body).map_err(|e| ProtocolError::BadBody {
        token,
        why: e.to_string(),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("plain data serializes")
}

/// A wrapper's report that one of its jobs ended.
pub async fn write_report<W: AsyncWrite + Unpin>(
    w: &mut TokenWriter<W>,
    report: &JobReport,
) -> Result<(), ProtocolError> {
    w.string(b"REPT", &to_json(report))?;
    w.flush().await
}

/// A monitor's request for the agent's view.
pub async fn write_view_request<W: AsyncWrite + Unpin>(
    w: &mut TokenWriter<W>,
) -> Result<(), ProtocolError> {
    w.int(b"VIEW", VIEW_VERSION);
    w.flush().await
}

/// The agent's answer to `VIEW`.
pub async fn write_view<W: AsyncWrite + Unpin>(
    w: &mut TokenWriter<W>,
    view: &AgentView,
) -> Result<(), ProtocolError> {
    w.string(b"VIEW", &to_json(view))?;
    w.flush().await
}

pub async fn read_view<R: AsyncRead + Unpin>(
    r: &mut TokenReader<R>,
) -> Result<AgentView, ProtocolError> {
    let len = r.read_int("VIEW").await?;
    let body = r.read_body("VIEW", len, JSON_LIMIT).await?;
    from_json("VIEW", &body)
}

impl Pick {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        match self {
            Pick::Host { index, slot } => {
                w.int(b"PICK", *index as u32);
                w.int(b"SLOT", *slot);
            }
            Pick::NoHost { message } => w.string(b"NONE", message.as_bytes())?,
        }
        w.flush().await
    }

    pub async fn read<R: AsyncRead + Unpin>(r: &mut TokenReader<R>) -> Result<Self, ProtocolError> {
        match r.read_any().await? {
            (token, value) if &token == b"NONE" => Ok(Pick::NoHost {
                message: String::from_utf8_lossy(&r.read_body("NONE", value, 65536).await?)
                    .into_owned(),
            }),
            (token, value) if &token == b"PICK" => Ok(Pick::Host {
                index: value as usize,
                slot: r.read_int("SLOT").await?,
            }),
            (other, _) => Err(ProtocolError::WrongToken {
                expected: "PICK",
                got: String::from_utf8_lossy(&other).into_owned(),
            }),
        }
    }
}

impl Channel {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        match self {
            Channel::Open {
                slot,
                stores_headers,
            } => {
                w.int(b"OPEN", *slot);
                w.int(b"STOR", u32::from(*stores_headers));
            }
            Channel::Failed { message } => w.string(b"FAIL", message.as_bytes())?,
        }
        w.flush().await
    }

    pub async fn read<R: AsyncRead + Unpin>(r: &mut TokenReader<R>) -> Result<Self, ProtocolError> {
        match r.read_any().await? {
            (token, value) if &token == b"OPEN" => Ok(Channel::Open {
                slot: value,
                stores_headers: r.read_int("STOR").await? != 0,
            }),
            (token, value) if &token == b"FAIL" => Ok(Channel::Failed {
                message: String::from_utf8_lossy(&r.read_body("FAIL", value, 65536).await?)
                    .into_owned(),
            }),
            (other, _) => Err(ProtocolError::WrongToken {
                expected: "OPEN",
                got: String::from_utf8_lossy(&other).into_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;

    #[tokio::test]
    async fn request_and_answers_round_trip() {
        let request = JobRequest {
            ssh_config: Some("/etc/farm/ssh_config".into()),
            auth_sock: None,
            backoff: Duration::from_secs(60),
            slot_held: false,
            pid: 4242,
            file: "foo.c".into(),
            hosts: vec!["@a/4".into(), "bob@b:/opt/distccd".into()],
        };
        let mut w = TokenWriter::new(Vec::new());
        request.write(&mut w).await.unwrap();
        let bytes = w.into_inner();
        let back = JobRequest::read(&mut TokenReader::new(&bytes[..], Limits::default()))
            .await
            .unwrap();
        assert_eq!(back, request);
        for pick in [
            Pick::Host { index: 1, slot: 5 },
            Pick::NoHost {
                message: "all backed off".into(),
            },
        ] {
            let mut w = TokenWriter::new(Vec::new());
            pick.write(&mut w).await.unwrap();
            let bytes = w.into_inner();
            let mut r = TokenReader::new(&bytes[..], Limits::default());
            assert_eq!(Pick::read(&mut r).await.unwrap(), pick);
        }
        for channel in [
            Channel::Open {
                slot: 3,
                stores_headers: true,
            },
            Channel::Failed {
                message: "refused".into(),
            },
        ] {
            let mut w = TokenWriter::new(Vec::new());
            channel.write(&mut w).await.unwrap();
            let bytes = w.into_inner();
            let mut r = TokenReader::new(&bytes[..], Limits::default());
            assert_eq!(Channel::read(&mut r).await.unwrap(), channel);
        }
    }
}
