//! The C global example plugin `plugins/c/response_header.c` through the proxy: listed in
//! `plugin.yaml`, initialised with its params, and its SEND_RESPONSE_HDR hook seen by clients.

use std::path::Path;

use hookyard_fixtures::{abi_include_dir, compile_c_with};

use crate::support::{Origin, config_dir, get, proxy, write};

#[tokio::test]
async fn response_header_adds_its_fields_to_every_response() {
    let origin = Origin::start("o").await;
    let remap = format!("map http://site.test/ http://{}/\n", origin.addr);
    let plugin_yaml = "plugins:\n  - path: response_header.so\n    \
                       params: [X-Served-By:hookyard, \"Cache-Control: no-store\"]\n";
    let dir = config_dir(&[("remap.config", &remap), ("plugin.yaml", plugin_yaml)]);
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let yaml = format!(
        "runtime_dir: {}\nplugin_dirs: [{}]\n",
        dir.path().join("run").display(),
        plugins.display()
    );
    write(dir.path(), "hookyard.yaml", &yaml);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/c/response_header.c");
    compile_c_with(&source, &[], &[&abi_include_dir()], &plugins.join("response_header.so"));

    let proxy = proxy(Some(dir.path()));
    let plugins = proxy.plugins();
    let shown: Vec<(&str, &str, u64)> =
        plugins.iter().map(|p| (p.name.as_str(), p.kind.as_str(), p.continuations)).collect();
    assert_eq!(shown, [("response_header", "global", 1)]);

    let answer = get(proxy.addrs()[0], "site.test", "/page").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, "o GET /page host=".to_owned() + &origin.addr.to_string());
    assert_eq!(answer.headers["x-served-by"], "hookyard");
    assert_eq!(answer.headers["cache-control"], "no-store");
    // The proxy's own answers go through SEND_RESPONSE_HDR too.
    let missing = get(proxy.addrs()[0], "elsewhere.test", "/").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.headers["x-served-by"], "hookyard");
}
