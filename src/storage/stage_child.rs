//! The staging image's child (`rbd import-diff`, or the writer that reads
//! back), waited for beside the export with a limit once its stream has
//! ended, and a stage given up before any data.

use super::stage_writer::{StageFeed, StageTarget};
use super::ChildProcess;
use std::io;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Waits for the stage's `import-diff`. Once the stream has ended (`ended`
/// fires) it gets `stall` to exit: a new cluster that hangs on the last
/// writes must not hold the export, so the child is then stopped and the
/// stage counts as failed (the import falls back to the export file). After
/// an abort (`abort`) the limit is [`ABORT_GRACE`]: the stream is closed by
/// then, and a healthy `import-diff` exits at once on its end.
/// `stop` stops the child at once (the stage was dropped mid-stream).
pub async fn wait_stage_child(
    child: ChildProcess,
    stop: &CancellationToken,
    abort: &CancellationToken,
    ended: &tokio::sync::Notify,
    stall: Duration,
) -> io::Result<super::ChildExit> {
    let stop = stop.child_token();
    let wait = child.wait(&stop);
    tokio::pin!(wait);
    tokio::select! {
        r = &mut wait => return r,
        _ = ended.notified() => {}
    }
    let limit = if abort.is_cancelled() {
        stall.min(ABORT_GRACE)
    } else {
        stall
    };
    tokio::select! {
        r = &mut wait => r,
        _ = tokio::time::sleep(limit) => {
            stop.cancel();
            let _ = wait.await;
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("did not finish within {} s after the stream ended; stopped", limit.as_secs()),
            ))
        }
    }
}

/// How long an aborted stage's `import-diff` gets to exit on its own.
pub const ABORT_GRACE: Duration = Duration::from_secs(10);

/// A stage given up before any data: closing its stream ends `import-diff`
/// (it exits on the short stream, releasing its watch), then the image goes.
pub async fn abandon_stage(writer: Option<StageFeed>, child: Option<ChildProcess>, stage: Option<StageTarget<'_>>) {
    drop(writer);
    if let Some(c) = child {
        let _ = tokio::time::timeout(ABORT_GRACE, c.wait(&CancellationToken::new())).await;
    }
    if let Some(t) = stage {
        let _ = t.store.remove(t.image, &CancellationToken::new()).await;
    }
}
