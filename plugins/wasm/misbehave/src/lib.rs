//! A filter for the proxy's tests: it fails on purpose by request path — `/trap` panics (a
//! trap), `/loop` never returns (the deadline), `/grow` allocates past any sane memory limit —
//! and reports what the host gave it: with a configuration of `tick`, its root context asks for
//! a 10 ms tick and counts the ticks in shared data (`ticks`), which every request gets as
//! `x-ticks`; `x-source` and `x-path` carry the `source.address` and `request.path`
//! properties. Every other request also gets `x-misbehave: fine` on its way to the origin.

use std::time::Duration;

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        if config == b"tick" {
            self.set_tick_period(Duration::from_millis(10));
        }
        true
    }

    fn on_tick(&mut self) {
        // Compare-and-swap: every worker's instance ticks.
        loop {
            let (value, cas) = self.get_shared_data("ticks");
            let n = value.map_or(0, |v| String::from_utf8_lossy(&v).parse::<u64>().unwrap_or(0));
            if self.set_shared_data("ticks", Some((n + 1).to_string().as_bytes()), cas).is_ok() {
                return;
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Misbehave))
    }
}

struct Misbehave;

impl Context for Misbehave {}

impl HttpContext for Misbehave {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        match path.as_str() {
            "/trap" => panic!("asked to trap"),
            "/loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/grow" => {
                let mut held: Vec<Vec<u8>> = Vec::new();
                loop {
                    held.push(vec![1; 1 << 20]);
                    std::hint::black_box(&held);
                }
            }
            _ => {
                self.set_http_request_header("x-misbehave", Some("fine"));
                let (ticks, _) = self.get_shared_data("ticks");
                let ticks = ticks.map_or_else(|| "0".to_owned(), |t| String::from_utf8_lossy(&t).into_owned());
                self.set_http_request_header("x-ticks", Some(&ticks));
                let text = |v: Option<Vec<u8>>| String::from_utf8_lossy(&v.unwrap_or_default()).into_owned();
                let source = text(self.get_property(vec!["source", "address"]));
                let request_path = text(self.get_property(vec!["request", "path"]));
                self.set_http_request_header("x-source", Some(&source));
                self.set_http_request_header("x-path", Some(&request_path));
                Action::Continue
            }
        }
    }
}
