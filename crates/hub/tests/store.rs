//! One behaviour suite for the blob stores, run on a local folder and on a real S3-compatible server.
//!
//! S3 runs when `CONTENTHUB_TEST_S3_ENDPOINT` (and `_BUCKET`, `_ACCESS_KEY`, `_SECRET_KEY`) name one;
//! scripts/test.sh starts s3s-fs on 127.0.0.1 for it.

use bytes::Bytes;
use hub::store::{BlobKey, BlobStore, LocalStore, S3Settings, S3Store, StoreError};

fn key(k: &str) -> BlobKey {
    BlobKey::new(k).unwrap()
}

/// Deterministic bytes that differ at every offset, so that misplaced ranges show.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 251) as u8).wrapping_add(seed)).collect()
}

async fn suite(store: &dyn BlobStore, reopen: &dyn Fn() -> Box<dyn BlobStore>, run: &str) {
    let root = format!("suite-{run}");
    let small = key(&format!("{root}/a/small.bin"));
    let data = pattern(1000, 1);
    assert_eq!(store.put_stream(&small, &mut &data[..]).await.unwrap(), 1000);
    assert_eq!(store.size(&small).await.unwrap(), 1000);
    assert_eq!(&store.get_range(&small, 0..10).await.unwrap()[..], &data[..10]);
    assert_eq!(&store.get_range(&small, 990..1000).await.unwrap()[..], &data[990..]);
    assert_eq!(store.get_range(&small, 5..5).await.unwrap().len(), 0);
    assert!(matches!(store.get_range(&small, 990..1001).await, Err(StoreError::BadRange { .. })));

    // Replacing keeps one object; empty objects exist.
    let replaced = pattern(10, 2);
    store.put_stream(&small, &mut &replaced[..]).await.unwrap();
    assert_eq!(&store.get_range(&small, 0..10).await.unwrap()[..], &replaced[..]);
    let empty = key(&format!("{root}/a/empty.bin"));
    assert_eq!(store.put_stream(&empty, &mut &[][..]).await.unwrap(), 0);
    assert_eq!(store.size(&empty).await.unwrap(), 0);

    // A streamed put bigger than one part (20 MiB) is stored whole and in order.
    let big = key(&format!("{root}/b/big.bin"));
    let big_data = pattern(20 << 20, 3);
    assert_eq!(store.put_stream(&big, &mut &big_data[..]).await.unwrap(), 20 << 20);
    let at = (13 << 20) - 5;
    assert_eq!(&store.get_range(&big, at..at + 100).await.unwrap()[..], &big_data[at as usize..at as usize + 100]);

    let listed = store.list(&format!("{root}/")).await.unwrap();
    let keys: Vec<_> = listed.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    assert_eq!(
        keys,
        vec![
            (format!("{root}/a/empty.bin").as_str(), 0),
            (format!("{root}/a/small.bin").as_str(), 10),
            (format!("{root}/b/big.bin").as_str(), 20 << 20)
        ]
    );
    assert_eq!(store.list(&format!("{root}/b/")).await.unwrap().len(), 1);

    // Multipart in three parts, the last one continued by another instance: resumable state is
    // just the upload id and the part refs.
    let joined = key(&format!("{root}/c/joined.bin"));
    let parts: Vec<Vec<u8>> = vec![pattern(5 << 20, 4), pattern(5 << 20, 5), pattern(1234, 6)];
    let upload = store.create_multipart(&joined).await.unwrap();
    let mut refs = vec![store.put_part(&joined, &upload, 0, Bytes::from(parts[0].clone())).await.unwrap()];
    let other = reopen();
    refs.push(other.put_part(&joined, &upload, 1, Bytes::from(parts[1].clone())).await.unwrap());
    refs.push(other.put_part(&joined, &upload, 2, Bytes::from(parts[2].clone())).await.unwrap());
    other.complete_multipart(&joined, &upload, refs).await.unwrap();
    let whole: Vec<u8> = parts.concat();
    assert_eq!(store.size(&joined).await.unwrap(), whole.len() as u64);
    let boundary = (5 << 20) - 3;
    assert_eq!(
        &store.get_range(&joined, boundary..boundary + 6).await.unwrap()[..],
        &whole[boundary as usize..boundary as usize + 6]
    );
    let tail = whole.len() as u64 - 1234;
    assert_eq!(&store.get_range(&joined, tail..whole.len() as u64).await.unwrap()[..], &parts[2][..]);

    // An aborted upload leaves nothing behind.
    let aborted = key(&format!("{root}/c/aborted.bin"));
    let upload = store.create_multipart(&aborted).await.unwrap();
    store.put_part(&aborted, &upload, 0, Bytes::from(pattern(100, 7))).await.unwrap();
    store.abort_multipart(&aborted, &upload).await.unwrap();
    assert!(matches!(store.size(&aborted).await, Err(StoreError::NotFound(_))));

    for k in [&small, &empty, &big, &joined] {
        store.delete(k).await.unwrap();
    }
    store.delete(&small).await.expect("deleting twice is fine");
    assert!(matches!(store.size(&small).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.get_range(&small, 0..1).await, Err(StoreError::NotFound(_))));
    assert!(store.list(&format!("{root}/")).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_behaviour_on_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let store = LocalStore::open(&root).await.unwrap();
    let reopen = move || -> Box<dyn BlobStore> {
        Box::new(tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(LocalStore::open(root.clone())).unwrap()
        }))
    };
    suite(&store, &reopen, "local").await;
    // Nothing is left in staging.
    let staging: Vec<_> = std::fs::read_dir(dir.path().join(".multipart")).unwrap().collect();
    assert!(staging.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_behaviour_on_s3() {
    let Some(settings) = testkit::s3_settings() else { return };
    let var = |name: &str| std::env::var(name).unwrap();
    assert!(!format!("{settings:?}").contains(&var("CONTENTHUB_TEST_S3_SECRET_KEY")), "Debug hides the secret");
    let forged = S3Store::new(S3Settings { secret_access_key: Some("wrong".into()), ..settings.clone() }).unwrap();
    let refused = forged.put_stream(&key("signature-check"), &mut &b"x"[..]).await;
    assert!(matches!(refused, Err(StoreError::Backend(_))), "a wrong secret is refused: {refused:?}");
    let store = S3Store::new(settings.clone()).unwrap();
    let again = settings.clone();
    let reopen = move || -> Box<dyn BlobStore> { Box::new(S3Store::new(again.clone()).unwrap()) };
    suite(&store, &reopen, &format!("s3-{}", std::process::id())).await;

    // A prefix keeps a hub's keys in a folder of the bucket: listed without it, unseen by others.
    let run = testkit::unique("prefix").replace('_', "-");
    let prefixed = |prefix: &str| S3Store::new(S3Settings { prefix: prefix.to_owned(), ..settings.clone() }).unwrap();
    let (one, two) = (prefixed(&format!("{run}/one/")), prefixed(&format!("/{run}/two")));
    one.put_stream(&key("a/x.bin"), &mut &b"one"[..]).await.unwrap();
    two.put_stream(&key("a/x.bin"), &mut &b"two!"[..]).await.unwrap();
    assert_eq!(one.list("a/").await.unwrap(), vec![("a/x.bin".to_owned(), 3)]);
    assert_eq!(one.list("").await.unwrap(), vec![("a/x.bin".to_owned(), 3)]);
    assert_eq!(&two.get_range(&key("a/x.bin"), 0..4).await.unwrap()[..], b"two!");
    assert_eq!(store.size(&key(&format!("{run}/one/a/x.bin"))).await.unwrap(), 3, "under the prefix in the bucket");
    assert!(one.describe().contains(&format!("/{run}/one/")), "{}", one.describe());
    let climbing = S3Store::new(S3Settings { prefix: "../up".into(), ..settings.clone() });
    assert!(matches!(climbing, Err(StoreError::InvalidKey(k)) if k == "../up"), "no climbing out");
    for store in [&one, &two] {
        store.delete(&key("a/x.bin")).await.unwrap();
    }
}
