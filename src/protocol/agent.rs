//! What a wrapper and the agent say to each other on the agent's unix socket, framed like
//! the distcc protocol (4-letter token, 8 hex digits, body).
//!
//! ```text
//! wrapper → agent   AGNT 1   SSHC <ssh config path or "">   AUTH <SSH_AUTH_SOCK or "">
//!                   BOFF <backoff seconds>   HELD 0|1   NHST n   n × HOST <host spec text>
//! agent → wrapper   PICK i  then  OPEN slot (the job's bytes follow, spliced to the host)
//!                             or  FAIL <message> (the host could not be reached)
//!                   NONE <message> (no candidate is usable)
//! ```

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::{ProtocolError, TokenReader, TokenWriter};

pub const VERSION: u32 = 1;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Host `index` was chosen, in slot `slot`, and its channel is open.
    Open { index: usize, slot: u32 },
    /// Host `index` was chosen but could not be reached.
    Failed { index: usize, message: String },
    /// No candidate is usable.
    NoHost { message: String },
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

impl Answer {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        match self {
            Answer::Open { index, slot } => {
                w.int(b"PICK", *index as u32);
                w.int(b"OPEN", *slot);
            }
            Answer::Failed { index, message } => {
                w.int(b"PICK", *index as u32);
                w.string(b"FAIL", message.as_bytes())?;
            }
            Answer::NoHost { message } => w.string(b"NONE", message.as_bytes())?,
        }
        w.flush().await
    }

    pub async fn read<R: AsyncRead + Unpin>(r: &mut TokenReader<R>) -> Result<Self, ProtocolError> {
        let (token, value) = r.read_any().await?;
        match &token {
            b"NONE" => Ok(Answer::NoHost {
                message: String::from_utf8_lossy(&r.read_body("NONE", value, 65536).await?)
                    .into_owned(),
            }),
            b"PICK" => {
                let index = value as usize;
                let (token, value) = r.read_any().await?;
                match &token {
                    b"OPEN" => Ok(Answer::Open { index, slot: value }),
                    b"FAIL" => {
                        let message =
                            String::from_utf8_lossy(&r.read_body("FAIL", value, 65536).await?)
                                .into_owned();
                        Ok(Answer::Failed { index, message })
                    }
                    other => Err(ProtocolError::WrongToken {
                        expected: "OPEN",
                        got: String::from_utf8_lossy(other).into_owned(),
                    }),
                }
            }
            other => Err(ProtocolError::WrongToken {
                expected: "PICK",
                got: String::from_utf8_lossy(other).into_owned(),
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
        for answer in [
            Answer::Open { index: 1, slot: 3 },
            Answer::Failed {
                index: 0,
                message: "refused".into(),
            },
            Answer::NoHost {
                message: "all backed off".into(),
            },
        ] {
            let mut w = TokenWriter::new(Vec::new());
            answer.write(&mut w).await.unwrap();
            let bytes = w.into_inner();
            assert_eq!(
                Answer::read(&mut TokenReader::new(&bytes[..], Limits::default()))
                    .await
                    .unwrap(),
                answer
            );
        }
    }
}
