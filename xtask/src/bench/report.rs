//! The load comparison's results: medians across rounds, the ratios against the goals, and the
//! three ways they are shown (a table, `load.json`, `load.svg`).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::wrk::Sample;

/// One contender's results (or why it has none).
#[derive(Clone, Debug)]
pub(crate) struct Proxy {
    /// `hookyard`, `hy-8hooks`, `nginx`, `ats`, `floor`, or `origin` (the origin alone, for
    /// reference).
    pub(crate) name: String,
    /// How it was set up, in a few words.
    pub(crate) setup: String,
    /// `Err(reason)` when it could not run here.
    pub(crate) samples: Result<Vec<Sample>, String>,
}

/// Medians across rounds; errors are summed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) rps: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) errors: u64,
    /// The server's CPU time per request, in microseconds, when measured.
    pub(crate) cpu_us: Option<f64>,
}

impl Proxy {
    pub(crate) fn summary(&self) -> Option<Summary> {
        let samples = self.samples.as_ref().ok().filter(|s| !s.is_empty())?;
        let of = |f: fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
        Some(Summary {
            rps: of(|s| s.rps),
            p50_us: of(|s| s.p50_us),
            p99_us: of(|s| s.p99_us),
            errors: samples.iter().map(Sample::errors).sum(),
            cpu_us: super::wrk::median_cpu(samples),
        })
    }
}

/// The median; the mean of the middle two for an even count; 0 for none.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// One contender against another: req/s and p99 as the first's over the other's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Ratio {
    pub(crate) rps: f64,
    pub(crate) p99: f64,
    /// CPU time per request, the first's over the other's (lower is better), when both measured.
    pub(crate) cpu: Option<f64>,
}

/// The goals per pair `subject/other`: req/s at least this many times the other's (issue 17:
/// hookyard with the add_header rule 1.05 × nginx; with eight global hook callbacks per
/// transaction, still 1.0 × nginx; issue 9: 2 × ATS).
const RPS_GOALS: &[(&str, f64)] =
    &[("hookyard/nginx", 1.05), ("hookyard/ats", 2.0), ("hy-8hooks/nginx", 1.0)];
/// p99 no worse than nginx's.
const P99_GOALS: &[(&str, f64)] = &[("hookyard/nginx", 1.0)];

pub(crate) fn ratio(subject: &Summary, other: &Summary) -> Option<Ratio> {
    (other.rps > 0.0 && other.p99_us > 0.0).then(|| Ratio {
        rps: subject.rps / other.rps,
        p99: subject.p99_us / other.p99_us,
        cpu: subject.cpu_us.zip(other.cpu_us).map(|(s, o)| s / o),
    })
}

/// The pairs `subject/other` compared: each hookyard (with the add_header rule, with eight
/// global hook callbacks) against nginx, ATS and the floor, and nginx against the floor.
const PAIRS: [(&str, &str); 7] = [
    ("hookyard", "nginx"),
    ("hookyard", "ats"),
    ("hookyard", "floor"),
    ("hy-8hooks", "nginx"),
    ("hy-8hooks", "ats"),
    ("hy-8hooks", "floor"),
    ("nginx", "floor"),
];

/// The ratios `subject/other` of [`PAIRS`], as `("subject/other", ratio)`, for those that have
/// results.
pub(crate) fn ratios(proxies: &[Proxy]) -> Vec<(String, Ratio)> {
    let find = |name: &str| proxies.iter().find(|p| p.name == name).and_then(Proxy::summary);
    PAIRS
        .iter()
        .filter_map(|(subject, other)| {
            Some((format!("{subject}/{other}"), ratio(&find(subject)?, &find(other)?)?))
        })
        .collect()
}

fn goal(table: &[(&str, f64)], name: &str) -> Option<f64> {
    table.iter().find(|(n, _)| *n == name).map(|(_, g)| *g)
}

/// Everything the run knew, for the JSON and the table.
pub(crate) struct Run {
    pub(crate) date: String,
    pub(crate) machine: Value,
    pub(crate) settings: Value,
    pub(crate) versions: Value,
    pub(crate) hookyard_plugin: bool,
    pub(crate) hookyard_plugin_note: Option<String>,
    pub(crate) proxies: Vec<Proxy>,
}

fn ms(us: f64) -> f64 {
    (us / 10.0).round() / 100.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(crate) fn json(run: &Run) -> Value {
    let proxies: Vec<Value> = run
        .proxies
        .iter()
        .map(|p| match (&p.samples, p.summary()) {
            (Ok(samples), Some(s)) => json!({
                "name": p.name,
                "setup": p.setup,
                "available": true,
                "median": {
                    "rps": s.rps.round(),
                    "p50_ms": ms(s.p50_us),
                    "p99_ms": ms(s.p99_us),
                    "cpu_us_per_request": s.cpu_us.map(round2),
                },
                "errors": s.errors,
                "rounds": samples.iter().map(|r| json!({
                    "rps": r.rps.round(),
                    "p50_ms": ms(r.p50_us),
                    "p99_ms": ms(r.p99_us),
                    "cpu_us_per_request": r.cpu_us.map(round2),
                    "requests": r.requests,
                    "status_errors": r.status_errors,
                    "socket_errors": r.socket_errors,
                })).collect::<Vec<_>>(),
            }),
            (Err(reason), _) => json!({
                "name": p.name, "setup": p.setup, "available": false, "reason": reason,
            }),
            (Ok(_), None) => json!({
                "name": p.name, "setup": p.setup, "available": false, "reason": "no rounds ran",
            }),
        })
        .collect();
    let mut ratios = serde_json::Map::new();
    for (name, r) in self::ratios(&run.proxies) {
        ratios.insert(
            name.clone(),
            json!({
                "rps": round2(r.rps),
                "p99": round2(r.p99),
                "cpu": r.cpu.map(round2),
                "rps_goal_min": goal(RPS_GOALS, &name),
                "rps_goal_met": goal(RPS_GOALS, &name).map(|g| r.rps >= g),
                "p99_goal_max": goal(P99_GOALS, &name),
                "p99_goal_met": goal(P99_GOALS, &name).map(|g| r.p99 <= g),
            }),
        );
    }
    json!({
        "date": run.date,
        "machine": run.machine,
        "settings": run.settings,
        "versions": run.versions,
        "hookyard_plugin": run.hookyard_plugin,
        "hookyard_plugin_note": run.hookyard_plugin_note,
        "proxies": proxies,
        "ratios": ratios,
    })
}

/// The table printed at the end.
pub(crate) fn table(run: &Run) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:>10} {:>9} {:>9} {:>9} {:>7}  req/s per round",
        "proxy", "req/s", "p50 ms", "p99 ms", "cpu us/rq", "errors"
    );
    for p in &run.proxies {
        match (&p.samples, p.summary()) {
            (Ok(samples), Some(s)) => {
                let rounds: Vec<String> = samples.iter().map(|r| format!("{:.0}", r.rps)).collect();
                let cpu = s.cpu_us.map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"));
                let _ = writeln!(
                    out,
                    "{:<10} {:>10.0} {:>9.2} {:>9.2} {:>9} {:>7}  {}",
                    p.name,
                    s.rps,
                    s.p50_us / 1e3,
                    s.p99_us / 1e3,
                    cpu,
                    s.errors,
                    rounds.join(" ")
                );
            }
            (Err(reason), _) => {
                let first = reason.lines().next().unwrap_or_default();
                let _ = writeln!(out, "{:<10} unavailable: {first}", p.name);
            }
            (Ok(_), None) => {
                let _ = writeln!(out, "{:<10} no rounds ran", p.name);
            }
        }
    }
    for (name, r) in ratios(&run.proxies) {
        let mut line = format!("{name}: req/s {:.2}×", r.rps);
        if let Some(g) = goal(RPS_GOALS, &name) {
            let _ = write!(line, " (goal ≥ {g:.2}×: {})", met(r.rps >= g));
        }
        let _ = write!(line, ", p99 {:.2}×", r.p99);
        if let Some(g) = goal(P99_GOALS, &name) {
            let _ = write!(line, " (goal ≤ {g:.2}×: {})", met(r.p99 <= g));
        }
        if let Some(cpu) = r.cpu {
            let _ = write!(line, ", cpu/request {cpu:.2}×");
        }
        let _ = writeln!(out, "{line}");
    }
    let plugin = match (&run.hookyard_plugin, &run.hookyard_plugin_note) {
        (true, _) => "hookyard's rule runs the C add_header plugin".to_owned(),
        (false, Some(note)) => format!("hookyard ran WITHOUT its plugin: {note}"),
        (false, None) => "hookyard ran without its plugin".to_owned(),
    };
    let _ = writeln!(out, "{plugin}");
    out
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "missed" }
}

/// A bar chart: median req/s per proxy (left), median p50 and p99 (right); each round as a dot
/// on its bar. Plain SVG, no script, no external fonts.
pub(crate) fn svg(run: &Run) -> String {
    const W: f64 = 860.0;
    const H: f64 = 400.0;
    const TOP: f64 = 70.0;
    const BOTTOM: f64 = 330.0;
    const PANEL: f64 = 380.0;
    let ran: Vec<(&Proxy, Summary, &Vec<Sample>)> = run
        .proxies
        .iter()
        .filter_map(|p| Some((p, p.summary()?, p.samples.as_ref().ok()?)))
        .collect();
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let title = format!(
        "hookyard vs nginx vs ATS: {} ({})",
        run.settings.get("wrk").and_then(Value::as_str).unwrap_or("wrk"),
        run.date
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="24" font-size="15" font-weight="bold">{}</text>"#,
        esc(&title)
    );
    let plugin = if run.hookyard_plugin {
        "hookyard rule: C add_header plugin"
    } else {
        "hookyard rule: no plugin (proxy refused it)"
    };
    let _ = writeln!(
        s,
        r##"<text x="20" y="44" fill="#555">{}; medians of {} rounds; dots beside the bars: each round</text>"##,
        esc(plugin),
        run.settings.get("rounds").and_then(Value::as_u64).unwrap_or(0)
    );
    let unavailable: Vec<String> = run
        .proxies
        .iter()
        .filter_map(|p| {
            p.samples.as_ref().err().map(|r| {
                format!("{}: unavailable ({})", p.name, r.lines().next().unwrap_or_default())
            })
        })
        .collect();
    if !unavailable.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="20" y="{}" fill="#a00">{}</text>"##,
            H - 12.0,
            esc(&unavailable.join("; "))
        );
    }
    let colour = |name: &str| match name {
        "hookyard" => "#d9822b",
        "nginx" => "#2b8a3e",
        "ats" => "#1c64b5",
        "floor" => "#6c757d",
        _ => "#999999",
    };
    // Left: req/s.
    let max_rps =
        ran.iter().flat_map(|(_, _, r)| r.iter().map(|x| x.rps)).fold(1.0, f64::max) * 1.1;
    panel(&mut s, 40.0, TOP, PANEL, BOTTOM, "req/s (higher is better)");
    let slot = (PANEL - 20.0) / ran.len().max(1) as f64;
    for (i, (p, sum, rounds)) in ran.iter().enumerate() {
        let x = 50.0 + i as f64 * slot;
        let h = (sum.rps / max_rps) * (BOTTOM - TOP);
        let _ = writeln!(
            s,
            r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"/>"#,
            BOTTOM - h,
            slot * 0.7,
            colour(&p.name)
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}</text>"#,
            x + slot * 0.35,
            BOTTOM - h - 4.0,
            sum.rps
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x + slot * 0.35,
            BOTTOM + 16.0,
            esc(label(&p.name))
        );
        for r in rounds.iter() {
            let y = BOTTOM - (r.rps / max_rps) * (BOTTOM - TOP);
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{y:.1}" r="2.5" fill="black"/>"#,
                x + slot * 0.7 + 6.0
            );
        }
    }
    // Right: p50 (light) and p99 (dark) in ms.
    let max_ms =
        ran.iter().flat_map(|(_, _, r)| r.iter().map(|x| x.p99_us / 1e3)).fold(0.1, f64::max) * 1.1;
    let left = 40.0 + PANEL + 40.0;
    panel(&mut s, left, TOP, PANEL, BOTTOM, "latency ms: p50 (light), p99 (dark); lower is better");
    for (i, (p, sum, rounds)) in ran.iter().enumerate() {
        let x = left + 10.0 + i as f64 * slot;
        let w = slot * 0.35;
        for (j, (value, opacity)) in
            [(sum.p50_us / 1e3, 0.45), (sum.p99_us / 1e3, 1.0)].iter().enumerate()
        {
            let bx = x + j as f64 * w;
            let h = (value / max_ms) * (BOTTOM - TOP);
            let _ = writeln!(
                s,
                r#"<rect x="{bx:.1}" y="{:.1}" width="{w:.1}" height="{h:.1}" fill="{}" fill-opacity="{opacity}"/>"#,
                BOTTOM - h,
                colour(&p.name)
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{value:.2}</text>"#,
                bx + w / 2.0,
                BOTTOM - h - 4.0
            );
        }
        for r in rounds.iter() {
            let y = BOTTOM - (r.p99_us / 1e3 / max_ms) * (BOTTOM - TOP);
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{y:.1}" r="2.5" fill="black"/>"#,
                x + w * 2.0 + 5.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x + w,
            BOTTOM + 16.0,
            esc(label(&p.name))
        );
    }
    let ratios: Vec<String> = ratios(&run.proxies)
        .iter()
        .map(|(n, r)| format!("{n}: req/s {:.2}×, p99 {:.2}×", r.rps, r.p99))
        .collect();
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" font-weight="bold">{}</text>"#,
        BOTTOM + 40.0,
        esc(&ratios.join(" · "))
    );
    s.push_str("</svg>\n");
    s
}

/// The chart's name for a contender.
fn label(name: &str) -> &str {
    if name == "origin" { "origin (direct)" } else { name }
}

fn panel(s: &mut String, x: f64, top: f64, width: f64, bottom: f64, label: &str) {
    let _ = writeln!(
        s,
        r##"<line x1="{x}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="#333"/>"##,
        x + width
    );
    let _ = writeln!(s, r##"<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="#333"/>"##);
    let _ = writeln!(s, r#"<text x="{x}" y="{}">{}</text>"#, top - 8.0, esc(label));
}

/// XML text escaping.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// `YYYY-MM-DDTHH:MM:SSZ` from seconds since the epoch (UTC; Howard Hinnant's civil-from-days).
pub(crate) fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rps: f64, p50: f64, p99: f64, errors: u64) -> Sample {
        Sample {
            requests: 1,
            rps,
            p50_us: p50,
            p99_us: p99,
            status_errors: errors,
            socket_errors: 0,
            cpu_us: Some(rps / 10.0),
            user_us: None,
        }
    }

    fn proxy(name: &str, samples: Vec<Sample>) -> Proxy {
        Proxy { name: name.into(), setup: format!("{name} setup"), samples: Ok(samples) }
    }

    fn run() -> Run {
        Run {
            date: "2026-11-22T01:00:00Z".into(),
            machine: json!({"cores": 2}),
            settings: json!({"wrk": "wrk -t1 -c32 -d10s", "rounds": 3}),
            versions: json!({}),
            hookyard_plugin: false,
            hookyard_plugin_note: Some("refused <because>".into()),
            proxies: vec![
                proxy(
                    "hookyard",
                    vec![
                        sample(100.0, 400.0, 2000.0, 1),
                        sample(120.0, 500.0, 1000.0, 0),
                        sample(110.0, 450.0, 3000.0, 2),
                    ],
                ),
                proxy("nginx", vec![sample(100.0, 300.0, 1000.0, 0); 3]),
                Proxy {
                    name: "ats".into(),
                    setup: "ats".into(),
                    samples: Err("would not start <x>".into()),
                },
            ],
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn summary_takes_medians_and_sums_errors() {
        let s = run().proxies[0].summary().expect("ran");
        let cpu = Some(11.0);
        assert_eq!(
            s,
            Summary { rps: 110.0, p50_us: 450.0, p99_us: 2000.0, errors: 3, cpu_us: cpu }
        );
        assert_eq!(run().proxies[2].summary(), None);
    }

    #[test]
    fn ratios_skip_the_unavailable() {
        let r = ratios(&run().proxies);
        let ratio = Ratio { rps: 1.1, p99: 2.0, cpu: Some(1.1) };
        assert_eq!(r, vec![("hookyard/nginx".to_string(), ratio)]);
        let none = ratios(&run().proxies[1..]);
        assert!(none.is_empty());
    }

    #[test]
    fn hookyards_and_nginx_are_set_against_the_floor() {
        let mut proxies = run().proxies;
        proxies.push(proxy("floor", vec![sample(200.0, 300.0, 1000.0, 0); 3]));
        let names: Vec<String> = ratios(&proxies).into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["hookyard/nginx", "hookyard/floor", "nginx/floor"]);
        let nginx = ratios(&proxies).into_iter().find(|(n, _)| n == "nginx/floor");
        assert_eq!(nginx.map(|(_, r)| r.rps), Some(0.5));
    }

    #[test]
    fn json_has_medians_ratios_goals_and_reasons() {
        let v = json(&run());
        assert_eq!(v["hookyard_plugin"], false);
        assert_eq!(v["proxies"][0]["median"]["rps"], 110.0);
        assert_eq!(v["proxies"][0]["median"]["p99_ms"], 2.0);
        assert_eq!(v["proxies"][0]["errors"], 3);
        assert_eq!(v["proxies"][0]["rounds"].as_array().map(Vec::len), Some(3));
        assert_eq!(v["proxies"][2]["available"], false);
        assert_eq!(v["proxies"][2]["reason"], "would not start <x>");
        assert_eq!(v["ratios"]["hookyard/nginx"]["rps"], 1.1);
        assert_eq!(v["ratios"]["hookyard/nginx"]["rps_goal_met"], true);
        assert_eq!(v["ratios"]["hookyard/nginx"]["p99_goal_met"], false);
        assert!(v["ratios"].get("hookyard/ats").is_none());
    }

    #[test]
    fn table_shows_everyone() {
        let t = table(&run());
        let row: Vec<&str> = t.lines().nth(1).unwrap_or_default().split_whitespace().collect();
        let expected = ["hookyard", "110", "0.45", "2.00", "11.0", "3", "100", "120", "110"];
        assert_eq!(row, expected, "{t}");
        assert!(t.contains("ats        unavailable: would not start <x>"), "{t}");
        assert!(
            t.contains(
                "hookyard/nginx: req/s 1.10× (goal ≥ 1.05×: met), p99 2.00× (goal ≤ 1.00×: missed), \
                 cpu/request 1.10×"
            ),
            "{t}"
        );
        assert!(t.contains("WITHOUT its plugin: refused <because>"), "{t}");
    }

    #[test]
    fn svg_is_well_formed_enough() {
        let s = svg(&run());
        assert!(s.starts_with("<svg ") && s.ends_with("</svg>\n"));
        assert_eq!(
            s.matches("<rect").count(),
            1 + 2 + 2 * 2,
            "background, 2 rps bars, 2×2 latency bars"
        );
        assert_eq!(s.matches("<circle").count(), 12);
        assert!(s.contains("ats: unavailable (would not start &lt;x&gt;)"), "text is escaped");
        assert!(s.contains("hookyard/nginx: req/s 1.10×, p99 2.00×"));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_309_323), "2026-11-22T01:02:03Z");
    }
}
