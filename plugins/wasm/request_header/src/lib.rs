//! Adds header fields to the request its origin gets, and does nothing else: the job of the C
//! remap plugin `plugins/c/add_header.c`, so `cargo xtask bench` compares the two on equal work.
//!
//! Configuration: `name=value` pairs separated by spaces or new lines (as `@pparam`s and
//! `plugin.yaml` `params` join them); at least one.

use std::rc::Rc;

use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(RequestHeaderRoot { fields: Rc::from(Vec::new()) })
    });
}}

/// The configured fields, shared by every transaction's context.
type Fields = Rc<[(String, String)]>;

struct RequestHeaderRoot {
    fields: Fields,
}

impl Context for RequestHeaderRoot {}

impl RootContext for RequestHeaderRoot {
    fn on_configure(&mut self, _: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let fields: Vec<(String, String)> = String::from_utf8_lossy(&config)
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        self.fields = Rc::from(fields);
        // A configuration without a `name=value` pair is refused, as a typo would be.
        !self.fields.is_empty()
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(RequestHeader { fields: self.fields.clone() }))
    }
}

struct RequestHeader {
    fields: Fields,
}

impl Context for RequestHeader {}

impl HttpContext for RequestHeader {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        for (name, value) in self.fields.iter() {
            self.add_http_request_header(name, value);
        }
        Action::Continue
    }
}
