"""The web 看板: an aiohttp adapter over the same handlers as the chat.

`server` builds the application (`web_app`) and serves it for `jindianzi run` (`serve`);
`security` holds the sessions, CSRF, rate limit and headers; `pages` the routes; templates
(Jinja2, autoescaped) in `templates/`, static files (CSS, JavaScript, vendored ECharts) in
`static/`. Page data comes from `handlers.web_pages`; who may see what from `handlers.access`.
"""
