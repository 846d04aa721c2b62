//! The soak driver (`bench/soak` runs it): mixed load on a running tollgate for a long while, with
//! the server's resident memory and open descriptors sampled from `/proc`.
//!
//! 1. **Capacity**: `--workers` closed-loop workers run the mix as fast as it is answered for
//!    `--probe-s` seconds; the rate reached is the capacity of this machine (driver included).
//! 2. **Soak**: the same workers, each paced to its share of `--load` × capacity, for
//!    `--duration-s` seconds. Every answer is checked; anything else counts as an error.
//!
//! The mix, per operation: 60 % `GET /api/v2/groups` (a token obtained once), 30 % a token request
//! (form body + HTTP Basic, a new token signed each time), 10 % an admin-API write (a credential
//! created; once eight wait, each write deletes one, so the store stays the same size).
//!
//! Prints one JSON document on stdout: the capacity, the rate held, errors, latency percentiles per
//! operation, the memory and descriptor samples, and the verdict on the bounds.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Args {
    /// tollgate's base URL.
    #[arg(long)]
    base: String,
    /// The server's process id (for /proc/PID/status and /proc/PID/fd).
    #[arg(long)]
    pid: u32,
    /// A credential holding groups:read (tokens and API calls).
    #[arg(long)]
    api_client_id: String,
    #[arg(long, env = "SOAK_API_SECRET")]
    api_secret: String,
    /// A credential holding credentials:manage (admin-API writes).
    #[arg(long)]
    admin_client_id: String,
    #[arg(long, env = "SOAK_ADMIN_SECRET")]
    admin_secret: String,
    #[arg(long, default_value_t = 32)]
    workers: usize,
    #[arg(long, default_value_t = 20)]
    probe_s: u64,
    #[arg(long, default_value_t = 600)]
    duration_s: u64,
    /// Memory and descriptor growth is measured from this many seconds into the soak.
    #[arg(long, default_value_t = 60)]
    warmup_s: u64,
    /// Fraction of the measured capacity to hold.
    #[arg(long, default_value_t = 0.8)]
    load: f64,
    /// Where to write the samples (CSV: seconds, rss_kib, fds, ops).
    #[arg(long)]
    samples: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Api,
    Token,
    Admin,
}

impl Op {
    const ALL: [Op; 3] = [Op::Api, Op::Token, Op::Admin];

    /// The operation at step `n` of the mix (60 / 30 / 10 in every ten).
    fn at(n: u64) -> Self {
        match n % 10 {
            0..=5 => Op::Api,
            6..=8 => Op::Token,
            _ => Op::Admin,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Api => "api_get",
            Op::Token => "token",
            Op::Admin => "admin_write",
        }
    }
}

struct Shared {
    args: Args,
    http: reqwest::Client,
    api_token: String,
    admin_token: String,
    basic: String,
    /// Credentials created by admin writes and not yet deleted.
    created: Mutex<Vec<String>>,
    ops: AtomicU64,
    errors: Mutex<Vec<String>>,
    error_count: AtomicU64,
}

impl Shared {
    async fn run(&self, op: Op) -> Result<(), String> {
        let base = &self.args.base;
        let (want, r) = match op {
            Op::Api => (
                200,
                self.http
                    .get(format!("{base}/api/v2/groups"))
                    .header("360-api-version", "v2.0")
                    .bearer_auth(&self.api_token)
                    .send()
                    .await,
            ),
            Op::Token => (
                200,
                self.http
                    .post(format!("{base}/api/v2/oauth2/token"))
                    .header("authorization", &self.basic)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials")
                    .send()
                    .await,
            ),
            Op::Admin => {
                // At most a few created credentials wait for their deletion: the store stays the
                // same size, far below the company's limit.
                let victim = {
                    let mut created = self.created.lock().unwrap_or_else(|p| p.into_inner());
                    if created.len() >= 8 {
                        created.pop()
                    } else {
                        None
                    }
                };
                match victim {
                    Some(id) => (
                        204,
                        self.http
                            .delete(format!("{base}/admin/api/v1/credentials/{id}"))
                            .bearer_auth(&self.admin_token)
                            .send()
                            .await,
                    ),
                    None => {
                        let r = self
                            .http
                            .post(format!("{base}/admin/api/v1/credentials"))
                            .bearer_auth(&self.admin_token)
                            .json(&json!({"label": "soak", "scopes": ["groups:read"]}))
                            .send()
                            .await
                            .map_err(|e| format!("admin create: {e}"))?;
                        if r.status() != 201 {
                            return Err(format!("admin create: {}", r.status()));
                        }
                        let v: Value = r.json().await.map_err(|e| format!("admin create: {e}"))?;
                        let id = v["client_id"].as_str().unwrap_or_default().to_owned();
                        self.created
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(id);
                        return Ok(());
                    }
                }
            }
        };
        let r = r.map_err(|e| format!("{}: {e}", op.name()))?;
        let status = r.status().as_u16();
        // The body is read whole, as a client would.
        let body = r.bytes().await.map_err(|e| format!("{}: {e}", op.name()))?;
        if status != want {
            return Err(format!(
                "{}: {status} {}",
                op.name(),
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        Ok(())
    }

    fn failed(&self, e: String) {
        self.error_count.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() < 20 {
            errors.push(e);
        }
    }
}

/// One worker: runs the mix from step `start`, paced to one operation per `every` (none: as fast
/// as answered), until `until`; returns its latencies in microseconds per operation kind.
async fn worker(
    shared: Arc<Shared>,
    start: u64,
    every: Option<Duration>,
    until: Instant,
) -> [Vec<u32>; 3] {
    let mut lat: [Vec<u32>; 3] = Default::default();
    let mut n = start;
    let began = tokio::time::Instant::now();
    let mut i: u32 = 0;
    while Instant::now() < until {
        if let Some(every) = every {
            tokio::time::sleep_until(began + every * i).await;
            i += 1;
        }
        let op = Op::at(n);
        n += 1;
        let t = Instant::now();
        match shared.run(op).await {
            Ok(()) => {
                let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                lat[op as usize].push(us);
            }
            Err(e) => shared.failed(e),
        }
        shared.ops.fetch_add(1, Ordering::Relaxed);
    }
    lat
}

async fn phase(shared: &Arc<Shared>, secs: u64, every: Option<Duration>) -> [Vec<u32>; 3] {
    let until = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..shared.args.workers)
        .map(|w| tokio::spawn(worker(Arc::clone(shared), w as u64 * 7, every, until)))
        .collect();
    let mut all: [Vec<u32>; 3] = Default::default();
    for t in tasks {
        if let Ok(lat) = t.await {
            for (a, l) in all.iter_mut().zip(lat) {
                a.extend(l);
            }
        }
    }
    all
}

/// VmRSS in KiB and the number of open descriptors of `pid`.
fn sample(pid: u32) -> (u64, usize) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    (rss, fds)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn token(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
) -> anyhow::Result<String> {
    let v: Value = http
        .post(format!("{base}/api/v2/oauth2/token"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["access_token"].as_str().unwrap_or_default().to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    use base64::Engine as _;
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.workers)
        .timeout(Duration::from_secs(10))
        .build()?;
    let api_token = token(&http, &args.base, &args.api_client_id, &args.api_secret).await?;
    let admin_token = token(&http, &args.base, &args.admin_client_id, &args.admin_secret).await?;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", args.api_client_id, args.api_secret))
    );
    let shared = Arc::new(Shared {
        args,
        http,
        api_token,
        admin_token,
        basic,
        created: Mutex::new(Vec::new()),
        ops: AtomicU64::new(0),
        errors: Mutex::new(Vec::new()),
        error_count: AtomicU64::new(0),
    });
    let args = &shared.args;

    eprintln!(
        "capacity probe: {} workers, {} s",
        args.workers, args.probe_s
    );
    let probe_start = Instant::now();
    let _ = phase(&shared, args.probe_s, None).await;
    let probed = shared.ops.swap(0, Ordering::Relaxed);
    let probe_errors = shared.error_count.swap(0, Ordering::Relaxed);
    shared
        .errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    let capacity = probed as f64 / probe_start.elapsed().as_secs_f64();
    let target = capacity * args.load;
    let every = Duration::from_secs_f64(args.workers as f64 / target);
    eprintln!(
        "capacity {capacity:.0} ops/s; holding {target:.0} ops/s for {} s",
        args.duration_s
    );

    // Samples every 5 s while the soak runs.
    let pid = args.pid;
    let sampler_shared = Arc::clone(&shared);
    let sampler = tokio::spawn(async move {
        let start = Instant::now();
        let mut out = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            let (rss, fds) = sample(pid);
            let t = start.elapsed().as_secs();
            let ops = sampler_shared.ops.load(Ordering::Relaxed);
            if t % 60 < 5 {
                eprintln!("t={t:>4}s rss={rss} KiB fds={fds} ops={ops}");
            }
            out.push((t, rss, fds, ops));
            if t >= sampler_shared.args.duration_s {
                return out;
            }
        }
    });
    let soak_start = Instant::now();
    let mut lat = phase(&shared, args.duration_s, Some(every)).await;
    let held = shared.ops.load(Ordering::Relaxed) as f64 / soak_start.elapsed().as_secs_f64();
    let samples = sampler.await?;

    let after: Vec<_> = samples
        .iter()
        .filter(|s| s.0 >= args.warmup_s)
        .copied()
        .collect();
    let (first, last) = (
        after.first().copied().unwrap_or_default(),
        after.last().copied().unwrap_or_default(),
    );
    let rss_max = after.iter().map(|s| s.1).max().unwrap_or(0);
    let fds_max = after.iter().map(|s| s.2).max().unwrap_or(0);
    let growth = |a: u64, b: u64| {
        if a == 0 {
            0.0
        } else {
            (b as f64 - a as f64) / a as f64
        }
    };
    let rss_growth = growth(first.1, last.1);
    let rss_growth_max = growth(first.1, rss_max);
    let errors = shared.error_count.load(Ordering::Relaxed);
    if let Some(path) = &args.samples {
        let mut csv = String::from("seconds,rss_kib,fds,ops\n");
        for (t, rss, fds, ops) in &samples {
            csv.push_str(&format!("{t},{rss},{fds},{ops}\n"));
        }
        std::fs::write(path, csv)?;
    }
    let mut latency = serde_json::Map::new();
    for op in Op::ALL {
        let l = &mut lat[op as usize];
        l.sort_unstable();
        latency.insert(
            op.name().into(),
            json!({
                "count": l.len(),
                "p50_ms": percentile(l, 0.50),
                "p99_ms": percentile(l, 0.99),
                "max_ms": percentile(l, 1.0),
            }),
        );
    }
    let verdict = json!({
        "no_errors": errors == 0,
        "rss_growth_under_10_percent": rss_growth_max < 0.10,
        "no_fd_growth": fds_max <= first.2,
    });
    let report = json!({
        "capacity_ops_per_s": capacity.round(),
        "probe_errors": probe_errors,
        "load": args.load,
        "target_ops_per_s": target.round(),
        "held_ops_per_s": held.round(),
        "duration_s": args.duration_s,
        "workers": args.workers,
        "errors": errors,
        "error_examples": *shared.errors.lock().unwrap_or_else(|p| p.into_inner()),
        "latency": latency,
        "after_warmup": {
            "from_s": first.0,
            "rss_kib_first": first.1,
            "rss_kib_last": last.1,
            "rss_kib_max": rss_max,
            "rss_growth_last": rss_growth,
            "rss_growth_max": rss_growth_max,
            "fds_first": first.2,
            "fds_last": last.2,
            "fds_max": fds_max,
        },
        "verdict": verdict,
    });
    use std::io::Write as _;
    writeln!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(&report)?
    )?;
    let ok = verdict
        .as_object()
        .is_some_and(|v| v.values().all(|b| b == true));
    std::process::exit(if ok { 0 } else { 1 });
}
