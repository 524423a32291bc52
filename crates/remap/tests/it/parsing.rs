//! Parsing: directives, includes, plugin chains, and every kind of error with its line.

use std::fs;

use hookyard_remap::{PluginSpec, RuleKind, Rules};

use crate::support::{errors, go, rules};

#[test]
fn continuation_lines_and_comments() {
    let r = rules(
        "# a comment\n   # another\nmap http://a \\\n   http://b\n\nMap http://c/ http://d/ # not a comment\n",
    );
    assert_eq!(r.rules().len(), 2);
    assert_eq!(r.rules()[0].line, 3);
    assert_eq!(r.rules()[1].line, 6);
    assert_eq!(go(&r, "http://a/x"), "map http://b/x");
}

#[test]
fn plugin_parameters_go_to_the_plugin_before_them_or_the_first() {
    let r = rules(
        "map http://a/ http://b/ @plugin=p.so @pparam=x @pparam=y\n\
         map http://url/path http://url/path @pparam=z @plugin=p1.so @pparam=1 @pparam= @plugin=p2.so @pparam=2\n",
    );
    assert_eq!(
        r.rules()[0].plugins,
        [PluginSpec { path: "p.so".into(), params: vec!["x".into(), "y".into()] }]
    );
    assert_eq!(
        r.rules()[1].plugins,
        [
            PluginSpec { path: "p1.so".into(), params: vec!["z".into(), "1".into()] },
            PluginSpec { path: "p2.so".into(), params: vec!["2".into()] },
        ]
    );
    assert_eq!(
        r.rules()[0].from.to_string(),
        "http://a/",
        "the canonical from URL handed to new_instance"
    );
}

#[test]
fn strategy_names_a_strategy_on_forward_rules_only() {
    let r = rules(
        "map http://a/ http://b/ @strategy=mid-tier\n\
         map http://c/ http://d/ @action=allow @strategy=south\n\
         map http://e/ http://f/\n",
    );
    let names: Vec<_> = r.rules().iter().map(|rule| rule.strategy.as_deref()).collect();
    assert_eq!(names, [Some("mid-tier"), Some("south"), None]);
    assert_eq!(r.rules()[0].to_string(), "map http://a/ http://b/ @strategy=mid-tier");
    assert_eq!(
        errors(
            "map http://a/ http://b/ @strategy=x @strategy=y\n\
             redirect http://c/ http://d/ @strategy=x\n"
        ),
        [
            "remap.config:1: a second @strategy= (`y`): the rule already uses `x`",
            "remap.config:2: @strategy= is only for map rules, not redirect",
        ]
    );
}

#[test]
fn origin_tls_verify_is_per_rule_in_hookyards_words_or_atss() {
    let r = rules(
        "map http://a/ https://b/ @origin_tls_verify=off\n\
         map http://c/ https://d/ @origin_tls_verify=ON\n\
         map http://e/ https://f/ @origin_tls_verify=DISABLED\n\
         map http://g/ https://h/ @origin_tls_verify=enforced\n\
         map http://i/ https://j/\n",
    );
    let verify: Vec<_> = r.rules().iter().map(|rule| rule.origin_tls_verify).collect();
    assert_eq!(verify, [Some(false), Some(true), Some(false), Some(true), None]);
    assert_eq!(r.rules()[0].to_string(), "map http://a/ https://b/ @origin_tls_verify=off");
    assert_eq!(
        errors("map http://a/ https://b/ @origin_tls_verify=\n"),
        ["remap.config:1: @origin_tls_verify= must be `on` or `off`, not ``"]
    );
}

#[test]
fn rule_types_are_case_insensitive_and_map_with_referer_is_a_map() {
    let r = rules(
        "REGEX_MAP http://(a).com/ http://$1/\nmap http://r.com/ http://s/ @map_with_referer\nRedirect_Temporary http://t.com/ http://u/\n",
    );
    let kinds: Vec<_> = r.rules().iter().map(|r| (r.kind, r.regex)).collect();
    assert_eq!(
        kinds,
        [
            (RuleKind::Map, true),
            (RuleKind::MapWithReferer, false),
            (RuleKind::RedirectTemporary, false)
        ]
    );
    assert_eq!(go(&r, "http://r.com/q"), "map http://s/q");
}

#[test]
fn includes_read_files_and_directories_in_order_and_share_filters() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sites")).unwrap();
    fs::write(
        dir.path().join("filters.config"),
        ".definefilter nopost @action=deny @method=POST\n",
    )
    .unwrap();
    fs::write(dir.path().join("sites/b.config"), "map http://shared/ http://from-b/\n").unwrap();
    fs::write(
        dir.path().join("sites/a.config"),
        "map http://shared/ http://from-a/\nmap http://only-a/ http://x/\n",
    )
    .unwrap();
    fs::write(dir.path().join("sites/.hidden"), "this is not read\n").unwrap();
    let main = dir.path().join("remap.config");
    fs::write(
        &main,
        ".include filters.config sites\n.activatefilter nopost\nmap http://last/ http://y/\n",
    )
    .unwrap();
    let err = Rules::load(&main).unwrap_err().to_string();
    assert!(
        err.contains(
            "b.config:1: unable to add mapping rule to lookup table: the same rule is on line 1"
        ),
        "{err}"
    );

    fs::write(dir.path().join("sites/b.config"), "map http://other/ http://from-b/\n").unwrap();
    let r = Rules::load(&main).unwrap();
    let hosts: Vec<_> = r.rules().iter().map(|r| r.from.host.as_str()).collect();
    assert_eq!(hosts, ["shared", "only-a", "other", "last"], "a.config before b.config");
    assert_eq!(
        r.rules()[3].filters.len(),
        1,
        "a filter defined in an included file is usable after it"
    );
    assert!(r.rules()[0].file.ends_with("sites/a.config"));

    fs::write(&main, ".include missing.config\n").unwrap();
    let err = Rules::load(&main).unwrap_err().to_string();
    assert!(err.contains("remap.config:1: failed to parse included file"), "{err}");
    fs::write(&main, ".include remap.config\n").unwrap();
    let err = Rules::load(&main).unwrap_err().to_string();
    assert!(err.ends_with("remap.config:1: \"remap.config\" includes itself"), "{err}");
}

#[test]
fn a_missing_remap_config_is_an_empty_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let r = Rules::load(&dir.path().join("remap.config")).unwrap();
    assert!(r.rules().is_empty());
}

#[test]
fn every_error_is_reported_with_its_line_in_one_pass() {
    let text = "\
map http://a/
frobnicate http://a/ http://b/
map http://a/ http://b/
map http://a/ http://b/
.definefilter f @action=deny @method=CONNECT @action=allow
.activatefilter undefined
.foo bar
map www.x.com/ http://b/
map http://x/ http:///nohost
map ftp://x/ http://y/
map ws://x/ http://y/
redirect / http://y/
map http://p/ http://q/ @plugin=
map http://p2/ http://q/ @colour=blue
map http://p3/ http://q/ @src_ip=10.0.0.300
map http://p4/ http://q/ @volume=1,
map http://p5/ http://q/ @volume=300
map http://p6/ http://q/ @strategy=
regex_map http://(a)/ http://$2/
regex_map http://a(/ http://b/
.definefilter
.INCLUDE x
map http://p7/ http://q/ @action=maybe
map http://p8/ http://q/ @pparam=lonely
map https://p9/ https://q/ @origin_tls_verify=maybe
";
    assert_eq!(
        errors(text),
        [
            "remap.config:1: malformed line: a rule needs a type, a from URL and a to URL",
            "remap.config:2: unknown mapping type `frobnicate`",
            "remap.config:4: unable to add mapping rule to lookup table: the same rule is on line 3",
            "remap.config:5: Only one @action= is allowed per remap ACL",
            "remap.config:6: Undefined filter \"undefined\" in directive \".activatefilter\"",
            "remap.config:7: Unknown directive \".foo\"",
            "remap.config:8: malformed From URL `www.x.com/`: no scheme (expected scheme://host/...)",
            "remap.config:9: the remap destinations require a hostname",
            "remap.config:10: only http, https, http+unix, https+unix, ws, wss, and tunnel remappings are supported",
            "remap.config:11: WS or WSS can only be mapped out to WS or WSS.",
            "remap.config:12: remap source in reverse mappings requires a hostname",
            "remap.config:13: Can't find remap plugin file name in \"@plugin=\"",
            "remap.config:14: unknown remap option \"@colour=blue\"",
            "remap.config:15: invalid IP address range `10.0.0.300`",
            "remap.config:16: Invalid @volume= directive '1,' (trailing comma)",
            "remap.config:17: Volume number 300 out of range (1-255)",
            "remap.config:18: @strategy= needs the name of a strategy",
            "remap.config:19: the To host `$2` uses $2 but the host regex has 1 groups",
            "remap.config:20: invalid host regex `a(`: unclosed group",
            "remap.config:21: directive \".definefilter\" must have name argument",
            "remap.config:22: Unknown directive \".INCLUDE\"",
            "remap.config:23: invalid @action= value `maybe` (expected allow or deny)",
            "remap.config:24: @pparam= without a @plugin= on the line",
            "remap.config:25: @origin_tls_verify= must be `on` or `off`, not `maybe`",
        ]
    );
}

#[test]
fn regex_substitution_limits_are_atss() {
    let ten = "$1".repeat(10);
    assert!(
        Rules::parse(std::path::Path::new("r"), &format!("regex_map http://(a)/ http://{ten}/\n"))
            .is_ok()
    );
    let eleven = "$1".repeat(11);
    let err = errors(&format!("regex_map http://(a)/ http://{eleven}/\n"));
    assert_eq!(
        err,
        [
            "remap.config:1: the To host `$1$1$1$1$1$1$1$1$1$1$1` has 11 substitutions; at most 10 are allowed"
        ]
    );
}

/// Loads `main` on another thread: a load that blocks fails the test instead of hanging it.
fn load_promptly(main: &std::path::Path) -> Result<hookyard_remap::Rules, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let main = main.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(Rules::load(&main).map_err(|e| e.to_string()));
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("loading must not block on a FIFO or read a device without end")
}

#[test]
fn an_include_of_a_fifo_a_device_or_a_huge_file_is_refused_promptly_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.config");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let huge = dir.path().join("huge.config");
    fs::File::create(&huge).unwrap().set_len(hookyard_remap::MAX_CONFIG_FILE_BYTES + 1).unwrap();
    let main = dir.path().join("remap.config");
    for (include, reason) in [
        ("fifo.config", "it is a FIFO, not a regular file"),
        ("/dev/zero", "it is a character device, not a regular file"),
        ("huge.config", "larger than the limit of 67108864 bytes (64 MiB)"),
    ] {
        fs::write(&main, format!("map http://a/ http://b/\n.include {include}\n")).unwrap();
        let err = load_promptly(&main).unwrap_err();
        let expected = "remap.config:2: failed to parse included file ";
        assert!(err.contains(expected), "{include}: {err}");
        assert!(err.contains(reason), "{include}: {err}");
    }

    // A directory include skips nothing silently: a FIFO in it is refused too.
    let sites = dir.path().join("sites");
    fs::create_dir(&sites).unwrap();
    fs::write(sites.join("a.config"), "map http://c/ http://d/\n").unwrap();
    fs::rename(&fifo, sites.join("b.config")).unwrap();
    fs::write(&main, ".include sites\n").unwrap();
    let err = load_promptly(&main).unwrap_err();
    assert!(err.contains("remap.config:1: failed to parse included file"), "{err}");
    assert!(err.contains("it is a FIFO"), "{err}");
}

#[test]
fn a_remap_config_that_is_a_fifo_or_too_large_is_refused_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("remap.config");
    let status = std::process::Command::new("mkfifo").arg(&main).status().unwrap();
    assert!(status.success());
    let err = load_promptly(&main).unwrap_err();
    assert!(err.contains("remap.config: cannot read: it is a FIFO"), "{err}");
    fs::remove_file(&main).unwrap();
    fs::File::create(&main).unwrap().set_len(hookyard_remap::MAX_CONFIG_FILE_BYTES + 1).unwrap();
    let err = load_promptly(&main).unwrap_err();
    assert!(err.contains("larger than the limit"), "{err}");
}
