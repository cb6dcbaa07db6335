//! The dedicated `LISTEN` connection: a notification on
//! [`super::postgres::CHANNEL`] wakes the worker at once. The connection is
//! re-made after a failure; meanwhile the worker's polling covers (and
//! behind a transaction-mode pooler, where `LISTEN` does not work, polling
//! is all there is).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_postgres::AsyncMessage;

use super::postgres::CHANNEL;
use crate::config::Settings;

/// Pause before reconnecting after the connection failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// Listens until `stop` turns true, signalling `wake` on each notification.
pub async fn run(settings: Settings, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = listen_once(&settings, &wake) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Jobs may have been enqueued while nobody listened.
        wake.notify_one();
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_DELAY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn listen_once(settings: &Settings, wake: &Notify) {
    let mut config = settings.database.config.clone();
    config.connect_timeout(settings.connect_timeout);
    let connecting = config.connect(crate::db::tls::connector_for(&settings.database.tls));
    let (client, mut connection) =
        match tokio::time::timeout(settings.connect_timeout, connecting).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "job listener cannot connect");
                return;
            }
            Err(_) => {
                tracing::debug!("job listener connect timed out");
                return;
            }
        };
    let messages = async {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => wake.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "job listener connection failed");
                    return;
                }
                None => return,
            }
        }
    };
    let subscribe = async {
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
            tracing::debug!(error = %e, "LISTEN failed");
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = messages => {}
        () = subscribe => {}
    }
}
