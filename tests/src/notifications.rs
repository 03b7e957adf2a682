//! A desktop notification service of the test's own on the session bus
//! (`org.freedesktop.Notifications`, the freedesktop.org spec): it records
//! what the app shows and clicks its actions, as a person would.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PATH: &str = "/org/freedesktop/Notifications";

/// One notification the app showed.
#[derive(Debug, Clone)]
pub struct Shown {
    pub id: u32,
    pub app: String,
    pub summary: String,
    pub body: String,
    pub actions: Vec<String>,
}

struct Service {
    shown: Arc<Mutex<Vec<Shown>>>,
    next: AtomicU32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Service {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        shown.push(Shown {
            id,
            app: app_name,
            summary,
            body,
            actions,
        });
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "devauth-tests".into(),
            "devauth".into(),
            "0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;
}

/// The running service.
pub struct Notifications {
    connection: zbus::Connection,
    shown: Arc<Mutex<Vec<Shown>>>,
}

impl Notifications {
    /// Takes the notification service's name on the session bus; `None`
    /// when there is no session bus or the name is taken.
    pub async fn start() -> Option<Notifications> {
        let shown = Arc::new(Mutex::new(Vec::new()));
        let service = Service {
            shown: shown.clone(),
            next: AtomicU32::new(0),
        };
        let connection = zbus::connection::Builder::session()
            .ok()?
            .name("org.freedesktop.Notifications")
            .ok()?
            .serve_at(PATH, service)
            .ok()?
            .build()
            .await
            .ok()?;
        Some(Notifications { connection, shown })
    }

    /// What was shown so far.
    pub fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (bounded, 15 s) until `count` notifications were shown.
    pub async fn wait_for(&self, count: usize) -> Vec<Shown> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let shown = self.shown();
            if shown.len() >= count {
                return shown;
            }
            assert!(
                Instant::now() < deadline,
                "{count} notifications not shown within 15 s: {shown:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks `action` of notification `id`.
    pub async fn click(&self, id: u32, action: &str) {
        let iface = self
            .connection
            .object_server()
            .interface::<_, Service>(PATH)
            .await
            .expect("the service is served");
        Service::action_invoked(iface.signal_emitter(), id, action)
            .await
            .expect("the click is sent");
    }
}
