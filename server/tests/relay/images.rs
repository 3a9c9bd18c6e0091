//! Images' pictures through a real relay: uploaded in parts, kept once per
//! room however many images show one, fetched by a late joiner, and refused
//! with a sentence over the relay's cap or when an image names a picture the
//! room does not hold.

use tabula_server::Config;
use tabula_shared::blob::{Assembly, Blob, BlobId, Progress};
use tabula_shared::caps::MAX_BLOB_BYTES;
use tabula_shared::session_file::SessionFile;
use tabula_shared::{
    ClientMessage, ErrorCode, ObjectData, ObjectId, Op, OpKind, Point, ServerMessage,
};

use crate::support::{TestClient, TestRelay, stroke_op, test_config};

/// A picture of `bytes` bytes (any bytes: the relay never decodes them).
fn picture(bytes: usize, seed: u8) -> Blob {
    Blob::new(
        (0..bytes)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect::<Vec<u8>>(),
    )
}

/// An op that creates an image of `blob` at `at`.
fn image_op(blob: BlobId, at: f32) -> Op {
    Op::new(OpKind::Create {
        object: ObjectId::random(),
        data: ObjectData::image(blob, Point::new(at, at), Point::new(at + 64.0, at + 48.0)),
    })
}

/// Sends `blob` in its parts.
async fn upload(client: &mut TestClient, blob: &Blob) {
    for chunk in blob.chunks() {
        client.send(&ClientMessage::BlobPart(chunk)).await;
    }
}

/// Fetches the picture named `id`: the blob, or `None` when the relay says
/// the room does not hold it.
async fn fetch(client: &mut TestClient, id: BlobId) -> Option<Blob> {
    client.send(&ClientMessage::FetchBlob(id)).await;
    let mut assembly: Option<Assembly> = None;
    loop {
        let chunk = match client.recv().await {
            ServerMessage::BlobPart(chunk) => chunk,
            ServerMessage::NoBlob(missing) if missing == id => return None,
            ServerMessage::Op(_) => continue,
            other => panic!("expected a part of {id}, got {other:?}"),
        };
        let progress = match assembly.take() {
            None => Assembly::start(&chunk, MAX_BLOB_BYTES),
            Some(under_way) => under_way.push(&chunk),
        }
        .expect("the relay's parts are in order and match the name");
        match progress {
            Progress::More(next) => assembly = Some(next),
            Progress::Done(blob) => return Some(blob),
        }
    }
}

/// The relay's next refusal of this client's, with its code.
async fn refusal(client: &mut TestClient) -> (ErrorCode, String) {
    match client.recv().await {
        ServerMessage::Error { code, message } | ServerMessage::OpRefused { code, message, .. } => {
            (code, message)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_picture_is_kept_once_however_often_shown_and_a_late_joiner_fetches_it() {
    let data = tempfile::tempdir().unwrap();
    let relay = TestRelay::with_config(Config {
        data_dir: Some(data.path().to_path_buf()),
        ..test_config()
    })
    .await;
    let (mut ada, welcome) = TestClient::join(&relay, "gallery", "Ada").await;
    assert_eq!(welcome.max_blob_bytes, MAX_BLOB_BYTES);
    let photo = picture(300_000, 1);
    upload(&mut ada, &photo).await;
    let first = image_op(photo.id(), 0.0);
    ada.sequence(&first).await;
    // The same picture again, uploaded again (as a paste in another window
    // would), and shown a third time without uploading.
    upload(&mut ada, &photo).await;
    ada.sequence(&image_op(photo.id(), 100.0)).await;
    ada.sequence(&image_op(photo.id(), 200.0)).await;

    let (mut grace, _) = TestClient::join(&relay, "gallery", "Grace").await;
    let mut images = Vec::new();
    while images.len() < 3 {
        let op = grace.recv_op().await;
        if let OpKind::Create { data, .. } = op.op.kind {
            images.push(data.blob().expect("an image"));
        }
    }
    assert_eq!(images, vec![photo.id(); 3]);
    assert_eq!(fetch(&mut grace, photo.id()).await, Some(photo.clone()));

    let file = SessionFile::open_read_only(data.path().join("rooms/gallery.tabula")).unwrap();
    assert_eq!(file.blob_ids().unwrap(), vec![photo.id()], "one copy");
    assert_eq!(file.blob(photo.id()).unwrap(), Some(photo));
}

#[tokio::test]
async fn a_picture_over_the_relays_cap_is_refused_with_a_sentence_and_so_is_its_image() {
    let relay = TestRelay::with_config(Config {
        max_blob_bytes: 100 * 1024,
        ..test_config()
    })
    .await;
    let (mut ada, welcome) = TestClient::join(&relay, "small", "Ada").await;
    assert_eq!(welcome.max_blob_bytes, 100 * 1024);
    let poster = picture(250_000, 2);
    upload(&mut ada, &poster).await;
    let (code, sentence) = refusal(&mut ada).await;
    assert_eq!(code, ErrorCode::BlobRefused);
    assert_eq!(
        sentence,
        "The image is 245 KiB, and this relay takes images of at most 100 KiB: it was not shared."
    );
    ada.send(&ClientMessage::Op(image_op(poster.id(), 0.0)))
        .await;
    let (code, sentence) = refusal(&mut ada).await;
    assert_eq!(code, ErrorCode::BlobRefused);
    assert!(sentence.contains("does not have its picture"), "{sentence}");

    // The connection carries on, and the room holds nothing of the poster.
    ada.sequence(&stroke_op()).await;
    assert_eq!(fetch(&mut ada, poster.id()).await, None);
    // A picture within the cap goes through.
    let icon = picture(20_000, 3);
    upload(&mut ada, &icon).await;
    ada.sequence(&image_op(icon.id(), 0.0)).await;
}

#[tokio::test]
async fn a_picture_whose_bytes_are_not_its_name_is_refused() {
    let relay = TestRelay::start().await;
    let (mut ada, _) = TestClient::join(&relay, "forged", "Ada").await;
    let real = picture(70_000, 4);
    let mut parts = real.chunks();
    parts[1].bytes[0] ^= 0xff;
    for part in parts {
        ada.send(&ClientMessage::BlobPart(part)).await;
    }
    let (code, sentence) = refusal(&mut ada).await;
    assert_eq!(code, ErrorCode::BlobRefused);
    assert!(sentence.contains("damaged"), "{sentence}");
    assert_eq!(fetch(&mut ada, real.id()).await, None);
}
