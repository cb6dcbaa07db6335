//! Path parameters: where each value of a matched route lies in the
//! request's path.

/// The most parameters a route template may have.
pub const MAX_PARAMS: usize = 4;

/// Path parameters of the matched route, in request extensions: where each
/// value lies in the request's path, still percent-encoded as received.
///
/// Positions rather than copies, so routing allocates nothing per request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathParams {
    pub(super) names: [&'static str; MAX_PARAMS],
    pub(super) spans: [(usize, usize); MAX_PARAMS],
    pub(super) len: usize,
}

impl PathParams {
    /// The raw value of parameter `name` in `path` (the request's path these
    /// parameters were found in), if the route has it.
    pub fn get<'p>(&self, path: &'p str, name: &str) -> Option<&'p str> {
        let index = self.names[..self.len].iter().position(|n| *n == name)?;
        let (start, end) = self.spans[index];
        path.get(start..end)
    }

    /// Whether the route has no parameters.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The parameter names of a matchit template, in order (`{id}` -> `id`,
/// `{*rest}` -> `rest`).
pub(super) fn param_names(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.trim_start_matches('*'))
}

/// The path of `template` with each parameter replaced, in order, by the
/// next of `values` (e.g. the `Location` of a new item from its route).
///
/// # Panics
/// When `values` does not have one value per parameter: a programming error.
pub fn expand(template: &str, values: &[&str]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|v| v.len()).sum::<usize>());
    let mut rest = template;
    let mut values = values.iter();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c);
        let Some(close) = close else { break };
        out.push_str(&rest[..open]);
        out.push_str(
            values
                .next()
                .expect("a value for every parameter of the template"),
        );
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    assert!(
        values.next().is_none(),
        "more values than parameters in {template}"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_parameter_by_parameter() {
        assert_eq!(expand("/api/v1/users/{id}", &["42"]), "/api/v1/users/42");
        assert_eq!(expand("/a/{x}/b/{y}", &["1", "2"]), "/a/1/b/2");
        assert_eq!(expand("/plain", &[]), "/plain");
    }

    #[test]
    #[should_panic(expected = "a value for every parameter")]
    fn too_few_values_is_a_programming_error() {
        let _ = expand("/a/{x}/b/{y}", &["1"]);
    }

    #[test]
    #[should_panic(expected = "more values than parameters")]
    fn too_many_values_is_a_programming_error() {
        let _ = expand("/a/{x}", &["1", "2"]);
    }

    #[test]
    fn names_come_in_order_without_braces_or_stars() {
        let names: Vec<_> = param_names("/a/{first}/b/{*rest}").collect();
        assert_eq!(names, ["first", "rest"]);
        assert_eq!(param_names("/none").count(), 0);
    }
}
