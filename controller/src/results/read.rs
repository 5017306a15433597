//! Reads result pages back from deep storage as a stream of batches, decoding the Arrow IPC
//! bytes as they arrive (a page is never held whole).

use super::page_path;
use arrow::buffer::Buffer;
use arrow::ipc::reader::StreamDecoder;
use arrow::record_batch::RecordBatch;
use futures::stream::{BoxStream, StreamExt};
use msq_engine::{MsqError, Result};
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::VecDeque;
use std::sync::Arc;

/// The batches of page `page` of `task_id`'s results, in order.
pub fn read_page(store: Arc<dyn ObjectStore>, task_id: &str, page: u64) -> BoxStream<'static, Result<RecordBatch>> {
    let path = match page_path(task_id, page) {
        Ok(p) => p,
        Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
    };
    let open = async move {
        let bytes = store.get(&path).await.map_err(MsqError::from)?.into_stream();
        Ok::<_, MsqError>(decode(bytes))
    };
    futures::stream::once(open)
        .flat_map(|r| match r {
            Ok(s) => s,
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        })
        .boxed()
}

/// The pages `pages` of `task_id`'s results, one after the other.
pub fn read_pages(
    store: Arc<dyn ObjectStore>,
    task_id: String,
    pages: Vec<u64>,
) -> BoxStream<'static, Result<RecordBatch>> {
    futures::stream::iter(pages)
        .flat_map(move |p| read_page(store.clone(), &task_id, p))
        .boxed()
}

/// Decodes an IPC stream from its byte chunks.
fn decode(bytes: BoxStream<'static, object_store::Result<bytes::Bytes>>) -> BoxStream<'static, Result<RecordBatch>> {
    struct State {
        bytes: BoxStream<'static, object_store::Result<bytes::Bytes>>,
        decoder: StreamDecoder,
        ready: VecDeque<RecordBatch>,
        done: bool,
    }
    let state = State {
        bytes,
        decoder: StreamDecoder::new(),
        ready: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(b) = s.ready.pop_front() {
                return Some((Ok(b), s));
            }
            if s.done {
                return None;
            }
            match s.bytes.next().await {
                Some(Ok(chunk)) => {
                    let mut buf = Buffer::from(chunk);
                    while !buf.is_empty() {
                        match s.decoder.decode(&mut buf) {
                            Ok(Some(batch)) => s.ready.push_back(batch),
                            Ok(None) => {}
                            Err(e) => {
                                s.done = true;
                                return Some((Err(MsqError::from(e)), s));
                            }
                        }
                    }
                }
                Some(Err(e)) => {
                    s.done = true;
                    return Some((Err(MsqError::from(e)), s));
                }
                None => {
                    s.done = true;
                    if let Err(e) = s.decoder.finish() {
                        return Some((Err(MsqError::from(e)), s));
                    }
                }
            }
        }
    })
    .boxed()
}
