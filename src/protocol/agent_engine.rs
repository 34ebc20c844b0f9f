//! An engine job on the agent's socket. The agent keeps one gRPC channel per `grpc://`
//! endpoint, so a wrapper given an engine's slot does not connect by itself: on the same
//! connection, after `OPEN`, it hands the agent the Action it prepared and reads back how
//! the job ended — the compiler's exit code, output and object, or the engine's failure
//! exactly as it happened (so that blame and exit codes are what a direct call gives).
//!
//! ```text
//! wrapper → agent   ACTN <timeout s>   NBLB n   n × BLOB <bytes>
//!                   (blob 0 is the Action, blob 1 its Command — whose first output path
//!                   is the object, the others extra outputs —, then its inputs)
//! agent → wrapper   DONE <exit code>   SRCE 0|1|2 (action cache, Execute's cache, executed)
//!                   UPLD <blobs uploaded>   SOUT <bytes>   SERR <bytes>
//!                   then OBJT <bytes> or NOBJ 0
//!                   then NXTR n   n × (XPTH <path>   XTRA <bytes>)   (the extra outputs)
//!               or  RERR <the ReapiError as JSON>
//! ```

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::token::claimed_capacity;
use super::{ProtocolError, TokenReader, TokenWriter};
use crate::reapi::error::ReapiError;
use crate::reapi::run::{Finished, ResultSource};

/// No Action has more inputs than this: a bound on what the agent allocates.
const MAX_BLOBS: u32 = 1_000_000;
/// A compile writes a few files besides its object at most (`.dwo`).
const MAX_EXTRAS: u32 = 16;

/// A prepared Action, as the blobs that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest {
    /// The whole job's bound: uploading, compiling, downloading.
    pub timeout: Duration,
    /// The Action, its Command, then every other blob the engine may lack.
    pub blobs: Vec<Vec<u8>>,
}

impl ActionRequest {
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut TokenWriter<W>,
    ) -> Result<(), ProtocolError> {
        w.int(
            b"ACTN",
            u32::try_from(self.timeout.as_secs()).unwrap_or(u32::MAX),
        );
        w.int(b"NBLB", count(self.blobs.len())?);
        for blob in &self.blobs {
            w.string(b"BLOB", blob)?;
        }
        w.flush().await
    }

    /// `None`: the wrapper hung up instead (its preprocessor failed, or it gave up).
    pub async fn read<R: AsyncRead + Unpin>(
        r: &mut TokenReader<R>,
    ) -> Result<Option<Self>, ProtocolError> {
        let timeout = match r.read_int("ACTN").await {
            Ok(secs) => Duration::from_secs(secs.into()),
            Err(ProtocolError::Truncated { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let n = r.read_int("NBLB").await?;
        if !(2..=MAX_BLOBS).contains(&n) {
            return Err(ProtocolError::BadBody {
                token: "NBLB",
                why: format!("{n} blobs (an Action and its Command at least)"),
            });
        }
        let mut blobs = Vec::with_capacity(claimed_capacity(n));
        for _ in 0..n {
            let len = r.read_int("BLOB").await?;
            let limit = r.limits().max_body;
            blobs.push(r.read_body("BLOB", len, limit).await?);
        }
        Ok(Some(ActionRequest { timeout, blobs }))
    }
}

/// Writes how the job ended.
pub async fn write_answer<W: AsyncWrite + Unpin>(
    w: &mut TokenWriter<W>,
    answer: &Result<Finished, ReapiError>,
) -> Result<(), ProtocolError> {
    match answer {
        Ok(finished) => {
            w.int(b"DONE", finished.exit_code as u32);
            w.int(b"SRCE", finished.source.number());
            w.int(b"UPLD", count(finished.uploaded)?);
            w.string(b"SOUT", &finished.stdout)?;
            w.string(b"SERR", &finished.stderr)?;
            match &finished.object {
                Some(object) => w.string(b"OBJT", object)?,
                None => w.int(b"NOBJ", 0),
            }
            w.int(b"NXTR", count(finished.extras.len())?);
            for (path, bytes) in &finished.extras {
                w.string(b"XPTH", path.as_bytes())?;
                w.string(b"XTRA", bytes)?;
            }
        }
        Err(error) => {
            let json = serde_json::to_vec(error).map_err(|e| ProtocolError::BadBody {
                token: "RERR",
                why: e.to_string(),
            })?;
            w.string(b"RERR", &json)?;
        }
    }
    w.flush().await
}

/// Reads how the job ended.
pub async fn read_answer<R: AsyncRead + Unpin>(
    r: &mut TokenReader<R>,
) -> Result<Result<Finished, ReapiError>, ProtocolError> {
    let limit = r.limits().max_body;
    let (token, value) = r.read_any().await?;
    match &token {
        b"DONE" => {}
        b"RERR" => {
            let json = r.read_body("RERR", value, limit).await?;
            let error = serde_json::from_slice(&json).map_err(|e| ProtocolError::BadBody {
                token: "RERR",
                why: e.to_string(),
            })?;
            return Ok(Err(error));
        }
        other => {
            return Err(ProtocolError::WrongToken {
                expected: "DONE or RERR",
                got: String::from_utf8_lossy(other).into_owned(),
            });
        }
    }
    let exit_code = value as i32;
    let n = r.read_int("SRCE").await?;
    let source = ResultSource::from_number(n).ok_or_else(|| ProtocolError::BadBody {
        token: "SRCE",
        why: format!("no result source {n}"),
    })?;
    let uploaded = r.read_int("UPLD").await? as usize;
    let stdout = read_bulk(r, "SOUT").await?;
    let stderr = read_bulk(r, "SERR").await?;
    let (token, value) = r.read_any().await?;
    let object = match &token {
        b"OBJT" => Some(r.read_body("OBJT", value, limit).await?),
        b"NOBJ" => None,
        other => {
            return Err(ProtocolError::WrongToken {
                expected: "OBJT or NOBJ",
                got: String::from_utf8_lossy(other).into_owned(),
            });
        }
    };
    let n = r.read_int("NXTR").await?;
    if n > MAX_EXTRAS {
        return Err(ProtocolError::BadBody {
            token: "NXTR",
            why: format!("{n} extra outputs (at most {MAX_EXTRAS})"),
        });
    }
    let mut extras = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let path =
            String::from_utf8(read_bulk(r, "XPTH").await?).map_err(|_| ProtocolError::BadBody {
                token: "XPTH",
                why: "not UTF-8".into(),
            })?;
        extras.push((path, read_bulk(r, "XTRA").await?));
    }
    Ok(Ok(Finished {
        extras,
        exit_code,
        stdout,
        stderr,
        object,
        source,
        uploaded,
    }))
}

async fn read_bulk<R: AsyncRead + Unpin>(
    r: &mut TokenReader<R>,
    token: &'static str,
) -> Result<Vec<u8>, ProtocolError> {
    let len = r.read_int(token).await?;
    let limit = r.limits().max_body;
    r.read_body(token, len, limit).await
}

fn count(n: usize) -> Result<u32, ProtocolError> {
    u32::try_from(n).map_err(|_| ProtocolError::TooLong {
        token: "NBLB",
        len: n as u64,
        limit: u32::MAX.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;

    async fn round_trip_answer(answer: Result<Finished, ReapiError>) -> String {
        let mut wire = Vec::new();
        write_answer(&mut TokenWriter::new(&mut wire), &answer)
            .await
            .unwrap();
        let mut reader = TokenReader::new(&wire[..], Limits::default());
        let back = read_answer(&mut reader).await.unwrap();
        format!("{back:?}")
    }

    #[tokio::test]
    async fn an_action_request_arrives_as_it_was_sent() {
        let request = ActionRequest {
            timeout: Duration::from_secs(300),
            blobs: vec![b"action".to_vec(), b"command".to_vec(), Vec::new()],
        };
        let mut wire = Vec::new();
        request
            .write(&mut TokenWriter::new(&mut wire))
            .await
            .unwrap();
        let mut reader = TokenReader::new(&wire[..], Limits::default());
        let back = ActionRequest::read(&mut reader).await.unwrap();
        assert_eq!(back, Some(request));
    }

    #[tokio::test]
    async fn a_wrapper_that_hangs_up_instead_sends_no_action() {
        let mut reader = TokenReader::new(&b""[..], Limits::default());
        assert_eq!(ActionRequest::read(&mut reader).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_action_without_its_command_is_refused() {
        let mut wire = Vec::new();
        let mut w = TokenWriter::new(&mut wire);
        w.int(b"ACTN", 1);
        w.int(b"NBLB", 1);
        w.string(b"BLOB", b"action").unwrap();
        w.flush().await.unwrap();
        let mut reader = TokenReader::new(&wire[..], Limits::default());
        assert!(ActionRequest::read(&mut reader).await.is_err());
    }

    #[tokio::test]
    async fn a_finished_job_and_an_engine_failure_come_back_unchanged() {
        let finished = Finished {
            exit_code: 1,
            stdout: b"out".to_vec(),
            stderr: b"x.c:1: error".to_vec(),
            object: None,
            extras: Vec::new(),
            source: ResultSource::Executed,
            uploaded: 3,
        };
        let expected = format!("{:?}", Ok::<_, ReapiError>(finished.clone()));
        assert_eq!(round_trip_answer(Ok(finished)).await, expected);
        let hit = Finished {
            exit_code: 0,
            object: Some(b"\x7fELF".to_vec()),
            extras: vec![("sub/x.dwo".into(), b"\x7fELF dwo".to_vec())],
            source: ResultSource::ActionCache,
            uploaded: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let expected = format!("{:?}", Ok::<_, ReapiError>(hit.clone()));
        assert_eq!(round_trip_answer(Ok(hit)).await, expected);
        let failure = ReapiError::call(
            "grpc://e:1",
            "Execute",
            &tonic::Status::unavailable("worker lost"),
        );
        let expected = format!("{:?}", Err::<Finished, _>(&failure));
        assert_eq!(round_trip_answer(Err(failure)).await, expected);
    }
}
