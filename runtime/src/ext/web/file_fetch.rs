//! `fetch()` of `file:` URLs (Deno's fetch hands them to us): the file is
//! read whole, once `--allow-read` allows its path. Deno's own handler
//! needs the deno_fs crate's file system; reading through tokio does the
//! same for a GET of a local file.

use std::borrow::Cow;
use std::rc::Rc;

use bytes::Bytes;
use deno_core::futures::FutureExt;
use deno_core::url::Url;
use deno_core::{CancelFuture, CancelHandle, OpState};
use deno_fetch::{CancelableResponseFuture, FetchError, FetchHandler};
use deno_permissions::{OpenAccessKind, PermissionsContainer};
use http_body_util::{BodyExt, Full};

pub(super) struct ReadFile;

impl FetchHandler for ReadFile {
    fn fetch_file(&self, state: &mut OpState, url: &Url) -> (CancelableResponseFuture, Option<Rc<CancelHandle>>) {
        let cancel = CancelHandle::new_rc();
        let checked = url
            .to_file_path()
            .map_err(|()| FetchError::Io(std::io::Error::other(format!("'{url}' is not a local file path"))))
            .and_then(|path| {
                let permissions = state.borrow::<PermissionsContainer>();
                let checked = permissions.check_open(Cow::Owned(path), OpenAccessKind::Read, Some("fetch()"))?;
                Ok(checked.into_owned_path())
            });
        let url = url.to_string();
        let response = async move {
            let path = checked?;
            let bytes = tokio::fs::read(&path).await.map_err(|e| {
                FetchError::Io(std::io::Error::new(e.kind(), format!("cannot read '{}' for fetch('{url}'): {e}", path.display())))
            })?;
            let body = Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed();
            Ok(http::Response::new(body))
        }
        .or_cancel(&cancel)
        .boxed_local();
        (response, Some(cancel))
    }
}
