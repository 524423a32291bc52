//! A filter that fails on purpose, by request path, for the proxy's limit tests:
//! `/trap` panics (a trap), `/loop` never returns (the deadline), `/grow` allocates past any
//! sane memory limit; every other request gets `x-misbehave: fine` on its way to the origin.

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Misbehave) });
}}

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
                Action::Continue
            }
        }
    }
}
