//! The `json` format: one object per line, keys documented in `docs/operating.md`.

use serde_json::{Map, Value, json};

use super::record::{Civil, Entry, client_ip, version};

/// Appends `entry` as one JSON object (without the newline).
pub(super) fn write(entry: &Entry, out: &mut String) {
    let since = entry.time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let c = Civil::of(since.as_secs());
    let time = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        since.subsec_millis()
    );
    let header = |i: usize| entry.headers.get(i).cloned().flatten();
    let origin = entry.origin.as_ref().map(|o| {
        json!({
            "host": o.host,
            "addr": o.addr.map(|a| a.to_string()),
            "status": o.status.map(|s| s.as_u16()),
            "request_head_bytes": o.request_head,
            "response_head_bytes": o.response_head,
            "body_bytes": entry.origin_body(),
        })
    });
    let plugin: Map<String, Value> =
        entry.plugin.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let line = json!({
        "time": time,
        "client": client_ip(entry.client).to_string(),
        "client_port": entry.client.port(),
        "method": entry.method.as_str(),
        "url": entry.url,
        "protocol": version(entry.version),
        "request_head_bytes": entry.request_head,
        "request_body_bytes": entry.request_body,
        "status": entry.status.map(|s| s.as_u16()),
        "response_head_bytes": entry.response_head,
        "response_body_bytes": entry.response_body,
        "content_type": entry.content_type,
        "duration_ms": (entry.elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "user_agent": header(0),
        "referer": header(1),
        "cache": entry.cache_result(),
        "finished": entry.finished,
        "origin": origin,
        "plugin": plugin,
    });
    out.push_str(&line.to_string());
}
