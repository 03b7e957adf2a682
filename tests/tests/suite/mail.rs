//! Mail, on both backends, through a real SMTP server the test starts
//! (aiosmtpd): invitations and reset links are mailed as well as shown;
//! "Forgot your password?" mails a link to an account's address and
//! answers the same for any address, limited per email; without mail it is
//! not offered.

use devauth_harness::smtp::SmtpServer;
use devauth_harness::web::WebClient;
use devauth_harness::*;
use devauth_server::Config;
use devauth_server::model::Role;
use devauth_server::secret::Secret;

devauth_harness::on_both_backends!(
    invitations_and_reset_links_are_mailed_too,
    a_forgotten_password_is_mailed_a_link_and_the_answer_tells_nothing,
);

mod without_mail {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forgot_password_is_not_offered() {
        super::forgot_password_is_not_offered().await
    }
}

async fn with_mail(backend: Backend) -> Option<(TestServer, SmtpServer)> {
    let smtp = SmtpServer::start().await?;
    let config = Config {
        smtp_url: Some(Secret::new(&smtp.url)),
        smtp_from: Some("devauth <devauth@example.com>".into()),
        ..Config::default()
    };
    Some((spawn_server_with(backend, config).await, smtp))
}

fn path_of(link: &str, marker: &str) -> String {
    link.find(marker)
        .map(|at| {
            link[at..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default()
}

async fn invitations_and_reset_links_are_mailed_too(backend: Backend) {
    let Some((srv, smtp)) = with_mail(backend).await else {
        return;
    };
    let owner = srv.claim().await;
    let invited = srv
        .post_json(
            "/api/orgs/acme/invitations",
            Some(&owner),
            serde_json::json!({ "email": "carol@example.com", "role": "member" }),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    assert_eq!(invited.body["mailed"], true);
    let link = invited.body["link"].as_str().unwrap_or_default();
    let mail = smtp.wait_for("carol@example.com").await;
    assert!(
        mail.subject.contains("invited you to Acme"),
        "{}",
        mail.subject
    );
    assert!(mail.body.contains(link), "the link itself: {}", mail.body);
    assert!(
        mail.body.contains(OWNER_EMAIL),
        "who invited: {}",
        mail.body
    );

    srv.add_member("bob@example.com", "acme", Role::Member)
        .await;
    let reset = srv
        .post_json(
            "/api/orgs/acme/members/bob@example.com/password-reset",
            Some(&owner),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(reset.status, 201, "{}", reset.body);
    assert_eq!(reset.body["mailed"], true);
    let mail = smtp.wait_for("bob@example.com").await;
    let link = reset.body["link"].as_str().unwrap_or_default();
    assert!(mail.body.contains(link), "{}", mail.body);
    assert_eq!(smtp.received().len(), 2, "one mail each");
    srv.stop().await;
}

async fn a_forgotten_password_is_mailed_a_link_and_the_answer_tells_nothing(backend: Backend) {
    let Some((srv, smtp)) = with_mail(backend).await else {
        return;
    };
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    let login = web.get("/login").await;
    assert!(login.body.contains("id=\"forgot-link\""), "{}", login.body);
    let csrf = web.get("/login/forgot").await.csrf();
    let ask = async |web: &mut WebClient, email: &str| {
        web.post("/login/forgot", &[("csrf_token", &csrf), ("email", email)])
            .await
    };

    // A forged form, something that is not an email: refused, nothing sent.
    let forged = web
        .post(
            "/login/forgot",
            &[("csrf_token", "forged"), ("email", OWNER_EMAIL)],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(ask(&mut web, "not an email").await.status, 400);

    // An unknown address and an account's: the same answer.
    let unknown = ask(&mut web, "nobody@example.com").await;
    let known = ask(&mut web, OWNER_EMAIL).await;
    assert_eq!((unknown.status, known.status), (200, 200));
    assert_eq!(
        unknown.body.replace("nobody@example.com", "X"),
        known.body.replace(OWNER_EMAIL, "X"),
        "nothing tells whether the email has an account"
    );
    assert!(
        known
            .body
            .contains("a link to set a new password is on its way")
    );
    let mail = smtp.wait_for(OWNER_EMAIL).await;
    assert!(
        smtp.received()
            .iter()
            .all(|m| !m.to.contains("nobody@example.com")),
        "an address without an account gets nothing"
    );
    let path = path_of(&mail.body, "/reset/dvr_");
    assert!(path.starts_with("/reset/dvr_"), "{}", mail.body);
    let made = srv.audit_events("user.password_reset_created", 10).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].actor_kind, "anonymous", "{made:?}");

    // The link sets a password once; the new one signs in.
    let mut other = WebClient::new(&srv.url);
    let csrf_reset = other.get(&path).await.csrf();
    let done = other
        .post(
            &path,
            &[
                ("csrf_token", &csrf_reset),
                ("password", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    other.sign_in(OWNER_EMAIL, "a brand new passphrase").await;

    // Asked for too often, for one email: 429, whoever asks.
    for _ in 0..2 {
        assert_eq!(ask(&mut web, OWNER_EMAIL).await.status, 200);
    }
    let limited = ask(&mut web, OWNER_EMAIL).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(
        limited.body.contains("Too many requests"),
        "{}",
        limited.body
    );
    srv.stop().await;
}

async fn forgot_password_is_not_offered() {
    let srv = spawn_server(Backend::Sqlite).await;
    srv.claim().await;
    let mut web = WebClient::new(&srv.url);
    assert!(!web.get("/login").await.body.contains("forgot-link"));
    let page = web.get("/login/forgot").await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("Ask an owner or admin"), "{}", page.body);
    let csrf = web.get("/login").await.csrf();
    let sent = web
        .post(
            "/login/forgot",
            &[("csrf_token", &csrf), ("email", OWNER_EMAIL)],
        )
        .await;
    assert_eq!(sent.status, 404);
    let made = srv.audit_events("user.password_reset_created", 10).await;
    assert!(made.is_empty(), "nothing made: {made:?}");
    srv.stop().await;
}
