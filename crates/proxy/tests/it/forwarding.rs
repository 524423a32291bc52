//! What a transparent proxy keeps and adds: the forwarding headers (`Via` both ways,
//! `X-Forwarded-For`, `Forwarded`) with their switches, and header names in the case they were
//! written (HTTP/1, both ways), seen by raw sockets.

use std::net::SocketAddr;
use std::path::Path;

use hookyard_fixtures::{abi_include_dir, compile_c_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{Origin, config_dir, exchange, get, proxy, wait_for, within, write};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The origin's `/headers` answer as lines `name: value`.
fn seen(body: &str) -> Vec<&str> {
    body.lines().collect()
}

/// A proxy to `origin` (`site.test`) with `settings` as `hookyard.yaml`.
fn setup(origin: SocketAddr, settings: &str) -> (tempfile::TempDir, hookyard_proxy::ServerHandle) {
    let remap = format!("map http://site.test/ http://{origin}/\n");
    let dir = config_dir(&[("remap.config", &remap), ("hookyard.yaml", settings)]);
    let proxy = proxy(Some(dir.path()));
    (dir, proxy)
}

#[tokio::test]
async fn via_goes_both_ways_by_default_and_the_others_are_off() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = setup(origin.addr, "forwarding: {via_hostname: edge-1}\n");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert_eq!(answer.status, 200);
    let via = format!("via: http/1.1 edge-1 (hookyard/{VERSION})");
    assert!(seen(&answer.body).contains(&via.as_str()), "{}", answer.body);
    assert!(!answer.body.contains("x-forwarded-for"), "{}", answer.body);
    assert!(!answer.body.contains("forwarded:"), "{}", answer.body);
    assert_eq!(answer.headers["via"], format!("http/1.1 edge-1 (hookyard/{VERSION})").as_str());
}

#[tokio::test]
async fn via_names_the_machine_unless_told_otherwise_and_can_be_switched_off() {
    let origin = Origin::start("o").await;
    let (_dir, proxy) = setup(origin.addr, "");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    let via = answer.headers["via"].to_str().unwrap().to_owned();
    assert!(via.starts_with("http/1.1 ") && via.ends_with(&format!(" (hookyard/{VERSION})")));
    assert!(answer.body.contains(&format!("via: {via}")), "{}", answer.body);
    let (_dir, proxy) = setup(origin.addr, "forwarding: {via: false}\n");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert!(!answer.body.contains("via:"), "{}", answer.body);
    assert!(!answer.headers.contains_key("via"));
    let (_dir, proxy) = setup(origin.addr, "forwarding: {via: request}\n");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    assert!(answer.body.contains("via: http/1.1 "), "{}", answer.body);
    assert!(!answer.headers.contains_key("via"), "ATS's default: the request only");
}

#[tokio::test]
async fn x_forwarded_for_and_forwarded_append_to_what_the_client_sent() {
    let origin = Origin::start("o").await;
    let settings = "forwarding: {via: false, x_forwarded_for: true, forwarded: true}\n";
    let (_dir, proxy) = setup(origin.addr, settings);
    let request = "GET /headers HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\
                   X-Forwarded-For: 203.0.113.9\r\nForwarded: for=203.0.113.9\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let lines = seen(&answer);
    assert!(lines.contains(&"x-forwarded-for: 203.0.113.9, 127.0.0.1"), "{answer}");
    let forwarded = "forwarded: for=203.0.113.9, for=127.0.0.1;proto=http;host=site.test";
    assert!(lines.contains(&forwarded), "{answer}");
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    let lines = seen(&answer.body);
    assert!(lines.contains(&"x-forwarded-for: 127.0.0.1"), "{}", answer.body);
    assert!(lines.contains(&"forwarded: for=127.0.0.1;proto=http;host=site.test"), "{lines:?}");
    let settings = "forwarding: {forwarded: [by, for]}\n";
    let (_dir, proxy) = setup(origin.addr, settings);
    let answer = get(proxy.addrs()[0], "site.test", "/headers").await;
    let lines = seen(&answer.body);
    assert!(lines.contains(&"forwarded: for=127.0.0.1;by=127.0.0.1"), "{lines:?}");
    assert!(!answer.body.contains("x-forwarded-for"), "{}", answer.body);
}

/// A raw origin on 127.0.0.1:0: for each connection, sends the request head it read to the
/// test, then answers `response` and closes.
async fn raw_origin(response: &'static str) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (heads, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, received)
}

const ORIGIN_RESPONSE: &str = "HTTP/1.1 200 OK\r\nX-Origin-Case: yes\r\nVia: 1.1 Origin-Cache\r\n\
                               content-TYPE: text/plain\r\nContent-Length: 2\r\n\r\nok";

#[tokio::test]
async fn header_names_keep_their_case_both_ways() {
    let (origin, mut heads) = raw_origin(ORIGIN_RESPONSE).await;
    let (_dir, proxy) = setup(origin, "forwarding: {via_hostname: edge}\n");
    let request = "GET /case HTTP/1.1\r\nHost: site.test\r\nX-Mixed-Case: 1\r\n\
                   ACCEPT: */*\r\nVia: 1.0 Client-Side\r\nConnection: close\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    let head = within("the origin's request", heads.recv()).await.unwrap();
    assert!(head.contains("\r\nX-Mixed-Case: 1\r\n"), "{head}");
    assert!(head.contains("\r\nACCEPT: */*\r\n"), "{head}");
    let via = format!("\r\nVia: 1.0 Client-Side, http/1.1 edge (hookyard/{VERSION})\r\n");
    assert!(head.contains(&via), "{head}");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\r\nX-Origin-Case: yes\r\n"), "{answer}");
    assert!(answer.contains("\r\ncontent-TYPE: text/plain\r\n"), "{answer}");
    let via = format!("\r\nVia: 1.1 Origin-Cache, http/1.1 edge (hookyard/{VERSION})\r\n");
    assert!(answer.contains(&via), "{answer}");
    assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
}

#[tokio::test]
async fn header_case_is_kept_beside_fields_a_plugin_added() {
    let (origin, mut heads) = raw_origin(ORIGIN_RESPONSE).await;
    let dir = config_dir(&[(
        "remap.config",
        &format!(
            "map http://site.test/ http://{origin}/ @plugin=add_header.so @pparam=X-Added:yes\n"
        ),
    )]);
    build_plugins(dir.path(), &[ADD_HEADER]);
    write(dir.path(), "hookyard.yaml", "plugin_dirs: [plugins]\nruntime_dir: run\n");
    let proxy = proxy(Some(dir.path()));
    let request =
        "GET /p HTTP/1.1\r\nHost: site.test\r\nX-Mixed-Case: 1\r\nConnection: close\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    let head = within("the origin's request", heads.recv()).await.unwrap();
    assert!(head.contains("\r\nX-Mixed-Case: 1\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains("\r\nx-added: yes\r\n"), "{head}");
    assert!(answer.contains("\r\nX-Origin-Case: yes\r\n"), "{answer}");
}

const UNREAD_RESPONSE: &str = "HTTP/1.1 203 Quite Fine\r\nX-Origin-Case: yes\r\n\
                               Connection: X-Private, keep-alive\r\nX-Private: secret\r\n\
                               Keep-Alive: timeout=5\r\nSET-cookie: a=1\r\nSet-Cookie: b=2\r\n\
                               content-TYPE: text/plain\r\nContent-Length: 2\r\n\r\nok";

/// A response head nothing reads is written from the origin's fields as received; one an
/// access log, a wasm filter or a plugin callback reads goes through a map. The client gets
/// the same bytes either way: the origin's fields in their case and order, without those of
/// one hop, then the proxy's (and a filter's or plugin's).
#[tokio::test]
async fn a_response_head_reads_the_same_whether_or_not_anything_read_it() {
    let filter = |name: &str| format!("@plugin={}", hookyard_fixtures::wasm_plugin(name).display());
    // The request header filter never reads a response's fields; the SDK's header filter sets
    // one.
    let unread = filter("request_header") + " @pparam=X-Bench=hookyard";
    let read = filter("add_header") + " @pparam=X-Wasm=1";
    // `txn_hooks` has callbacks on both response hooks that read nothing; `response_header`
    // adds a field at SEND_RESPONSE_HDR.
    let hooks = "plugins:\n  - path: txn_hooks.so\n";
    let adds = "plugins:\n  - path: response_header.so\n    params: [X-Plugin:1]\n";
    let cases = [
        ("", "", ""),
        ("access_log: {path: access.log, format: json}\n", "", ""),
        ("", unread.as_str(), ""),
        ("", read.as_str(), ""),
        ("", "", hooks),
        ("", "", adds),
    ];
    let mut answers = Vec::new();
    for (settings, options, plugins) in cases {
        let (origin, _heads) = raw_origin(UNREAD_RESPONSE).await;
        // A debug build's callbacks may miss the default deadline on a busy machine.
        let settings = format!(
            "forwarding: {{via_hostname: edge}}\nwasm: {{deadline: 5s}}\n\
             plugin_dirs: [plugins]\nruntime_dir: run\n{settings}"
        );
        let remap = format!("map http://site.test/ http://{origin}/ {options}\n");
        let dir = config_dir(&[
            ("remap.config", &remap),
            ("hookyard.yaml", &settings),
            ("plugin.yaml", plugins),
        ]);
        build_plugins(dir.path(), &[TXN_HOOKS, "../../plugins/c/response_header.c"]);
        let proxy = proxy(Some(dir.path()));
        let request = "GET /unread HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n";
        let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
        // The date is the clock's.
        let answer: String =
            answer.split_inclusive("\r\n").filter(|l| !l.starts_with("date: ")).collect();
        answers.push(answer);
    }
    let via = format!("via: http/1.1 edge (hookyard/{VERSION})");
    let origin = "HTTP/1.1 203 Quite Fine\r\nX-Origin-Case: yes\r\nSET-cookie: a=1\r\n\
                  Set-Cookie: b=2\r\ncontent-TYPE: text/plain\r\nContent-Length: 2\r\n";
    for (at, answer) in answers.iter().enumerate() {
        let plus = match at {
            3 => "x-wasm: 1\r\n",
            5 => "x-plugin: 1\r\n",
            _ => "",
        };
        // The proxy's `Via` goes in after READ_RESPONSE_HDR, before SEND_RESPONSE_HDR.
        let expected = if at == 5 {
            format!("{origin}{via}\r\n{plus}\r\nok")
        } else {
            format!("{origin}{plus}{via}\r\n\r\nok")
        };
        assert_eq!(*answer, expected, "case {at}");
    }
}

/// C plugins the tests build, relative to this crate: the example that adds request fields,
/// the one with eight callbacks that read nothing, and the test plugin that reads a request's
/// fields late.
const ADD_HEADER: &str = "../../plugins/c/add_header.c";
const TXN_HOOKS: &str = "../../plugins/c/txn_hooks.c";
const LATE_READER: &str = "tests/plugins/late_reader.c";

/// Builds the C plugins `sources` (relative to this crate) into `dir/plugins`, each as its
/// file's stem with `.so`.
fn build_plugins(dir: &Path, sources: &[&str]) {
    std::fs::create_dir(dir.join("plugins")).unwrap();
    for source in sources {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(source);
        let name = source.file_stem().unwrap().to_str().unwrap();
        let built = dir.join(format!("plugins/{name}.so"));
        compile_c_with(&source, &[], &[&abi_include_dir()], &built);
    }
}

/// A head's lines, sorted.
fn sorted_lines(head: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = head.split("\r\n").collect();
    lines.sort_unstable();
    lines
}

/// A request nothing reads or changes on its way (no plugin, one that only adds fields, hook
/// callbacks that read nothing; no filter) goes to its origin from the client's field lines as
/// received, an access log reading them there; one a plugin reads (here a SEND_REQUEST_HDR
/// callback reading the origin request's fields) goes through a map. The origin gets the same
/// fields either way: the client's in their case and order, without those of one hop, `Host`
/// the rule's in the client's place and spelling, then those plugins and the proxy added; and
/// an access log line reads the same of both requests.
#[tokio::test]
async fn a_request_head_reads_the_same_whether_or_not_anything_read_it() {
    let hooks = "plugins:\n  - path: txn_hooks.so\n";
    let reads = "plugins:\n  - path: late_reader.so\n    params: [origin]\n";
    let log = "access_log: {path: access.log, format_string: '%<cqhl>|%<pqhl>|%<{x-a}cqh>|\
               %<{x-private}cqh>|%<{HOST}cqh>|%<{host}pqh>|%<{x-a}pqh>|%<{via}pqh>|\
               %<{keep-alive}pqh>|%<{x-spaced}pqh>'}\n";
    // A rule whose plugin or wasm filter only adds fields leaves the client's as received too.
    let adds = " @plugin=add_header.so @pparam=x-a:3 @pparam=X-Added:1".to_owned();
    let filter = format!(
        " @plugin={} @pparam=X-Bench=hookyard",
        hookyard_fixtures::wasm_plugin("request_header").display()
    );
    let mut cases = Vec::new();
    for chain in [String::new(), adds, filter] {
        for log in ["", log] {
            for plugins in ["", hooks, reads] {
                cases.push((log, plugins, chain.clone()));
            }
        }
    }
    let request = "GET /req?q=1 HTTP/1.1\r\nX-First: 1\r\nhOsT: site.test\r\n\
                   Connection: X-Private, close\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\n\
                   TE: trailers\r\nX-Spaced:   two  \r\nx-a: 1\r\nX-A: 2\r\nX-Empty:\r\n\
                   Accept: */*\r\n\r\n";
    let mut logged: Vec<(String, Vec<String>)> = Vec::new();
    for (at, (log, plugins, chain)) in cases.into_iter().enumerate() {
        let (origin, mut heads) = raw_origin(ORIGIN_RESPONSE).await;
        // A debug build's callbacks may miss the default deadline on a busy machine.
        let settings = format!(
            "forwarding: {{via_hostname: edge}}\nwasm: {{deadline: 5s}}\nplugin_dirs: [plugins]\n\
             runtime_dir: run\n{log}"
        );
        let remap = format!("map http://site.test/ http://{origin}/{chain}\n");
        let dir = config_dir(&[
            ("remap.config", &remap),
            ("hookyard.yaml", &settings),
            ("plugin.yaml", plugins),
        ]);
        build_plugins(dir.path(), &[TXN_HOOKS, ADD_HEADER, LATE_READER]);
        let proxy = proxy(Some(dir.path()));
        let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "case {at}: {answer}");
        let head = within("the origin's request", heads.recv()).await.unwrap();
        let via = format!("http/1.1 edge (hookyard/{VERSION})");
        // The rule's plugin adds before the proxy's `Via`; the filter, which sees it, after.
        let (before, after) = match chain.as_str() {
            "" => ("", ""),
            c if c.contains("add_header") => ("x-a: 3\r\nx-added: 1\r\n", ""),
            _ => ("", "x-bench: hookyard\r\n"),
        };
        let expected = format!(
            "GET /req?q=1 HTTP/1.1\r\nX-First: 1\r\nhOsT: {origin}\r\nX-Spaced: two\r\n\
             x-a: 1\r\nX-A: 2\r\nX-Empty: \r\nAccept: */*\r\n{before}via: {via}\r\n{after}\r\n"
        );
        if plugins != reads {
            assert_eq!(head, expected, "case {at}");
        } else {
            // Through the map, fields added to a name the client has are written after the
            // client's in the map's order of names.
            assert_eq!(sorted_lines(&head), sorted_lines(&expected), "case {at}");
            let client = expected.find("Accept: */*\r\n").unwrap();
            assert_eq!(head[..client], expected[..client], "case {at}");
        }
        if !log.is_empty() {
            let path = dir.path().join("access.log");
            let whole = || std::fs::read_to_string(&path).is_ok_and(|text| text.ends_with('\n'));
            wait_for("the access log line", whole).await;
            let line = std::fs::read_to_string(&path).unwrap();
            let line = line.trim_end().replace(&origin.to_string(), "ORIGIN");
            let fields: Vec<String> = line.split('|').map(str::to_owned).collect();
            let sent = if before.is_empty() { "1, 2" } else { "1, 2, 3" };
            let want = ["1, 2", "secret", "site.test", "ORIGIN", sent, &via, "-", "two"];
            assert_eq!(fields[2..], want, "case {at}");
            logged.push((chain, fields));
        }
    }
    // The head lengths as well, from the lines and from the map.
    assert_eq!(logged.len(), 9);
    for (chain, fields) in &logged {
        let first = logged.iter().find(|(c, _)| c == chain).unwrap();
        assert_eq!(*fields, first.1, "{chain}");
    }
}

/// A plugin that reads the client's fields only after the origin answered (here at
/// SEND_RESPONSE_HDR) finds them all although they went to the origin as received: the
/// client's first, as its map holds them, then those the rule's plugin added. One that reads
/// the origin request's at SEND_REQUEST_HDR finds them as the origin gets them.
#[tokio::test]
async fn fields_sent_as_received_are_all_there_for_a_plugin_reading_them_later() {
    for plugins in [
        "plugins:\n  - path: late_reader.so\n",
        "plugins:\n  - path: late_reader.so\n    params: [origin]\n",
    ] {
        let (origin, mut heads) = raw_origin(ORIGIN_RESPONSE).await;
        let remap = format!(
            "map http://site.test/ http://{origin}/ @plugin=add_header.so @pparam=X-Added:1\n"
        );
        let settings =
            "forwarding: {via_hostname: edge}\nplugin_dirs: [plugins]\nruntime_dir: run\n";
        let dir = config_dir(&[
            ("remap.config", &remap),
            ("hookyard.yaml", settings),
            ("plugin.yaml", plugins),
        ]);
        build_plugins(dir.path(), &[ADD_HEADER, LATE_READER]);
        let proxy = proxy(Some(dir.path()));
        let request = "GET /r HTTP/1.1\r\nHost: site.test\r\nX-A: 1\r\nConnection: close\r\n\
                   x-a: 2\r\nAccept: */*\r\n\r\n";
        let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
        let head = within("the origin's request", heads.recv()).await.unwrap();
        let via = format!("http/1.1 edge (hookyard/{VERSION})");
        let expected = format!(
            "GET /r HTTP/1.1\r\nHost: {origin}\r\nX-A: 1\r\nx-a: 2\r\nAccept: */*\r\n\
         x-added: 1\r\nvia: {via}\r\n\r\n"
        );
        assert_eq!(head, expected);
        let read = "x-client-fields: host=site.test;x-a=1;x-a=2;connection=close;accept=*/*;\
                x-added=1;\r\n";
        let answer = answer.to_ascii_lowercase();
        assert!(answer.contains(read), "{answer}");
        let read = format!(
            "x-origin-fields: host={origin};x-a=1;x-a=2;accept=*/*;x-added=1;via={via};\r\n"
        );
        assert_eq!(answer.contains(&read), plugins.contains("origin"), "{answer}");
    }
}

/// A `Via` a rule's plugin adds while the client's fields stay as received gets the proxy's
/// joined to it, as the map's way joins them: one field, the plugin's value then the proxy's.
#[tokio::test]
async fn a_via_a_plugin_adds_is_joined_with_the_proxys() {
    let (origin, mut heads) = raw_origin(ORIGIN_RESPONSE).await;
    let remap = format!(
        "map http://site.test/ http://{origin}/ @plugin=add_header.so @pparam=Via:1.0/plugin \
         @pparam=X-Added:1\n"
    );
    let settings = "forwarding: {via_hostname: edge}\nplugin_dirs: [plugins]\nruntime_dir: run\n";
    let dir = config_dir(&[("remap.config", &remap), ("hookyard.yaml", settings)]);
    build_plugins(dir.path(), &[ADD_HEADER]);
    let proxy = proxy(Some(dir.path()));
    let request = "GET /r HTTP/1.1\r\nHost: site.test\r\nX-A: 1\r\nConnection: close\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let head = within("the origin's request", heads.recv()).await.unwrap();
    let via = format!("1.0/plugin, http/1.1 edge (hookyard/{VERSION})");
    let expected =
        format!("GET /r HTTP/1.1\r\nHost: {origin}\r\nX-A: 1\r\nvia: {via}\r\nx-added: 1\r\n\r\n");
    assert_eq!(sorted_lines(&head), sorted_lines(&expected), "{head}");
}

/// A wasm filter that changes a request field puts the client's fields in the map first: the
/// origin gets each of them once, in the client's case and order, then the filter's.
#[tokio::test]
async fn a_field_a_filter_sets_goes_with_the_clients_once() {
    let (origin, mut heads) = raw_origin(ORIGIN_RESPONSE).await;
    let filter = hookyard_fixtures::wasm_plugin("misbehave");
    let remap = format!("map http://site.test/ http://{origin}/ @plugin={}\n", filter.display());
    let settings = "forwarding: {via_hostname: edge}\nwasm: {deadline: 5s}\nruntime_dir: run\n";
    let dir = config_dir(&[("remap.config", &remap), ("hookyard.yaml", settings)]);
    let proxy = proxy(Some(dir.path()));
    let request = "GET /fine HTTP/1.1\r\nhOsT: site.test\r\nX-A: 1\r\nConnection: close\r\n\
                   Accept: */*\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let head = within("the origin's request", heads.recv()).await.unwrap();
    let via = format!("http/1.1 edge (hookyard/{VERSION})");
    let client = format!("GET /fine HTTP/1.1\r\nhOsT: {origin}\r\nX-A: 1\r\nAccept: */*\r\n");
    assert!(head.starts_with(&client), "{head}");
    let rest: Vec<&str> = head[client.len()..].split("\r\n").collect();
    let names: Vec<&str> = rest.iter().filter_map(|l| l.split(':').next()).collect();
    assert_eq!(names, ["via", "x-misbehave", "x-ticks", "x-source", "x-path", "", ""], "{head}");
    assert!(rest.contains(&format!("via: {via}").as_str()), "{head}");
}

/// A transform of the request body may re-frame it: a client's fields still as received go
/// into the map when one starts, and its `Content-Length` goes as the map's way has it (here
/// removed: the rewrite has no length).
#[tokio::test]
async fn a_request_transform_puts_the_fields_as_received_in_the_map() {
    let (origin, mut heads) = raw_origin(ORIGIN_RESPONSE).await;
    let remap = format!("map http://site.test/ http://{origin}/\n");
    let settings = "forwarding: {via_hostname: edge}\nplugin_dirs: [plugins]\nruntime_dir: run\n";
    let plugins = "plugins:\n  - path: transform_probe.so\n    params: [always=req-double]\n";
    let dir = config_dir(&[
        ("remap.config", &remap),
        ("hookyard.yaml", settings),
        ("plugin.yaml", plugins),
    ]);
    build_plugins(dir.path(), &["tests/plugins/transform_probe.c"]);
    let proxy = proxy(Some(dir.path()));
    let request = "GET /r HTTP/1.1\r\nHost: site.test\r\nContent-Length: 0\r\nX-A: 1\r\n\
                   Connection: close\r\n\r\n";
    let answer = exchange(proxy.addrs()[0], request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let head = within("the origin's request", heads.recv()).await.unwrap();
    let via = format!("http/1.1 edge (hookyard/{VERSION})");
    assert_eq!(head, format!("GET /r HTTP/1.1\r\nHost: {origin}\r\nX-A: 1\r\nvia: {via}\r\n\r\n"));
}

/// A raw origin on 127.0.0.1:0: for each connection, reads one request whole (its body as its
/// fields frame it), sends its head and its body (de-chunked) to the test, then answers
/// `response` and closes.
async fn whole_origin(
    response: &'static str,
) -> (SocketAddr, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (requests, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let requests = requests.clone();
            tokio::spawn(async move {
                let mut read = Vec::new();
                let complete = |read: &[u8]| {
                    let text = String::from_utf8_lossy(read);
                    let (head, rest) = text.split_once("\r\n\r\n")?;
                    let lower = head.to_ascii_lowercase();
                    let length = lower.lines().find_map(|l| l.strip_prefix("content-length:"));
                    let body = if let Some(length) = length {
                        let length: usize = length.trim().parse().unwrap();
                        (rest.len() >= length).then(|| rest[..length].to_owned())?
                    } else if lower.contains("\r\ntransfer-encoding: chunked") {
                        let (mut body, mut rest) = (String::new(), rest);
                        loop {
                            let (size, after) = rest.split_once("\r\n")?;
                            let size = usize::from_str_radix(size.trim(), 16).unwrap();
                            if size == 0 {
                                after.starts_with("\r\n").then_some(())?;
                                break body;
                            }
                            (after.len() >= size + 2).then_some(())?;
                            body.push_str(&after[..size]);
                            rest = &after[size + 2..];
                        }
                    } else {
                        String::new()
                    };
                    Some((format!("{head}\r\n\r\n"), body))
                };
                let mut buf = [0u8; 4096];
                let request = loop {
                    if let Some(request) = complete(&read) {
                        break request;
                    }
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read.extend_from_slice(&buf[..n]),
                    }
                };
                let _ = requests.send(request);
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, received)
}

/// A request with a body nothing reads goes to its origin from the client's field lines too:
/// its `Content-Length` in the client's place and spelling, a chunked body's coding (one hop's)
/// replaced by the origin client's own after the fields the proxy added, whether no plugin, a
/// rule's that only adds fields, or hook callbacks that read nothing run.
#[tokio::test]
async fn a_request_with_a_body_goes_with_its_fields_as_received() {
    let hooks = "plugins:\n  - path: txn_hooks.so\n";
    let adds = " @plugin=add_header.so @pparam=x-a:3";
    let via = format!("http/1.1 edge (hookyard/{VERSION})");
    for (chain, plugins) in [("", ""), (adds, ""), ("", hooks)] {
        let (origin, mut requests) = whole_origin(ORIGIN_RESPONSE).await;
        let settings =
            "forwarding: {via_hostname: edge}\nplugin_dirs: [plugins]\nruntime_dir: run\n";
        let remap = format!("map http://site.test/ http://{origin}/{chain}\n");
        let dir = config_dir(&[
            ("remap.config", &remap),
            ("hookyard.yaml", settings),
            ("plugin.yaml", plugins),
        ]);
        build_plugins(dir.path(), &[TXN_HOOKS, ADD_HEADER]);
        let proxy = proxy(Some(dir.path()));
        let added = if chain.is_empty() { String::new() } else { "x-a: 3\r\n".to_owned() };
        let case = format!("{chain:?} {plugins:?}");
        let sized = "POST /up HTTP/1.1\r\nX-First: 1\r\nhOsT: site.test\r\nContent-Length: 5\r\n\
                     X-A: 2\r\nConnection: close\r\n\r\nhello";
        let answer = exchange(proxy.addrs()[0], sized.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{case}: {answer}");
        let (head, body) = within("the origin's request", requests.recv()).await.unwrap();
        let want = format!(
            "POST /up HTTP/1.1\r\nX-First: 1\r\nhOsT: {origin}\r\nContent-Length: 5\r\n\
             X-A: 2\r\n{added}via: {via}\r\n\r\n"
        );
        assert_eq!((head.as_str(), body.as_str()), (want.as_str(), "hello"), "{case}");
        let chunked = "POST /up HTTP/1.1\r\nX-First: 1\r\nhOsT: site.test\r\n\
                       Transfer-Encoding: chunked\r\nX-A: 2\r\nConnection: close\r\n\r\n\
                       5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let answer = exchange(proxy.addrs()[0], chunked.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{case}: {answer}");
        let (head, body) = within("the origin's request", requests.recv()).await.unwrap();
        let want = format!(
            "POST /up HTTP/1.1\r\nX-First: 1\r\nhOsT: {origin}\r\nX-A: 2\r\n{added}via: {via}\r\n\
             transfer-encoding: chunked\r\n\r\n"
        );
        assert_eq!((head.as_str(), body.as_str()), (want.as_str(), "hello world"), "{case}");
    }
}
