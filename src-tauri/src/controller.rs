//! The shell around the state machine: feeds it events, carries out its
//! effects with devauth-client and the bundled server, and pushes every new
//! view to the window (event `state`) and the tray.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use devauth_client::Client;
use devauth_client::clock::Clock;
use devauth_client::session::PendingLogin;
use tauri::{AppHandle, Emitter};
use tokio::sync::oneshot;

use crate::alerts::{Alert, Alerts, Notifier};
use crate::bundled::Bundled;
use crate::machine::{
    Attempt, BrowserUrl, Effect, Event, Failure, FailureKind, Machine, Server, ServerKind, State,
    View,
};
use crate::session;
use crate::settings::{DesktopEnv, SettingsFile};
use crate::tray::Tray;
use devauth_client::events::ServerEvent;
use devauth_proto::DeviceSignedInEvent;

/// The window listens for this event; its payload is a [`View`].
pub const STATE_EVENT: &str = "state";
/// And for this one: the new-sign-in alerts, newest first.
pub const ALERTS_EVENT: &str = "alerts";

/// The server in use and a client for it.
struct Connection {
    client: Client,
    bundled: Option<Arc<Bundled>>,
}

/// A sign-in between "code shown" and "approved".
enum SignIn {
    /// Code issued, polling not started yet.
    Issued(Box<PendingLogin>),
    /// Polling; sending on this stops it.
    Polling(oneshot::Sender<()>),
}

pub struct Controller {
    app: AppHandle,
    env: DesktopEnv,
    clock: Arc<dyn Clock>,
    data_dir: PathBuf,
    machine: Mutex<Machine>,
    connection: Mutex<Option<Arc<Connection>>>,
    bundled: Mutex<Option<Arc<Bundled>>>,
    sign_ins: Mutex<HashMap<Attempt, SignIn>>,
    tray: Mutex<Option<Arc<Tray>>>,
    alerts: Alerts,
    notifier: tokio::sync::OnceCell<Option<Arc<Notifier>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding a lock leaves plain data behind; carry on.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Controller {
    pub fn new(
        app: AppHandle,
        env: DesktopEnv,
        clock: Arc<dyn Clock>,
        data_dir: PathBuf,
    ) -> Arc<Controller> {
        Arc::new(Controller {
            app,
            env,
            machine: Mutex::new(Machine::new(clock.clone())),
            clock,
            data_dir,
            connection: Mutex::new(None),
            bundled: Mutex::new(None),
            sign_ins: Mutex::new(HashMap::new()),
            tray: Mutex::new(None),
            alerts: Alerts::default(),
            notifier: tokio::sync::OnceCell::new(),
        })
    }

    pub fn env(&self) -> &DesktopEnv {
        &self.env
    }

    /// Called on the main thread, once the tray exists.
    pub fn set_tray(&self, tray: Tray) {
        tray.update(&self.view());
        *lock(&self.tray) = Some(Arc::new(tray));
    }

    pub fn view(&self) -> View {
        lock(&self.machine).view()
    }

    /// Starts the app's work and the timers: a tick a second for expiry, and
    /// a check of the token every `DEVAUTH_REFRESH_SECS`.
    pub fn launch(self: &Arc<Self>) {
        self.dispatch(Event::Launched);
        let this = self.clone();
        tauri::async_runtime::spawn(async move {
            loop {
                this.clock.sleep(Duration::from_secs(1)).await;
                this.dispatch(Event::Tick);
            }
        });
        let this = self.clone();
        tauri::async_runtime::spawn(async move {
            loop {
                this.clock.sleep(this.env.refresh).await;
                this.dispatch(Event::RefreshDue);
            }
        });
        let this = self.clone();
        tauri::async_runtime::spawn(async move { this.watch_events().await });
    }

    /// The org of the signed-in token, as the last check of `/me` saw it:
    /// its slug and name.
    pub fn org(&self) -> Option<(String, String)> {
        match lock(&self.machine).state() {
            State::SignedIn { profile, .. } => {
                let slug = profile.org_slug.clone()?;
                let name = profile.org_name.clone().unwrap_or_else(|| slug.clone());
                Some((slug, name))
            }
            _ => None,
        }
    }

    fn signed_in(&self) -> bool {
        matches!(lock(&self.machine).state(), State::SignedIn { .. })
    }

    /// While signed in, listens to the server's event stream: a device
    /// signed in as this user raises an alert; a revocation or a membership
    /// change is checked at once. Reconnects after a break, waiting longer
    /// each time (up to a minute).
    async fn watch_events(self: Arc<Self>) {
        let mut pause = 1;
        loop {
            if !self.signed_in() {
                self.clock.sleep(Duration::from_secs(1)).await;
                continue;
            }
            let Some(conn) = self.connection() else {
                self.clock.sleep(Duration::from_secs(1)).await;
                continue;
            };
            match conn.client.events().await {
                Ok(mut stream) => {
                    pause = 1;
                    while let Ok(Some(event)) = stream.next().await {
                        match event {
                            ServerEvent::DeviceSignedIn(signed_in) => {
                                self.new_sign_in(&signed_in).await
                            }
                            ServerEvent::TokenRevoked(_) | ServerEvent::MembershipChanged(_) => {
                                self.dispatch(Event::RefreshDue)
                            }
                            _ => {}
                        }
                        if !self.signed_in() {
                            break;
                        }
                    }
                }
                Err(e) => tracing::debug!("no event stream: {e}"),
            }
            self.clock.sleep(Duration::from_secs(pause)).await;
            pause = (pause * 2).min(60);
        }
    }

    /// The alerts of this run, newest first.
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts.list()
    }

    fn publish_alerts(&self) {
        if let Err(e) = self.app.emit(ALERTS_EVENT, self.alerts.list()) {
            tracing::warn!("cannot send the alerts to the window: {e}");
        }
    }

    /// The notification service, looked for once; its Revoke clicks are
    /// heard from then on.
    async fn notifier(self: &Arc<Self>) -> Option<Arc<Notifier>> {
        let this = self.clone();
        self.notifier
            .get_or_init(|| async move {
                let notifier = Arc::new(Notifier::connect().await?);
                let clicks = match notifier.revoke_clicks().await {
                    Ok(clicks) => clicks,
                    Err(e) => {
                        tracing::info!("notifications without actions: {e}");
                        return Some(notifier);
                    }
                };
                tauri::async_runtime::spawn(async move {
                    use futures_util::StreamExt;
                    let mut clicks = std::pin::pin!(clicks);
                    while let Some(id) = clicks.next().await {
                        if let Some(token) = this.alerts.token_of(id)
                            && let Err(e) = this.revoke_sign_in(&token).await
                        {
                            tracing::warn!("could not revoke from the notification: {e}");
                        }
                    }
                });
                Some(notifier)
            })
            .await
            .clone()
    }

    async fn new_sign_in(self: &Arc<Self>, event: &DeviceSignedInEvent) {
        let alert = Alert::new(event);
        if !self.alerts.add(alert.clone()) {
            return;
        }
        tracing::info!("new sign-in: {}", alert.summary());
        self.publish_alerts();
        if let Some(notifier) = self.notifier().await {
            match notifier.show(&alert).await {
                Ok(id) => {
                    self.alerts.notified(&alert.token_id, id);
                    self.publish_alerts();
                }
                Err(e) => tracing::info!("no system notification: {e}"),
            }
        }
    }

    /// Revokes a sign-in this app was alerted of (from its window or its
    /// notification).
    pub async fn revoke_sign_in(&self, token_id: &str) -> Result<Vec<Alert>, String> {
        if !self.alerts.knows(token_id) {
            return Err("That is not a sign-in this app was told of.".into());
        }
        let api = self.api().await.map_err(|f| f.message)?;
        api.revoke_token(token_id)
            .await
            .map_err(|e| e.to_string())?;
        self.alerts.revoked(token_id);
        self.publish_alerts();
        Ok(self.alerts.list())
    }

    pub fn dispatch(self: &Arc<Self>, event: Event) {
        let always_publish = matches!(event, Event::SessionChecked(_));
        let (effects, view) = {
            let mut machine = lock(&self.machine);
            let before = machine.revision();
            let effects = machine.handle(event);
            let changed = machine.revision() != before;
            (effects, (changed || always_publish).then(|| machine.view()))
        };
        if let Some(view) = view {
            self.publish(&view);
        }
        for effect in effects {
            let this = self.clone();
            tauri::async_runtime::spawn(async move {
                let name = effect.name();
                tracing::debug!("{name}: started");
                let next = this.perform(effect).await;
                tracing::debug!("{name}: done");
                if let Some(next) = next {
                    this.dispatch(next);
                }
            });
        }
    }

    fn publish(&self, view: &View) {
        if let Err(e) = self.app.emit(STATE_EVENT, view) {
            tracing::warn!("cannot send the state to the window: {e}");
        }
        // Menu changes made off the main thread wait for it, and the main
        // thread runs commands that publish too: hand the update over instead
        // of waiting, and hold no lock while it runs.
        if let Some(tray) = lock(&self.tray).clone() {
            let view = view.clone();
            if let Err(e) = self.app.run_on_main_thread(move || tray.update(&view)) {
                tracing::warn!("cannot update the tray: {e}");
            }
        }
    }

    /// The API with the stored token (to approve another device).
    pub async fn api(&self) -> Result<devauth_client::api::ApiClient, Failure> {
        let Some(conn) = self.connection() else {
            return Err(no_server());
        };
        conn.client
            .api()
            .await
            .map_err(|e| Failure::new(FailureKind::Other, e.to_string()))
    }

    /// The time on the app's clock.
    pub fn now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    fn connection(&self) -> Option<Arc<Connection>> {
        lock(&self.connection).clone()
    }

    async fn perform(self: &Arc<Self>, effect: Effect) -> Option<Event> {
        match effect {
            Effect::PrepareServer => Some(match self.prepare_server().await {
                Ok(server) => Event::ServerReady(server),
                Err(failure) => Event::ServerFailed(failure),
            }),
            Effect::CheckSession => {
                let Some(conn) = self.connection() else {
                    return Some(Event::SessionCheckFailed(no_server()));
                };
                Some(match session::check(&conn.client).await {
                    Ok(check) => Event::SessionChecked(check),
                    Err(failure) => Event::SessionCheckFailed(failure),
                })
            }
            Effect::BeginSignIn { attempt } => Some(self.begin_sign_in(attempt).await),
            Effect::WaitForSetup { attempt } => self.wait_for_setup(attempt).await,
            Effect::FinishSignIn { attempt } => self.finish_sign_in(attempt).await,
            Effect::CancelSignIn { attempt } => {
                if let Some(SignIn::Polling(stop)) = lock(&self.sign_ins).remove(&attempt) {
                    let _ = stop.send(());
                }
                None
            }
            Effect::OpenBrowser(url) => {
                crate::browser::open(&self.env, url.expose());
                None
            }
            Effect::SignOut => {
                let Some(conn) = self.connection() else {
                    return Some(Event::SignOutFinished(Err(no_server())));
                };
                Some(Event::SignOutFinished(
                    session::sign_out(&conn.client).await,
                ))
            }
            Effect::ForgetToken => {
                if let Some(conn) = self.connection()
                    && let Err(failure) = session::sign_out(&conn.client).await
                {
                    tracing::warn!("could not remove the rejected token: {}", failure.message);
                }
                None
            }
        }
    }

    /// `DEVAUTH_SERVER`, else the server from Settings, else the bundled
    /// server (started on first use, stopped when no longer wanted).
    async fn prepare_server(&self) -> Result<Server, Failure> {
        let settings = match self.env.config_dir() {
            Ok(dir) => SettingsFile::in_dir(&dir)
                .load()
                .map_err(|e| Failure::new(FailureKind::Settings, e.0))?,
            Err(e) => return Err(Failure::new(FailureKind::Settings, e.0)),
        };
        let remote = match (&self.env.client.server, settings.remote_server()) {
            (Some(url), _) => Some((url.clone(), ServerKind::Environment)),
            (None, Some(url)) => Some((url.to_string(), ServerKind::Configured)),
            (None, None) => None,
        };
        let (url, kind, bundled) = match remote {
            Some((url, kind)) => {
                let unused = lock(&self.bundled).take();
                if let Some(bundled) = unused {
                    bundled.stop().await;
                }
                (url, kind, None)
            }
            None => {
                let bundled = self.bundled_server().await?;
                (
                    bundled.url().to_string(),
                    ServerKind::Bundled,
                    Some(bundled),
                )
            }
        };
        let client = session::client_for(&self.env.client, &url)?;
        let server = Server {
            url: client.server().as_str().to_string(),
            kind,
        };
        *lock(&self.connection) = Some(Arc::new(Connection { client, bundled }));
        Ok(server)
    }

    async fn bundled_server(&self) -> Result<Arc<Bundled>, Failure> {
        if let Some(running) = lock(&self.bundled).clone() {
            return Ok(running);
        }
        let started = Bundled::start(&self.data_dir)
            .await
            .map_err(|e| Failure::new(FailureKind::BundledServer, e.to_string()))?;
        let started = Arc::new(started);
        *lock(&self.bundled) = Some(started.clone());
        Ok(started)
    }

    async fn begin_sign_in(&self, attempt: Attempt) -> Event {
        let Some(conn) = self.connection() else {
            return Event::SignInFinished {
                attempt,
                result: Err(no_server()),
            };
        };
        if let Some(bundled) = &conn.bundled {
            match bundled.is_claimed().await {
                Ok(true) => bundled.forget_setup_launcher(),
                Ok(false) => match bundled.setup_launcher() {
                    Some(Ok(url)) => {
                        return Event::SetupNeeded {
                            attempt,
                            url: BrowserUrl::new(url),
                        };
                    }
                    Some(Err(e)) => {
                        return Event::SignInFinished {
                            attempt,
                            result: Err(Failure::new(FailureKind::BundledServer, e.to_string())),
                        };
                    }
                    None => {}
                },
                Err(e) => {
                    return Event::SignInFinished {
                        attempt,
                        result: Err(Failure::new(FailureKind::BundledServer, e.to_string())),
                    };
                }
            }
        }
        match session::begin(&conn.client).await {
            Ok(pending) => {
                let code = session::code_of(&pending);
                lock(&self.sign_ins).insert(attempt, SignIn::Issued(Box::new(pending)));
                Event::CodeIssued { attempt, code }
            }
            Err(failure) => Event::SignInFinished {
                attempt,
                result: Err(failure),
            },
        }
    }

    /// Looks every moment whether the bundled server has been claimed, for
    /// as long as this attempt is on the setup screen.
    async fn wait_for_setup(&self, attempt: Attempt) -> Option<Event> {
        let bundled = self.connection()?.bundled.clone()?;
        loop {
            if *lock(&self.machine).state() != (State::Setup { attempt }) {
                return None;
            }
            if let Ok(true) = bundled.is_claimed().await {
                return Some(Event::SetupDone { attempt });
            }
            self.clock.sleep(session::SETUP_POLL).await;
        }
    }

    async fn finish_sign_in(&self, attempt: Attempt) -> Option<Event> {
        let conn = self.connection()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let pending = {
            let mut sign_ins = lock(&self.sign_ins);
            match sign_ins.remove(&attempt) {
                Some(SignIn::Issued(pending)) => {
                    sign_ins.insert(attempt, SignIn::Polling(stop));
                    pending
                }
                // Cancelled before polling began.
                _ => return None,
            }
        };
        let previous_default = conn.client.config().ok().and_then(|c| c.server);
        let cancelled = async move {
            let _ = stopped.await;
        };
        let clock = self.clock.clone();
        let result = session::finish(&conn.client, *pending, cancelled, move || clock.now()).await;
        lock(&self.sign_ins).remove(&attempt);
        if conn.bundled.is_some() {
            keep_default_server(&conn.client, previous_default);
        }
        Some(Event::SignInFinished { attempt, result })
    }

    /// Stops the bundled server, if one runs. Called once, at exit. A poll
    /// the server is holding open (long polling) would delay a graceful stop
    /// by up to its hold time, so quitting waits only a moment.
    pub async fn shutdown(&self) {
        let bundled = lock(&self.bundled).take();
        if let Some(bundled) = bundled
            && tokio::time::timeout(Duration::from_secs(2), bundled.stop())
                .await
                .is_err()
        {
            tracing::warn!("the bundled server did not stop within 2 s; quitting anyway");
        }
    }
}

/// Signing in records the server as the default for the `devauth` CLI when
/// none is set. The bundled server lives only while the app runs, so it
/// must not become that default.
fn keep_default_server(client: &Client, previous: Option<String>) {
    let file = client.config_file();
    let Ok(mut config) = file.load() else {
        return;
    };
    if config.server.as_deref() == Some(client.server().as_str()) && config.server != previous {
        config.server = previous;
        if let Err(e) = file.save(&config) {
            tracing::warn!("{e}");
        }
    }
}

fn no_server() -> Failure {
    Failure::new(FailureKind::Other, "No server is set up yet. Try again.")
}
