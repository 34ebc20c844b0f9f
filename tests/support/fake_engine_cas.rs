//! The fake engine's CAS and ByteStream services ([`super::fake_engine`]): blobs by hash,
//! each upload checked against its digest, at gRPC's default 4 MiB message limit (so a
//! client that batches too much fails here as it would against a real engine).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use distfarm::reapi::bytestream_proto::byte_stream_server::ByteStream;
use distfarm::reapi::bytestream_proto::{
    QueryWriteStatusRequest, QueryWriteStatusResponse, ReadRequest, ReadResponse, WriteRequest,
    WriteResponse,
};
use distfarm::reapi::digest;
use distfarm::reapi::proto::content_addressable_storage_server::ContentAddressableStorage;
use distfarm::reapi::proto::{
    BatchReadBlobsRequest, BatchReadBlobsResponse, BatchUpdateBlobsRequest,
    BatchUpdateBlobsResponse, Digest, FindMissingBlobsRequest, FindMissingBlobsResponse,
    GetChunkMappingRequest, GetChunkMappingResponse, GetTreeRequest, GetTreeResponse,
    RegisterChunkMappingRequest, RegisterChunkMappingResponse, SpliceBlobRequest,
    SpliceBlobResponse, SplitBlobRequest, SplitBlobResponse, batch_read_blobs_response,
    batch_update_blobs_response,
};
use distfarm::reapi::rpc_proto;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::fake_engine::EngineState;

pub struct FakeCas(pub Arc<EngineState>);

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn ok() -> Option<rpc_proto::Status> {
    Some(rpc_proto::Status::default())
}

fn status(code: tonic::Code, message: &str) -> Option<rpc_proto::Status> {
    Some(rpc_proto::Status {
        code: code as i32,
        message: message.into(),
        ..Default::default()
    })
}

/// `[INSTANCE/]blobs/HASH/SIZE` or `[INSTANCE/]uploads/UUID/blobs/HASH/SIZE` → the digest.
fn resource_digest(name: &str) -> Result<Digest, Status> {
    let parts: Vec<&str> = name.split('/').collect();
    let at = parts
        .iter()
        .rposition(|p| *p == "blobs")
        .filter(|&i| parts.len() >= i + 3)
        .ok_or_else(|| Status::invalid_argument(format!("bad resource name {name}")))?;
    let size = parts[at + 2]
        .parse()
        .map_err(|_| Status::invalid_argument(format!("bad size in {name}")))?;
    Ok(Digest {
        hash: parts[at + 1].to_string(),
        size_bytes: size,
    })
}

#[tonic::async_trait]
impl ContentAddressableStorage for FakeCas {
    async fn find_missing_blobs(
        &self,
        request: Request<FindMissingBlobsRequest>,
    ) -> Result<Response<FindMissingBlobsResponse>, Status> {
        self.0.note_headers(&request);
        let blobs = self.0.blobs.lock().unwrap();
        let missing_blob_digests = request
            .into_inner()
            .blob_digests
            .into_iter()
            .filter(|d| !blobs.contains_key(&d.hash))
            .collect();
        Ok(Response::new(FindMissingBlobsResponse {
            missing_blob_digests,
        }))
    }

    async fn batch_update_blobs(
        &self,
        request: Request<BatchUpdateBlobsRequest>,
    ) -> Result<Response<BatchUpdateBlobsResponse>, Status> {
        self.0.batch_update_calls.fetch_add(1, Ordering::SeqCst);
        let responses = request
            .into_inner()
            .requests
            .into_iter()
            .map(|r| {
                let digest = r.digest.unwrap_or_default();
                let status = if digest::matches(&digest, &r.data) {
                    self.0.store(r.data);
                    ok()
                } else {
                    status(
                        tonic::Code::InvalidArgument,
                        "data does not match its digest",
                    )
                };
                batch_update_blobs_response::Response {
                    digest: Some(digest),
                    status,
                }
            })
            .collect();
        Ok(Response::new(BatchUpdateBlobsResponse { responses }))
    }

    async fn batch_read_blobs(
        &self,
        request: Request<BatchReadBlobsRequest>,
    ) -> Result<Response<BatchReadBlobsResponse>, Status> {
        let responses = request
            .into_inner()
            .digests
            .into_iter()
            .map(|digest| match self.0.blob_to_send(&digest) {
                Some(data) => batch_read_blobs_response::Response {
                    digest: Some(digest),
                    data,
                    status: ok(),
                    ..Default::default()
                },
                None => batch_read_blobs_response::Response {
                    digest: Some(digest),
                    status: status(tonic::Code::NotFound, "no such blob"),
                    ..Default::default()
                },
            })
            .collect();
        Ok(Response::new(BatchReadBlobsResponse { responses }))
    }

    type GetTreeStream = BoxStream<GetTreeResponse>;

    async fn get_tree(
        &self,
        _: Request<GetTreeRequest>,
    ) -> Result<Response<Self::GetTreeStream>, Status> {
        Err(Status::unimplemented("GetTree"))
    }

    async fn split_blob(
        &self,
        _: Request<SplitBlobRequest>,
    ) -> Result<Response<SplitBlobResponse>, Status> {
        Err(Status::unimplemented("SplitBlob"))
    }

    type GetChunkMappingStream = BoxStream<GetChunkMappingResponse>;

    async fn get_chunk_mapping(
        &self,
        _: Request<GetChunkMappingRequest>,
    ) -> Result<Response<Self::GetChunkMappingStream>, Status> {
        Err(Status::unimplemented("GetChunkMapping"))
    }

    async fn splice_blob(
        &self,
        _: Request<SpliceBlobRequest>,
    ) -> Result<Response<SpliceBlobResponse>, Status> {
        Err(Status::unimplemented("SpliceBlob"))
    }

    async fn register_chunk_mapping(
        &self,
        _: Request<Streaming<RegisterChunkMappingRequest>>,
    ) -> Result<Response<RegisterChunkMappingResponse>, Status> {
        Err(Status::unimplemented("RegisterChunkMapping"))
    }
}

#[tonic::async_trait]
impl ByteStream for FakeCas {
    type ReadStream = BoxStream<ReadResponse>;

    async fn read(
        &self,
        request: Request<ReadRequest>,
    ) -> Result<Response<Self::ReadStream>, Status> {
        self.0.bytestream_reads.fetch_add(1, Ordering::SeqCst);
        let digest = resource_digest(&request.into_inner().resource_name)?;
        let data = self
            .0
            .blob_to_send(&digest)
            .ok_or_else(|| Status::not_found("no such blob"))?;
        let chunks: Vec<Result<ReadResponse, Status>> = data
            .chunks(1 << 20)
            .map(|c| Ok(ReadResponse { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn write(
        &self,
        request: Request<Streaming<WriteRequest>>,
    ) -> Result<Response<WriteResponse>, Status> {
        self.0.bytestream_writes.fetch_add(1, Ordering::SeqCst);
        let mut stream = request.into_inner();
        let mut name = String::new();
        let mut data = Vec::new();
        while let Some(chunk) = stream.message().await? {
            if name.is_empty() {
                name = chunk.resource_name.clone();
            }
            if chunk.write_offset != data.len() as i64 {
                return Err(Status::invalid_argument("write_offset out of order"));
            }
            data.extend_from_slice(&chunk.data);
            if chunk.finish_write {
                break;
            }
        }
        let digest = resource_digest(&name)?;
        if !name.contains("/uploads/") && !name.starts_with("uploads/") {
            return Err(Status::invalid_argument(format!(
                "not an upload name: {name}"
            )));
        }
        if !digest::matches(&digest, &data) {
            return Err(Status::invalid_argument("data does not match its digest"));
        }
        let committed_size = data.len() as i64;
        self.0.store(data);
        Ok(Response::new(WriteResponse { committed_size }))
    }

    async fn query_write_status(
        &self,
        _: Request<QueryWriteStatusRequest>,
    ) -> Result<Response<QueryWriteStatusResponse>, Status> {
        Err(Status::unimplemented("QueryWriteStatus"))
    }
}
