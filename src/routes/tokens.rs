//! Token Management on the profile page: the user's access tokens and clients.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;

use crate::auth::extract::CurrentUser;
use crate::db::tokens::{self, TokenSummary};
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "profile/tokens.html")]
struct TokenManagementPage {
    ctx: PageCtx,
    access_tokens: Vec<TokenRow>,
    clients: Vec<TokenRow>,
    now: NaiveDateTime,
}

/// One row of a token table.
struct TokenRow {
    token: TokenSummary,
    role: Option<String>,
}

impl TokenRow {
    fn expires_soon(&self, now: &NaiveDateTime) -> bool {
        self.token
            .expires_at
            .is_some_and(|at| at > *now && at - *now <= chrono::TimeDelta::days(7))
    }

    fn expired(&self, now: &NaiveDateTime) -> bool {
        self.token.expires_at.is_some_and(|at| at <= *now)
    }
}

pub async fn list_my_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let owner = user.id;
    let (access_tokens, clients) = state
        .db(move |conn, _| {
            let mut rows = |kind| -> Result<Vec<TokenRow>, AppError> {
                Ok(tokens::list_for_owner(conn, owner, kind)?
                    .into_iter()
                    .map(|(token, role)| TokenRow { token, role })
                    .collect())
            };
            Ok((rows("personal")?, rows("client")?))
        })
        .await?;
    let page = TokenManagementPage {
        ctx: PageCtx::from_request(&req),
        access_tokens,
        clients,
        now: crate::db::now(),
    };
    Ok(render(&req, StatusCode::OK, page))
}
