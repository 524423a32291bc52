//! Inspects bodies: a request whose body contains the configured word (`forbidden` by
//! default) is refused with 403 before its origin sees it; a response body is counted, and the
//! count logged when it ends.
//!
//! The request body is buffered (`Action::Pause` until its end, as with Envoy), so the check
//! sees it whole.

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(InspectRoot { word: "forbidden".to_owned() })
    });
}}

struct InspectRoot {
    word: String,
}

impl Context for InspectRoot {}

impl RootContext for InspectRoot {
    fn on_configure(&mut self, _: usize) -> bool {
        if let Some(config) = self.get_plugin_configuration() {
            let word = String::from_utf8_lossy(&config).trim().to_owned();
            if !word.is_empty() {
                self.word = word;
            }
        }
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Inspect { word: self.word.clone(), response_bytes: 0 }))
    }
}

struct Inspect {
    word: String,
    response_bytes: usize,
}

impl Context for Inspect {}

impl HttpContext for Inspect {
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        let word = self.word.as_bytes();
        if !word.is_empty() && body.windows(word.len()).any(|w| w == word) {
            self.send_http_response(403, vec![("x-body-inspect", "refused")], Some(b"refused\n"));
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.response_bytes += body_size;
        if end_of_stream {
            let message = format!("response body: {} bytes", self.response_bytes);
            proxy_wasm::hostcalls::log(LogLevel::Info, &message).ok();
        }
        Action::Continue
    }
}
