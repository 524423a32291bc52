//! Asks another service before a request goes on, as the SDK's `http_auth_random` example
//! does: every request dispatches `GET /auth` to the upstream named by the configuration
//! (`auth.test` by default: hookyard sends it to the origin of the remap rule for that host),
//! then goes on with the answer's body in `x-auth` when it was 200, or is refused with 403.

use std::time::Duration;

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(CallRoot { upstream: "auth.test".to_owned() })
    });
}}

struct CallRoot {
    upstream: String,
}

impl Context for CallRoot {}

impl RootContext for CallRoot {
    fn on_configure(&mut self, _: usize) -> bool {
        if let Some(config) = self.get_plugin_configuration() {
            let upstream = String::from_utf8_lossy(&config).trim().to_owned();
            if !upstream.is_empty() {
                self.upstream = upstream;
            }
        }
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Call { upstream: self.upstream.clone() }))
    }
}

struct Call {
    upstream: String,
}

impl HttpContext for Call {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        let dispatched = self.dispatch_http_call(
            &self.upstream,
            vec![(":method", "GET"), (":path", "/auth"), (":authority", &self.upstream), ("x-asked-for", &path)],
            None,
            vec![],
            Duration::from_secs(5),
        );
        match dispatched {
            Ok(_) => Action::Pause,
            Err(_) => {
                self.send_http_response(503, vec![], Some(b"auth unavailable\n"));
                Action::Pause
            }
        }
    }
}

impl Context for Call {
    fn on_http_call_response(&mut self, _: u32, _: usize, body_size: usize, _: usize) {
        let status = self.get_http_call_response_header(":status").unwrap_or_default();
        if status == "200" {
            let body = self.get_http_call_response_body(0, body_size).unwrap_or_default();
            let answer = String::from_utf8_lossy(&body).lines().next().unwrap_or_default().to_owned();
            self.set_http_request_header("x-auth", Some(&answer));
            self.resume_http_request();
        } else {
            self.send_http_response(403, vec![("x-auth-status", &status)], Some(b"denied\n"));
        }
    }
}
