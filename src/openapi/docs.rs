//! `GET /docs`: the OpenAPI document rendered for people.

use bytes::Bytes;
use http::{HeaderValue, header};

use crate::http::Response;

/// The page, rendering the document served at [`super::DOCUMENT_PATH`].
pub fn page() -> Response {
    let mut response = http::Response::new(http_body_util::Full::new(Bytes::from_static(
        DOCS_HTML.as_bytes(),
    )));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

const DOCS_HTML: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>backend — API docs</title>
  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" crossorigin></script>
  <script>
    window.onload = () => {
      window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui" });
    };
  </script>
</body>
</html>
"##;
