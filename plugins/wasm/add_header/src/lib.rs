//! Adds header fields to the request its origin gets and to the response its client gets,
//! written as Envoy's proxy-wasm Rust SDK examples are (`examples/http_headers`).
//!
//! Configuration: `name=value` pairs separated by spaces or new lines (as `plugin.yaml`
//! `params` join them); without one, `x-wasm-filter=add_header`. Every request also answers
//! `/wasm-hello` itself, as the SDK's example answers `/hello`.

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(AddHeaderRoot { headers: Vec::new() })
    });
}}

struct AddHeaderRoot {
    headers: Vec<(String, String)>,
}

impl Context for AddHeaderRoot {}

impl RootContext for AddHeaderRoot {
    fn on_configure(&mut self, _: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let config = String::from_utf8_lossy(&config);
        self.headers = config
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        if self.headers.is_empty() && config.trim().is_empty() {
            self.headers.push(("x-wasm-filter".to_owned(), "add_header".to_owned()));
        }
        // A configuration with no `name=value` pair in it is refused, as a typo would be.
        !self.headers.is_empty()
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(AddHeader { context_id, headers: self.headers.clone() }))
    }
}

struct AddHeader {
    context_id: u32,
    headers: Vec<(String, String)>,
}

impl Context for AddHeader {}

impl HttpContext for AddHeader {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        match self.get_http_request_header(":path") {
            Some(path) if path == "/wasm-hello" => {
                self.send_http_response(
                    200,
                    vec![("hello", "world"), ("powered-by", "proxy-wasm")],
                    Some(b"Hello, World!\n"),
                );
                Action::Pause
            }
            _ => {
                for (name, value) in &self.headers {
                    self.add_http_request_header(name, value);
                }
                Action::Continue
            }
        }
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        for (name, value) in &self.headers {
            self.set_http_response_header(name, Some(value));
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        proxy_wasm::hostcalls::log(LogLevel::Debug, &format!("#{} completed.", self.context_id))
            .ok();
    }
}
