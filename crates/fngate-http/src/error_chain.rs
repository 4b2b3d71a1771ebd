//! One line for a log or an error message: most errors (reqwest's, hyper's) say what failed only
//! in their sources.

/// `err` and each of its sources, joined with `": "`.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn joins_an_error_and_its_sources_in_order() {
        assert_eq!(error_chain(&Layer("alone", None)), "alone");
        let chained = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "connect",
                Some(Box::new(Layer("connection refused", None))),
            ))),
        );
        assert_eq!(
            error_chain(&chained),
            "error sending request: connect: connection refused"
        );
    }
}
