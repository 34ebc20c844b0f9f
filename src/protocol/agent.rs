//! What a wrapper and the agent say to each other on the agent's unix socket, framed like
//! the distcc protocol (4-letter token, 8 hex digits, body).
//!
//! ```text
//! wrapper → agent   AGNT 1   SSHC <ssh config path or "">   AUTH <SSH_AUTH_SOCK or "">
//!                   BOFF <backoff seconds>   HELD 0|1   NHST n   n × HOST <host spec text>
//! agent → wrapper   PICK i  then  OPEN slot  STOR 0|1 (the far end keeps headers: pump
//!                                 trees go by hash; then the job's bytes follow, spliced)
//!                             or  FAIL <message> (the host could not be reached)
//!                   NONE <message> (no candidate is usable)
//! ```

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{ProtocolError, TokenReader, TokenWriter};

pub const VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    /// `DISTFARM_SSH_CONFIG`, if the wrapper has one.
    pub ssh_config: Option<String>,
    /// `SSH_AUTH_SOCK` of the wrapper.
    pub auth_sock: Option<String>,
    pub backoff: Duration,
    /// The wrapper already holds a distcc slot lock for the (single) host: open a channel
    /// without scheduling (lists that mix SSH hosts with TCP hosts or `localhost`).
    pub slot_held: bool,
    /// Host spec texts, in the wrapper's order; the agent picks one.
    pub hosts: Vec<String>,
}

/// The agent's first answer, as soon as the job has its place: the wrapper starts its
/// preprocessor then, while the agent opens the channel (distcc, too, runs cpp while it
/// connects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Host `index` was chosen.
    Host { index: usize },
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
        let count = r.read_int("NHST").await?;
        if count > 1000 {
            return Err(ProtocolError::TooLong {
                token: "NHST",
                len: count.into(),
                limit: 1000,
            });
        }
        let mut hosts = Vec::with_capacity(count as usize);
        for _ in 0..count {
            hosts.push(String::from_utf8_lossy(&r.read_string("HOST").await?).into_owned());
        }
        Ok(JobRequest {
            ssh_config,
            auth_sock,
            backoff,
            slot_held,
            hosts,
        })
    }
}

impl Pick {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        match self {
            Pick::Host { index } => w.int(b"PICK", *index as u32),
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
            Pick::Host { index: 1 },
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
