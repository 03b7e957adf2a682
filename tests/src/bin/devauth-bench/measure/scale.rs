//! 4: validation cost as the number of stored tokens grows.

use super::*;

/// The `i`-th bulk token of a run: `dva_` + 64 hex, like real ones.
fn bulk_token(seed: &str, i: u64) -> String {
    format!("dva_{}", sha256_hex(&format!("{seed}:{i}")))
}

/// Inserts bulk tokens `0..count` in one transaction: generated, hashed,
/// sorted by hash (so both indexes grow at their end), then written with
/// 100-row prepared INSERTs. (Few parameters per statement: sqlx looks each
/// one up by position, which costs time linear in their number.)
async fn insert_tokens(
    pool: &sqlx::SqlitePool,
    seed: &str,
    user_id: &str,
    org_id: &str,
    count: u64,
    now: i64,
) -> Res<()> {
    const ROWS: usize = 100;
    let mut rows: Vec<(String, String)> = (0..count)
        .map(|n| {
            let token = bulk_token(seed, n);
            (sha256_hex(&token), token_hint(&token))
        })
        .collect();
    rows.sort_unstable();
    // ?1..?4 are the same for every row: user, org, created, expires.
    let insert = |n: usize| {
        let mut sql = String::from(
            "INSERT INTO tokens (id, hash, hint, name, kind, user_id, org_id, created_at, expires_at) VALUES ",
        );
        for i in 0..n {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(?{}, ?{}, ?{}, 'bench token', 'personal', ?1, ?2, ?3, ?4)",
                5 + 3 * i,
                6 + 3 * i,
                7 + 3 * i
            ));
        }
        sql
    };
    let full = insert(ROWS);
    let mut tx = pool.begin().await?;
    for (chunk_no, chunk) in rows.chunks(ROWS).enumerate() {
        let sql;
        let mut query = sqlx::query(if chunk.len() == ROWS {
            &full
        } else {
            sql = insert(chunk.len());
            &sql
        })
        .bind(user_id)
        .bind(org_id)
        .bind(now)
        .bind(now + 90 * 86_400);
        for (i, (hash, hint)) in chunk.iter().enumerate() {
            query = query
                .bind(format!("bench-{seed}-{:08}", chunk_no * ROWS + i))
                .bind(hash)
                .bind(hint);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Mean time of `store.token_by_hash` (the database path, no cache) for
/// random bulk tokens, µs.
async fn uncached_lookup_us(devauth: &Devauth, seed: &str, have: u64, n: usize) -> Res<f64> {
    let store = devauth.server.state.store.clone();
    let hashes: Vec<String> = (0..n)
        .map(|_| {
            let i = (random_unit() * have as f64) as u64;
            sha256_hex(&bulk_token(seed, i.min(have.saturating_sub(1))))
        })
        .collect();
    let started = Instant::now();
    let mut found = 0usize;
    for hash in &hashes {
        if store.token_by_hash(hash).await?.is_some() {
            found += 1;
        }
    }
    let elapsed = started.elapsed();
    if found != n {
        return Err(format!("only {found} of {n} bulk tokens found").into());
    }
    Ok(elapsed.as_secs_f64() * 1e6 / n as f64)
}

/// A server whose database holds `total` tokens, one of them `token` (real, device flow).
struct Stocked {
    devauth: Devauth,
    token: String,
    seed: String,
    bulk: u64,
    total: u64,
    insert_secs: f64,
}

async fn stocked_server(tokens: u64) -> Res<Stocked> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
    use std::str::FromStr;
    // A fresh server makes the owner, the org and one real device token...
    let devauth = Devauth::start(Backend::Sqlite).await?;
    let owner = devauth.api.claim().await?;
    let token = devauth.api.device_flow(&owner).await?;
    let me = devauth.api.me(&token).await?;
    let database_url = devauth.database_url.clone();
    let dir = devauth.stop_keeping_database().await;
    let user_id = me.user.map(|u| u.id.into_owned()).unwrap_or_default();
    let org_id = me.org.id.into_owned();
    // ...then, with the server stopped, the bulk rows go in (no sync: this is
    // a throwaway file)...
    let seed = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let options = SqliteConnectOptions::from_str(&database_url)?
        .synchronous(SqliteSynchronous::Off)
        .busy_timeout(Duration::from_secs(30))
        .pragma("cache_size", "-262144");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let result = async {
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&pool)
            .await?;
        let bulk = tokens.saturating_sub(existing.max(0) as u64);
        let started = Instant::now();
        let now = devauth_server::clock::Clock::now(&devauth_server::clock::SystemClock);
        insert_tokens(&pool, &seed, &user_id, &org_id, bulk, now).await?;
        // Fold the WAL into the database now rather than under the measurement.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await?;
        let insert_secs = started.elapsed().as_secs_f64();
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&pool)
            .await?;
        Res::Ok((bulk, total.max(0) as u64, insert_secs))
    }
    .await;
    pool.close().await;
    let (bulk, total, insert_secs) = result?;
    // ...and the server starts again on that database (WAL, as always).
    let devauth = Devauth::start_on(database_url, dir).await?;
    devauth.api.me(&token).await?;
    Ok(Stocked {
        devauth,
        token,
        seed,
        bulk,
        total,
        insert_secs,
    })
}

pub async fn validation_at_scale(ctx: &Ctx, report: &mut Report) -> Res<()> {
    // One server per size, all up at once, measured in interleaved rounds.
    let mut servers: Vec<Stocked> = Vec::new();
    let mut failure = None;
    for &tokens in &ctx.token_counts {
        match stocked_server(tokens).await {
            Ok(s) => servers.push(s),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let outcome = async {
        if let Some(e) = failure {
            return Err(e);
        }
        let loads: Vec<Load<'_>> = servers
            .iter()
            .map(|s| Load::Get {
                path: "/me",
                headers: vec![format!("Authorization: Bearer {}", s.token)],
            })
            .collect();
        let targets: Vec<(&str, &Load<'_>)> = servers
            .iter()
            .zip(loads.iter())
            .map(|(s, l)| (s.devauth.api.base.as_str(), l))
            .collect();
        // One-second runs: the sizes alternate quickly, so drifting load on a
        // shared machine spreads evenly over them.
        let rounds = ctx.short_duration.as_secs() as usize;
        let series = interleaved(ctx, &targets, ctx.short_duration, rounds)?;
        // Database lookups: 3 interleaved rounds of 2,000 per size; the
        // fastest round counts (other work on the machine only slows rounds down).
        let mut uncached = vec![f64::INFINITY; servers.len()];
        for _ in 0..3 {
            for (s, best) in servers.iter().zip(uncached.iter_mut()) {
                let us = uncached_lookup_us(&s.devauth, &s.seed, s.bulk.max(1), 2_000).await?;
                *best = best.min(us);
            }
        }
        Res::Ok((series, uncached))
    }
    .await;
    let sizes: Vec<(u64, u64, f64)> = servers
        .iter()
        .map(|s| (s.total, s.bulk, s.insert_secs))
        .collect();
    for s in servers {
        s.devauth.stop().await;
    }
    let (series, uncached) = outcome?;
    for s in &series {
        s.check_clean("/me")?;
    }
    let labels = ["4a", "4b", "4c", "4d", "4e", "4f"];
    for (n, ((total, _, _), s)) in sizes.iter().zip(series.iter()).enumerate() {
        report.row(
            labels.get(n).copied().unwrap_or("4"),
            format!(
                "`GET /me` with {} tokens in the database (SQLite; median of {} runs, interleaved)",
                rate(*total as f64),
                s.runs.len()
            ),
            format!("{} req/s ({})", rate(s.rps()), s.latency_text()),
            "—",
            Verdict::None,
        );
    }
    if let (Some(small), Some(large), Some(us), Some(ul)) = (
        sizes.first().zip(series.first()),
        sizes.last().zip(series.last()),
        uncached.first(),
        uncached.last(),
    ) {
        let ratio = small.1.rps() / large.1.rps();
        report.row(
            "4r",
            format!(
                "validation cost ratio, {} ÷ {} tokens (time per `/me`)",
                rate(large.0.0 as f64),
                rate(small.0.0 as f64)
            ),
            format!("{ratio:.2}"),
            "≤ 1.20",
            Verdict::of(ratio <= 1.2),
        );
        report.row(
            "4u",
            "for comparison, a database lookup (`Store::token_by_hash`, random stored tokens, no cache; best of 3 rounds)",
            format!(
                "{us:.0} µs at {} → {ul:.0} µs at {} (ratio {:.2})",
                rate(small.0.0 as f64),
                rate(large.0.0 as f64),
                ul / us
            ),
            "—",
            Verdict::None,
        );
        let inserted: u64 = sizes.iter().map(|s| s.1).sum();
        let largest = sizes.last().map(|s| (s.1, s.2)).unwrap_or_default();
        report.note(format!(
            "4: {} bulk tokens (`dva_` + 64 hex, stored as SHA-256 like real ones) inserted with 100-row prepared INSERTs in one transaction per database, sorted by hash, while its server was stopped; the {}-token database took {:.1} s.",
            rate(inserted as f64),
            rate(largest.0 as f64),
            largest.1
        ));
    }
    Ok(())
}

// --- 5. memory; the desktop app ----------------------------------------------
