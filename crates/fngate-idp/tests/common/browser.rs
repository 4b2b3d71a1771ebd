//! A minimal browser over raw HTTP for the sign-in pages: keeps cookies, does not follow
//! redirects, reads hidden form fields, posts forms as the page would.

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The `value` of the input named `name` (the pages write `name="…" value="…"`).
    pub fn field(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(unescape(&self.body[start..end]))
    }

    /// A query or fragment parameter of the redirect `Location`.
    pub fn redirect_param(&self, name: &str) -> Option<String> {
        let location = self.location.as_deref()?;
        let url = url::Url::parse(location).ok()?;
        url.query_pairs()
            .chain(url::form_urlencoded::parse(
                url.fragment().unwrap_or_default().as_bytes(),
            ))
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.trim_end_matches('/').to_string(),
            cookies: BTreeMap::new(),
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let location = headers.get(LOCATION).map(|l| l.to_str().unwrap().to_string());
        Page {
            status,
            location,
            headers,
            body: response.text().await.unwrap(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path_or_url: &str) -> Page {
        let mut request = self.http.get(self.url(path_or_url));
        if !self.cookies.is_empty() {
            request = request.header(COOKIE, self.cookie_header());
        }
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut request = self.http.post(self.url(path)).form(form);
        if !self.cookies.is_empty() {
            request = request.header(COOKIE, self.cookie_header());
        }
        let response = request.send().await.unwrap();
        self.finish(response).await
    }

    /// Posts the sign-in form on `page` with these credentials.
    pub async fn sign_in(&mut self, page: &Page, user: &str, password: &str) -> Page {
        let tx = page
            .field("tx")
            .unwrap_or_else(|| panic!("no sign-in form: {}", page.body));
        let token = page.field("form_token").unwrap();
        self.post(
            "/signin/password",
            &[
                ("tx", &tx),
                ("form_token", &token),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }

    /// Answers the consent page on `page` (accept or decline).
    pub async fn consent(&mut self, page: &Page, accept: bool) -> Page {
        let tx = page
            .field("tx")
            .unwrap_or_else(|| panic!("no consent form: {}", page.body));
        let token = page.field("form_token").unwrap();
        let decision = if accept { "accept" } else { "decline" };
        self.post(
            "/signin/consent",
            &[("tx", &tx), ("form_token", &token), ("decision", decision)],
        )
        .await
    }

    /// Signs in on the authorize URL's page and consents if asked; returns the final response
    /// (the redirect to the app).
    pub async fn sign_in_through(&mut self, authorize_url: &str, user: &str, password: &str) -> Page {
        let page = self.get(authorize_url).await;
        assert_eq!(page.status, 200, "authorize page: {}", page.body);
        let after = self.sign_in(&page, user, password).await;
        if after.body.contains("id=\"accept\"") {
            self.consent(&after, true).await
        } else {
            after
        }
    }
}
