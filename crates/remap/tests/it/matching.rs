//! Which rule wins and where it sends the request, as ATS's code decides it
//! (`UrlRewrite::_mappingLookup` and `url_rewrite_remap_request` in ATS's
//! `src/proxy/http/remap/UrlRewrite.cc`; `docs/remap.md` says where the documentation differs).

use hookyard_remap::Request;

use crate::support::{go, outcome, request, rules};

#[test]
fn the_earliest_matching_prefix_wins_and_the_dead_rule_is_reported() {
    let r = rules(
        "map http://www.g.com/ http://external.g.com/\nmap http://www.g.com/stuff/ http://stuff.g.com/\n",
    );
    assert_eq!(go(&r, "http://www.g.com/stuff/a.gif"), "map http://external.g.com/stuff/a.gif");
    assert_eq!(r.warnings().len(), 1);
    let warning = r.warnings()[0].to_string();
    assert!(warning.starts_with("/etc/hookyard/remap.config:2: map http://www.g.com/ http://external.g.com/ (line 1) shadows this rule"), "{warning}");
}

#[test]
fn host_rules_beat_host_less_rules_in_either_order() {
    for text in [
        "map / http://127.0.0.1:8001/\nmap http://example.com/dist_get_user http://127.0.0.1:8001/denied.html\n",
        "map http://example.com/dist_get_user http://127.0.0.1:8001/denied.html\nmap / http://127.0.0.1:8001/\n",
    ] {
        let r = rules(text);
        assert_eq!(go(&r, "http://example.com/a.gif"), "map http://127.0.0.1:8001/a.gif");
        assert_eq!(
            go(&r, "http://example.com/dist_get_user"),
            "map http://127.0.0.1:8001/denied.html"
        );
    }
}

#[test]
fn paths_are_rewritten_as_atss_code_does() {
    let r = rules("map http://www.x.com http://server/x\n");
    assert_eq!(go(&r, "http://www.x.com/Widgets?a=1&b"), "map http://server/x/Widgets?a=1&b");
    assert_eq!(go(&r, "http://www.x.com/"), "map http://server/x");
    let r = rules("map http://www.x.com/ http://server.hoster.com/\n");
    assert_eq!(
        go(&r, "http://www.x.com/Widgets/index.html"),
        "map http://server.hoster.com/Widgets/index.html"
    );
    // The documented example says `.../customers/x/y/c/d/doc.html`; the code gives this.
    let r = rules("map http://www.h.com/a/b/ http://server.h.com/customers/x/y\n");
    assert_eq!(
        go(&r, "http://www.h.com/a/b/c/d/doc.html"),
        "map http://server.h.com/customers/x/yc/d/doc.html"
    );
    let r = rules("map http://a/b http://x/c/\n");
    assert_eq!(go(&r, "http://a/b/d"), "map http://x/c/d");
    // A prefix is a byte prefix: `/foo` also matches `/foobar` (ATS issue #3259 territory).
    let r = rules("map http://a/foo http://x/bar\n");
    assert_eq!(go(&r, "http://a/foobar"), "map http://x/barbar");
}

#[test]
fn hosts_match_case_insensitively_and_ports_must_agree() {
    let r = rules("MAP http://WWW.X.COM/ http://Server:8080/\n");
    assert_eq!(go(&r, "http://www.x.com/a"), "map http://Server:8080/a");
    assert_eq!(go(&r, "http://WWW.x.Com/a"), "map http://Server:8080/a");
    assert_eq!(go(&r, "http://www.x.com:81/a"), "404");
    assert_eq!(go(&r, "https://www.x.com/a"), "404", "https is another scheme and port");
    let r = rules("map https://secure.x.com/ http://backend/\n");
    assert_eq!(go(&r, "https://secure.x.com:443/z"), "map http://backend/z");
}

#[test]
fn regex_rules_substitute_captures_and_are_anchored() {
    let r = rules("regex_map http://x([0-9]+).z.com/ http://real-x$1.z.com/\n");
    assert_eq!(go(&r, "http://x12.z.com/p"), "map http://real-x12.z.com/p");
    assert_eq!(go(&r, "http://ax12.z.com/"), "404");
    assert_eq!(go(&r, "http://x12.z.com.evil/"), "404");
}

#[test]
fn an_earlier_regex_rule_beats_a_later_exact_rule_and_not_the_reverse() {
    let r =
        rules("regex_map http://(.*).a.com/ http://re-$1/\nmap http://www.a.com/ http://exact/\n");
    assert_eq!(go(&r, "http://www.a.com/x"), "map http://re-www/x");
    let r =
        rules("map http://www.a.com/ http://exact/\nregex_map http://(.*).a.com/ http://re-$1/\n");
    assert_eq!(go(&r, "http://www.a.com/x"), "map http://exact/x");
    assert_eq!(go(&r, "http://img.a.com/x"), "map http://re-img/x");
}

#[test]
fn map_with_recv_port_matches_on_the_accepting_port_first() {
    let r = rules(
        "map http://foo.example.com/ http://plain.example.com/\n\
         map_with_recv_port http://foo.example.com:8000/ http://x.example.com/\n\
         map_with_recv_port http://foo.example.com:8888/ http://y.example.com/\n\
         map_with_recv_port http+unix://foo.example.com/ http://uds.example.com/\n",
    );
    let on = |recv_port: Option<u16>| {
        let request = Request { recv_port, ..request("http://foo.example.com:9999/p") };
        outcome(&r, &request)
    };
    assert_eq!(
        on(Some(8000)),
        "map http://x.example.com/p",
        "the Host header's port is irrelevant"
    );
    assert_eq!(on(Some(8888)), "map http://y.example.com/p");
    assert_eq!(on(None), "map http://uds.example.com/p");
    let request = Request { recv_port: Some(7000), ..request("http://foo.example.com/p") };
    assert_eq!(outcome(&r, &request), "map http://plain.example.com/p");
}

#[test]
fn redirects_answer_301_or_307_and_302_to_http10_and_maps_win_over_them() {
    let r = rules(
        "redirect http://www.company.com/ http://www.company2.com/\n\
         redirect_temporary http://www.company1.com/ http://www.company2.com/\n\
         redirect http://both.com/ http://elsewhere.com/\n\
         map http://both.com/ http://origin/\n",
    );
    assert_eq!(go(&r, "http://www.company.com/a?q"), "redirect 301 http://www.company2.com/a?q");
    assert_eq!(go(&r, "http://www.company1.com/a"), "redirect 307 http://www.company2.com/a");
    let http10 = Request { http10: true, ..request("http://www.company1.com/a") };
    assert_eq!(outcome(&r, &http10), "redirect 302 http://www.company2.com/a");
    assert_eq!(go(&r, "http://both.com/x"), "map http://origin/x");
}

#[test]
fn reverse_map_rewrites_the_origins_location() {
    let r = rules(
        "map http://www.x.com/ http://server.hoster.com/x/\nreverse_map http://server.hoster.com/x/ http://www.x.com/\n",
    );
    assert_eq!(go(&r, "http://www.x.com/Widgets"), "map http://server.hoster.com/x/Widgets");
    assert_eq!(
        r.reverse("http://server.hoster.com/x/Widgets/").as_deref(),
        Some("http://www.x.com/Widgets/")
    );
    assert_eq!(
        r.reverse("http://SERVER.hoster.com/x/a?b=1").as_deref(),
        Some("http://www.x.com/a?b=1")
    );
    assert_eq!(r.reverse("http://other.com/x/"), None);
    assert_eq!(r.reverse("not a url"), None);
}

#[test]
fn unmapped_requests_are_not_found() {
    let r = rules("map http://a.com/ http://b/\n");
    assert_eq!(go(&r, "http://c.com/"), "404");
    assert_eq!(go(&rules(""), "http://c.com/"), "404");
}
