//! Who is calling: the bearer token's principal, and the checks each handler makes with it. A role that may not do
//! something gets 403; a collector or department asking for something outside its scope gets 404, so that ids
//! of other portfolios are not even confirmed to exist.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use cobro_workflow::access::{self, Principal, Role};

use crate::AppState;
use crate::problem::ApiError;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let token = match parts.headers.get(header::AUTHORIZATION) {
            Some(value) => {
                let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
                match token {
                    Some(t) if !t.is_empty() => t.to_owned(),
                    _ => return Err(ApiError::unauthorized("the Authorization header must be `Bearer <token>`")),
                }
            }
            None => match session_cookie(&parts.headers) {
                // The web UI's session: the same token, in a cookie. A cookie is sent by the browser on its own,
                // so a change made with one must also carry a header that another site's page cannot set.
                Some(t) => {
                    let safe = matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD);
                    if !safe && parts.headers.get(UI_HEADER).and_then(|v| v.to_str().ok()) != Some(UI_HEADER_VALUE) {
                        return Err(ApiError::forbidden(format!(
                            "a change made with the session cookie needs the header `{UI_HEADER}: {UI_HEADER_VALUE}` \
                             (the web UI sends it); scripts should send `Authorization: Bearer <token>`"
                        ))
                        .with_code("csrf"));
                    }
                    t
                }
                None => {
                    return Err(ApiError::unauthorized(
                        "no Authorization header: send `Authorization: Bearer <token>` (create one with `cobro token create`)",
                    ));
                }
            },
        };
        match state.sessions.principal(&state.store, &token).await? {
            Some(p) => Ok(Self(p)),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}

/// The web UI's session cookie: it holds the token the user logged in with (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "cobro_session";
/// The header the web UI sends with every change.
pub const UI_HEADER: &str = "x-requested-with";
/// Its value.
pub const UI_HEADER_VALUE: &str = "cobro-ui";

/// The session cookie's token, if the request has one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Caller {
    /// The role, or 403 when it is not one of `roles`.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<&Principal, ApiError> {
        if roles.contains(&self.0.role) {
            return Ok(&self.0);
        }
        let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "a {} token may not {what} (allowed: {})",
            self.0.role.as_str(),
            allowed.join(", ")
        )))
    }

    /// The collector whose portfolio this caller is limited to (`None`: every portfolio).
    pub fn own_collector(&self) -> Option<&str> {
        (self.0.role == Role::Collector).then(|| self.0.collector_id.as_deref().unwrap_or_default())
    }

    /// The department this caller is limited to (`None`: every department).
    pub fn own_department(&self) -> Option<&str> {
        (self.0.role == Role::Department).then(|| self.0.department.as_deref().unwrap_or_default())
    }
}

/// Roles that read everything.
pub const READERS: &[Role] = &[Role::Admin, Role::Cfo, Role::Analyst];
/// Roles that read a portfolio: the readers and collectors (limited to their own).
pub const PORTFOLIO: &[Role] = &[Role::Admin, Role::Cfo, Role::Analyst, Role::Collector];
/// Roles that record collection work: admins, and collectors on their own customers.
pub const WORKERS: &[Role] = &[Role::Admin, Role::Collector];

/// A customer portal caller: the signed link (`?customer=&expires=&sig=`) checked, for that customer only.
#[derive(Debug, Clone)]
pub struct Portal {
    /// The customer the link is for.
    pub customer: String,
}

#[derive(serde::Deserialize)]
struct Link {
    customer: String,
    expires: i64,
    sig: String,
}

impl FromRequestParts<Arc<AppState>> for Portal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        use cobro_domain::clock::{Clock, SystemClock};
        let axum::extract::Query(link) = axum::extract::Query::<Link>::try_from_uri(&parts.uri).map_err(|_| {
            ApiError::forbidden("open the portal with the link we sent you (it carries customer, expires and sig)")
                .with_code("portal_link_invalid")
        })?;
        match access::check_portal(&state.store, &link.customer, link.expires, &link.sig, SystemClock.now()).await? {
            Ok(()) => Ok(Self { customer: link.customer }),
            Err(access::PortalRefusal::Expired) => {
                Err(ApiError::forbidden("this link has expired; ask us for a new one").with_code("portal_link_expired"))
            }
            Err(access::PortalRefusal::BadSignature) => {
                Err(ApiError::forbidden("this link is not valid for this customer").with_code("portal_link_invalid"))
            }
        }
    }
}
