//! ACL filters on rules, with ATS 9.2's legacy policy (`UrlRewrite::PerformACLFiltering` in
//! ATS's `src/proxy/http/remap/UrlRewrite.cc`; the ACL filters of
//! <https://docs.trafficserver.apache.org/en/9.2.x/admin-guide/files/remap.config.en.html>).

use hookyard_remap::{AclRequest, Remap, allowed};

use crate::support::{request, rules};

fn check(rules: &hookyard_remap::Rules, url: &str, method: &str, client: &str) -> bool {
    let Remap::Map { rule, .. } = rules.remap(&request(url)) else { panic!("{url} must map") };
    let request = AclRequest {
        method,
        client: client.parse().unwrap(),
        local: "127.0.0.1".parse().unwrap(),
        internal: false,
    };
    allowed(&rule.filters, &request)
}

#[test]
fn in_the_documented_order_the_neverpost_rule_is_dead_because_the_earliest_prefix_wins() {
    // ATS's remap.config documentation shows these lines and says POST to /neverpost is denied;
    // ATS's code picks the earliest matching rule, so the second rule never matches. We follow
    // the code, and the load warns that the rule is shadowed.
    let r = rules(
        ".definefilter disable_delete_purge @action=deny @method=delete @method=purge\n\
         .activatefilter disable_delete_purge\n\
         map http://foo.example.com/ http://bar.example.com/\n\
         map http://foo.example.com/neverpost http://foo.example.com/neverpost @action=deny @method=post\n",
    );
    assert!(check(&r, "http://foo.example.com/neverpost", "POST", "1.1.1.1"));
    assert!(!check(&r, "http://foo.example.com/neverpost", "DELETE", "1.1.1.1"));
    assert!(r.warnings()[0].reason.contains("shadows this rule"));
}

#[test]
fn named_and_inline_filters_apply_in_order() {
    let r = rules(
        ".definefilter disable_delete_purge @action=deny @method=delete @method=purge\n\
         .activatefilter disable_delete_purge\n\
         map http://foo.example.com/neverpost http://foo.example.com/neverpost @action=deny @method=post\n\
         map http://foo.example.com/ http://bar.example.com/\n\
         .deactivatefilter disable_delete_purge\n\
         map http://free.example.com/ http://bar.example.com/\n",
    );
    assert!(!check(&r, "http://foo.example.com/a", "DELETE", "1.1.1.1"));
    assert!(!check(&r, "http://foo.example.com/a", "PURGE", "1.1.1.1"));
    assert!(check(&r, "http://foo.example.com/a", "GET", "1.1.1.1"));
    assert!(!check(&r, "http://foo.example.com/neverpost", "POST", "1.1.1.1"));
    assert!(!check(&r, "http://foo.example.com/neverpost", "DELETE", "1.1.1.1"));
    assert!(
        check(&r, "http://free.example.com/a", "DELETE", "1.1.1.1"),
        "deactivated before this rule"
    );
    let neverpost = &r.rules()[0];
    assert_eq!(neverpost.filters.len(), 2, "inline first, then the active named filter");
    assert_eq!(neverpost.filters[0].methods, ["POST"]);
    assert_eq!(neverpost.filters[1].name.as_deref(), Some("disable_delete_purge"));
}

#[test]
fn an_allow_filter_denies_addresses_it_does_not_match() {
    let r = rules(
        "map http://lan.example.com/ http://intranet/ @action=allow @src_ip=10.0.0.0/8 @src_ip=192.168.0.1-192.168.0.9\n",
    );
    assert!(check(&r, "http://lan.example.com/", "GET", "10.9.8.7"));
    assert!(check(&r, "http://lan.example.com/", "GET", "192.168.0.5"));
    assert!(!check(&r, "http://lan.example.com/", "GET", "8.8.8.8"));
}
