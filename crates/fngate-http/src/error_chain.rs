//! One line for a log or an error message: most errors (reqwest's, hyper's) say what failed only
//! in their sources.

use std::error::Error;

/// `err` and each of its sources, joined with `": "`.
pub fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    for source in error_sources(err).skip(1) {
        text.push_str(": ");
        text.push_str(&source.to_string());
    }
    text
}

/// `err`, then each of its sources, nearest first: where to look for the cause an error wraps
/// (an `io::Error` kind, a body-limit error).
pub fn error_sources<'a>(err: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&e| e.source())
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
