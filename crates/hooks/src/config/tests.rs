use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<PriorityConfig, ConfigErrors> {
    PriorityConfig::from_plugin_yaml(Path::new("plugin.yaml"), text)
}

fn errors(text: &str) -> Vec<String> {
    parse(text).unwrap_err().0.iter().map(ToString::to_string).collect()
}

#[test]
fn a_valid_file_is_read_into_the_model() {
    let config = parse(
        "plugins:\n\
         \x20 - path: ignored.so\n\
         priorities:\n\
         \x20 default: { priority: 5, max_priority: 10 }\n\
         \x20 threshold: -100\n\
         \x20 hooks:\n\
         \x20   READ_REQUEST_HDR: { threshold: 10 }\n\
         \x20   TS_HTTP_TXN_CLOSE_HOOK: { threshold: 0 }\n\
         \x20 plugins:\n\
         \x20   - name: auth\n\
         \x20     max_priority: 1000\n\
         \x20     priority: 900\n\
         \x20   - name: logger\n\
         \x20     priority: -5\n",
    )
    .unwrap();
    assert_eq!(config.default_priority, Priority(5));
    assert_eq!(config.default_max_priority, Priority(10));
    assert_eq!(config.threshold, Some(Priority(-100)));
    assert_eq!(
        config.hook_thresholds,
        vec![(HookId::ReadRequestHdr, Priority(10)), (HookId::TxnClose, Priority(0))]
    );
    assert_eq!(
        config.plugins,
        vec![
            PluginPriorityConfig {
                name: "auth".into(),
                max_priority: Priority(1000),
                priority: Priority(900),
                line: 10
            },
            PluginPriorityConfig {
                name: "logger".into(),
                max_priority: Priority(-5),
                priority: Priority(-5),
                line: 13
            },
        ]
    );
}

#[test]
fn a_file_without_priorities_gives_the_defaults() {
    assert_eq!(parse("plugins: []\n").unwrap(), PriorityConfig::default());
    assert_eq!(parse("").unwrap(), PriorityConfig::default());
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let text = "priorities:\n\
                \x20 colour: blue\n\
                \x20 threshold: high\n\
                \x20 hooks:\n\
                \x20   READ_CACHE_HDR: { threshold: 1 }\n\
                \x20   PRE_REMAP: { threshold: 1, when: always }\n\
                \x20 plugins:\n\
                \x20   - name: auth\n\
                \x20     max_priority: 10\n\
                \x20     priority: 20\n\
                \x20   - name: cache\n\
                \x20     priority: 1\n\
                \x20   - name: cache\n\
                \x20     priority: 2\n\
                \x20   - priority: 3\n\
                \x20   - name: big\n\
                \x20     priority: 99999999999\n\
                \x20   - name: nothing\n";
    assert_eq!(
        errors(text),
        vec![
            "plugin.yaml:2: unknown key `colour` in `priorities` (expected default, threshold, hooks, plugins)",
            "plugin.yaml:3: `threshold` must be an integer, found a string",
            "plugin.yaml:5: unknown hook `READ_CACHE_HDR`",
            "plugin.yaml:6: unknown key `when` in `priorities.hooks.PRE_REMAP` (expected threshold)",
            "plugin.yaml:8: priority 20 of plugin `auth` is above its max_priority 10",
            "plugin.yaml:13: plugin `cache` is listed twice (first on line 11)",
            "plugin.yaml:15: a `priorities.plugins` entry needs a `name`",
            "plugin.yaml:17: `priority` 99999999999 is out of range (-2147483648..=2147483647)",
            "plugin.yaml:16: plugin `big` needs `priority`, `max_priority`, `before` or `after`",
            "plugin.yaml:18: plugin `nothing` needs `priority`, `max_priority`, `before` or `after`",
        ]
    );
}

#[test]
fn wrong_types_and_broken_yaml_are_reported() {
    assert_eq!(
        errors("priorities:\n  plugins: {auth: 1}\n"),
        vec!["plugin.yaml:2: `priorities.plugins` must be a list, found a mapping"]
    );
    assert_eq!(
        errors("priorities:\n  default: { priority: 20, max_priority: 10 }\n"),
        vec!["plugin.yaml:2: default priority 20 is above the default max_priority 10"]
    );
    let broken = errors("priorities:\n  plugins: [\n");
    assert_eq!(broken.len(), 1);
    assert!(broken[0].starts_with("plugin.yaml:3: invalid YAML"), "{broken:?}");
    assert_eq!(errors("- a\n- b\n"), vec!["plugin.yaml:1: a plugin.yaml file must be a mapping"]);
}

#[test]
fn constraints_are_read_from_both_kinds_of_entry() {
    let config = parse(
        "plugins:\n\
         \x20 - path: auth.so\n\
         \x20   before: [rewrite]\n\
         \x20 - path: logger.so\n\
         \x20   hooks:\n\
         \x20     READ_REQUEST_HDR: { after: [auth, rewrite] }\n\
         priorities:\n\
         \x20 plugins:\n\
         \x20   - name: rewrite\n\
         \x20     after: stats\n",
    )
    .unwrap();
    let specs: Vec<(Subject, Relation, &str, Option<HookId>, usize)> = config
        .orders
        .iter()
        .map(|o| (o.subject.clone(), o.relation, o.other.as_str(), o.hook, o.line))
        .collect();
    assert_eq!(
        specs,
        [
            (Subject::Global(0), Relation::Before, "rewrite", None, 3),
            (Subject::Global(1), Relation::After, "auth", Some(HookId::ReadRequestHdr), 6),
            (Subject::Global(1), Relation::After, "rewrite", Some(HookId::ReadRequestHdr), 6),
            (Subject::Named("rewrite".into()), Relation::After, "stats", None, 10),
        ]
    );
    // An entry with constraints only needs no priority.
    assert!(config.plugins.is_empty());
}

#[test]
fn bad_constraints_are_reported_with_their_lines() {
    assert_eq!(
        errors(
            "plugins:\n\
             \x20 - path: a.so\n\
             \x20   before: [1]\n\
             \x20   hooks:\n\
             \x20     NO_SUCH: { after: [b] }\n\
             \x20     PRE_REMAP: { around: [b] }\n"
        ),
        [
            "plugin.yaml:3: a plugin name in `before`/`after` must be a string, found an integer",
            "plugin.yaml:5: unknown hook `NO_SUCH`",
            "plugin.yaml:6: unknown key `around` in `hooks.PRE_REMAP` (expected before, after)",
        ]
    );
}

fn resolve(text: &str, known: &[&str]) -> Result<Vec<String>, Vec<String>> {
    let config = parse(text).unwrap();
    let priorities = crate::Priorities::new(&config);
    let known: Vec<String> = known.iter().map(|k| (*k).to_owned()).collect();
    let subject = |s: &Subject| match s {
        Subject::Named(name) => Some(name.clone()),
        Subject::Global(i) => Some(format!("g{i}")),
    };
    crate::Orders::resolve(Path::new("plugin.yaml"), &config.orders, subject, &known, &priorities)
        .map(|orders| {
            orders
                .iter()
                .map(|(o, source)| {
                    format!(
                        "{} {} {:?} {source}",
                        priorities.name(o.first),
                        priorities.name(o.then),
                        o.hook
                    )
                })
                .collect()
        })
        .map_err(|e| e.0.iter().map(ToString::to_string).collect())
}

#[test]
fn constraints_resolve_to_plugins_with_their_sources() {
    let orders =
        resolve("plugins:\n  - path: a.so\n    after: [g1]\n  - path: b.so\n", &["g0", "g1"])
            .unwrap();
    assert_eq!(orders, ["g1 g0 None plugin.yaml:3"]);
}

#[test]
fn unknown_names_self_ordering_ceilings_and_cycles_are_errors() {
    let errors = resolve(
        "plugins:\n\
         \x20 - path: a.so\n\
         \x20   before: [nobody, g0]\n\
         \x20 - path: b.so\n\
         \x20   before: [boss]\n\
         priorities:\n\
         \x20 plugins:\n\
         \x20   - { name: boss, priority: 900, max_priority: 1000 }\n\
         \x20   - name: x\n\
         \x20     before: [y]\n\
         \x20   - name: y\n\
         \x20     hooks: { SEND_RESPONSE_HDR: { before: [z] } }\n\
         \x20   - name: z\n\
         \x20     before: [x]\n",
        &["g0", "g1", "boss", "x", "y", "z"],
    )
    .unwrap_err();
    assert_eq!(
        errors,
        [
            "plugin.yaml:3: `nobody` is no plugin of this configuration (plugins: boss, g0, g1, x, y, z)",
            "plugin.yaml:3: plugin `g0` cannot be ordered against itself",
            "plugin.yaml:5: `g1` before `boss` contradicts a ceiling: `g1`'s max_priority 0 is below `boss`'s priority 900",
            "plugin.yaml:10: ordering cycle on SEND_RESPONSE_HDR: x before y (plugin.yaml:10), y before z (plugin.yaml:12), z before x (plugin.yaml:14)",
        ]
    );
}
