"""The dashboard: web pages served by the gateway process, read through the gateway's own gRPC
API with the signed-in user's token, so a page shows exactly what that token may read.

Sessions live in this process: the cookie holds a random id, the token stays on the server
until it expires. Every POST carries a CSRF token (the session's, or the login form's
double-submit cookie) and an Origin (or Referer) of this site."""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import jwt
import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from google.protobuf.timestamp_pb2 import Timestamp
from markdown_it import MarkdownIt

from gateway.dashboard.labels import CHARTS, DEFAULT_LANG, FIGURES, HEADLINE, LANGS, words
from netnet.client import (
    GatewayClient,
    InvalidArgument,
    NetNetError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from netnet.client.channel import open_channel
from netnet.gateway.v1 import gateway_pb2 as pb
from netnet.sites.v1 import sites_pb2
from netnet.vocabulary import FIGURES as COUNTED
from services.common.config import own_port_tls
from services.common.server import Companion, Runtime
from services.common.tls import ssl_context

log = structlog.get_logger()
HERE = Path(__file__).parent
SESSION_COOKIE = "netnet_session"
LOGIN_CSRF_COOKIE = "netnet_login_csrf"
LANG_COOKIE = "netnet_lang"
MAX_SESSIONS = 10_000
MAX_CHART_DAYS = 1000
# The live pages, each a block of figures re-rendered on every status the watch gives.
LIVE = {"overview": "_status.html", "special-actions": "_special_actions.html"}
# CommonMark with raw HTML off: whatever the text holds is escaped, links are checked.
MARKDOWN = MarkdownIt("commonmark", {"html": False})
RELEASE_FORMATS = {"markdown": (pb.BULLETIN_FORMAT_MARKDOWN, "md", "text/markdown")}
RELEASE_FORMATS["text"] = (pb.BULLETIN_FORMAT_TEXT, "txt", "text/plain")
CALL_SECONDS = 10.0
PUBLIC = ("/login", "/lang/", "/static/")  # paths served without a session
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Session:
    token: str
    expires: float  # the token's own expiry (seconds since the epoch)
    csrf: str
    operator: str
    department: str
    roles: tuple[str, ...]


SESSION = web.RequestKey("session", Session)  # set by the guard for a signed-in request


class Sessions:
    """Session id -> the token it stands for, until the token expires."""

    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}

    def add(self, session: Session) -> str:
        now = time.time()
        self._by_id = {k: s for k, s in self._by_id.items() if s.expires > now}
        while len(self._by_id) >= MAX_SESSIONS:
            del self._by_id[next(iter(self._by_id))]  # the oldest
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = session
        return sid

    def get(self, sid: str | None) -> Session | None:
        session = self._by_id.get(sid or "")
        if session is not None and session.expires <= time.time():
            self.drop(sid)
            return None
        return session

    def drop(self, sid: str | None) -> None:
        self._by_id.pop(sid or "", None)


class AccessLog(AbstractAccessLogger):
    """One JSON line per request: method, path (never the query), status, duration; no
    cookies or bodies, where the token and the session id travel."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        log.info(
            "http",
            method=request.method,
            path=request.path,
            status=response.status,
            duration_ms=round(time * 1000, 2),
        )


def same_origin(request: web.Request) -> bool:
    """The POST comes from a page of this site: its Origin, or else its Referer, is ours."""
    ours = f"{request.scheme}://{request.host}"
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == ours
    referer = urlsplit(request.headers.get("Referer", ""))
    return f"{referer.scheme}://{referer.netloc}" == ours


def local_path(target: str | None, default: str = "/") -> str:
    """A path on this site to go back to (never another site's address)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def figure_text(name: str, figures: pb.Figures) -> str:
    if not figures.HasField(name):  # type: ignore[arg-type]
        return "—"  # the source did not answer: unknown, never a zero
    value = getattr(figures, name)
    if name == "illegal_gains_fen":
        return f"{value / 100:,.2f}"
    return f"{value:,}"


def when(ts: Timestamp, with_time: bool = True) -> str:
    if not ts.seconds and not ts.nanos:
        return ""
    moment = datetime.fromtimestamp(ts.seconds, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if with_time else "%Y-%m-%d")


def last_day(ts: Timestamp) -> str:
    """A period's exclusive end as its last day."""
    return when(Timestamp(seconds=max(ts.seconds - 1, 0)), with_time=False) if ts.seconds else ""


Column = tuple[str, str, pb.Figures]  # key, label, figures


def department_columns(
    status: pb.CampaignStatus, names: Mapping[str, str], total: str
) -> list[Column]:
    columns = [
        (d.department, names.get(d.department, d.department_name), d.figures)
        for d in status.departments
    ]
    return [*columns, ("total", total, status.total)]


def special_action_columns(status: pb.CampaignStatus) -> list[Column]:
    return [(s.special_action, s.title, s.figures) for s in status.special_actions]


def chart_data(
    series: pb.GetCampaignSeriesResponse, names: Mapping[str, str], t: Mapping[str, str]
) -> dict[str, Any]:
    """What the charts draw: every day from the first counted to the last (a day the series
    leaves out counted nothing), each chart's figures summed per department and in total;
    null where a source did not answer."""
    if not series.days:
        return {"days": [], "departments": [], "charts": [], "total": t["total"]}
    first, last = (date.fromisoformat(series.days[i].day) for i in (0, -1))
    span = min((last - first).days + 1, MAX_CHART_DAYS)
    days = [(last - timedelta(days=span - 1 - i)).isoformat() for i in range(span)]
    by_day = {d.day: d for d in series.days}
    answered = {s.source for s in series.sources if s.state == pb.SOURCE_STATE_OK}
    known = {f.name for f in COUNTED if f.source in answered}
    departments = [d.department for d in series.days[0].departments]

    def value(figures: pb.Figures | None, summed: tuple[str, ...]) -> int | None:
        if not known.issuperset(summed):
            return None
        return sum(getattr(figures, f) for f in summed) if figures is not None else 0

    def per_day(summed: tuple[str, ...], department: str | None) -> list[int | None]:
        values = []
        for day in days:
            found = by_day.get(day)
            figures = (
                None
                if found is None
                else found.total
                if department is None
                else found.departments[departments.index(department)].figures
            )
            values.append(value(figures, summed))
        return values

    return {
        "days": days,
        "departments": [{"key": d, "label": names.get(d, d)} for d in departments],
        "total": t["total"],
        "charts": [
            {
                "key": key,
                "title": t[f"chart_{key}"],
                "series": {d: per_day(summed, d) for d in departments},
                "total": per_day(summed, None),
            }
            for key, (summed, _, _) in CHARTS.items()
        ],
    }


def period(query: Mapping[str, str]) -> tuple[Timestamp | None, Timestamp | None] | None:
    """The period of a release form, days as YYYY-MM-DD, both included; None when it is not
    one (an empty day leaves that end open)."""
    try:
        first, last = (
            date.fromisoformat(query[k]) if query.get(k) else None for k in ("start", "end")
        )
    except ValueError:
        return None
    if first and last and last < first:
        return None

    def midnight(day: date | None) -> Timestamp | None:
        if day is None:
            return None
        return Timestamp(
            seconds=int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        )

    return midnight(first), midnight(last + timedelta(days=1) if last else None)


def site_kind(kind: int) -> str:
    return sites_pb2.SiteKind.Name(kind).removeprefix("SITE_KIND_").lower()  # type: ignore[arg-type]


def sse(event: str, data: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


class Dashboard:
    def __init__(self, runtime: Runtime, target: str) -> None:
        self.reference = runtime.settings.reference
        self.stopping = runtime.stopping
        # The gateway's own port, as it serves: TLS when it does (NETNET_TLS_CA must trust its
        # certificate), with the process's client certificate where it asks for one.
        s = runtime.settings
        self.channel = open_channel(target, tls=own_port_tls(s.tls, s.client_tls))
        self.gateway = GatewayClient(channel=self.channel, token="", timeout=CALL_SECONDS)
        self.sessions = Sessions()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals.update(
            figure_text=figure_text,
            when=when,
            last_day=last_day,
            department_columns=department_columns,
            special_action_columns=special_action_columns,
            site_kind=site_kind,
        )

    # --- the application ----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.headers, self.errors, self.guard])
        app.add_routes(
            [
                web.get("/", self.home),
                web.get("/login", self.login_form),
                web.post("/login", self.login),
                web.post("/logout", self.logout),
                web.get("/lang/{lang}", self.language),
                web.get("/campaigns/{campaign}", self.live),
                web.get("/campaigns/{campaign}/special-actions", self.live),
                web.get("/campaigns/{campaign}/deadlines", self.deadlines),
                web.get("/campaigns/{campaign}/typical", self.typical),
                web.get("/campaigns/{campaign}/events", self.events),
                web.get("/campaigns/{campaign}/charts", self.charts),
                web.get("/campaigns/{campaign}/release", self.release),
                web.get("/campaigns/{campaign}/release/download", self.release_download),
                web.static("/static", HERE / "static"),
            ]
        )
        return app

    @web.middleware
    async def headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @web.middleware
    async def errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A gateway refusal as a page; a token the gateway no longer takes ends the session."""
        try:
            return await handler(request)
        except Unauthenticated:
            self.sessions.drop(request.cookies.get(SESSION_COOKIE))
            raise web.HTTPSeeOther("/login") from None
        except NetNetError as e:
            key, status = (
                ("forbidden", 403)
                if isinstance(e, PermissionDenied)
                else ("not_found", 404)
                if isinstance(e, NotFound)
                else ("bad_request", 400)
                if isinstance(e, InvalidArgument)
                else ("unavailable", 503)
            )
            return self.page(request, "error.html", http_status=status, message=key)

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Who may ask: a session for every page but the public ones; for a POST, this
        site's origin and the CSRF token that goes with the session (or the login form)."""
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            request[SESSION] = session
        if request.method == "POST":
            form = await request.post()
            expected = (
                request.cookies.get(LOGIN_CSRF_COOKIE, "")
                if request.path == "/login"
                else session.csrf
                if session
                else ""
            )
            given = form.get("csrf")
            if not (
                same_origin(request)
                and expected
                and isinstance(given, str)
                and hmac.compare_digest(given, expected)
            ):
                return self.page(request, "error.html", http_status=403, message="csrf")
        if session is None and not request.path.startswith(PUBLIC):
            if request.path.endswith("/events"):
                return web.Response(status=401, text="sign in")
            raise web.HTTPSeeOther("/login")
        return await handler(request)

    # --- rendering ----------------------------------------------------------------------

    def lang(self, request: web.Request) -> str:
        lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANG)
        return lang if lang in LANGS else DEFAULT_LANG

    def department_names(self, lang: str) -> Mapping[str, str]:
        return self.reference.names("departments", lang)

    def render(self, request: web.Request, template: str, **values: Any) -> str:
        lang = self.lang(request)
        return self.templates.get_template(template).render(
            lang=lang,
            t=words(lang),
            figures=list(FIGURES),
            headline=HEADLINE,
            departments=self.department_names(lang),
            session=request.get(SESSION),
            path=request.path_qs,
            **values,
        )

    def page(
        self, request: web.Request, template: str, http_status: int = 200, **values: Any
    ) -> web.Response:
        return web.Response(
            text=self.render(request, template, **values),
            status=http_status,
            content_type="text/html",
        )

    def md(self, request: web.Request) -> tuple[tuple[str, str], ...]:
        session = request[SESSION]
        return (("authorization", f"Bearer {session.token}"),)

    # --- signing in and out, language -----------------------------------------------------

    async def login_form(self, request: web.Request, failed: bool = False) -> web.Response:
        # One value per browser until it signs in: a second tab's form stays valid.
        csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = self.page(
            request, "login.html", http_status=401 if failed else 200, csrf=csrf, failed=failed
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            csrf,
            httponly=True,
            samesite="Strict",
            path="/login",
            secure=request.secure,
            max_age=3600,
        )
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = str(form.get("token", "")).strip()
        if not token or len(token) > 8192:
            return await self.login_form(request, failed=True)
        try:
            # The gateway checks the token as it checks every call's.
            await self.gateway.list_campaigns(
                page_size=1, metadata=(("authorization", f"Bearer {token}"),)
            )
            claims = jwt.decode(token, options={"verify_signature": False})
        except (Unauthenticated, jwt.PyJWTError):
            return await self.login_form(request, failed=True)
        session = Session(
            token=token,
            expires=float(claims["exp"]),
            csrf=secrets.token_urlsafe(32),
            operator=str(claims.get("sub", "")),
            department=str(claims.get("dept", "")),
            roles=tuple(str(r) for r in claims.get("roles", ())),
        )
        sid = self.sessions.add(session)
        response = web.HTTPSeeOther("/")
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            httponly=True,
            samesite="Strict",
            path="/",
            secure=request.secure,
            max_age=max(0, int(session.expires - time.time())),
        )
        response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
        log.info("dashboard sign-in", operator=session.operator, department=session.department)
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.drop(request.cookies.get(SESSION_COOKIE))
        response = web.HTTPSeeOther("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    async def language(self, request: web.Request) -> web.StreamResponse:
        lang = request.match_info["lang"]
        response = web.HTTPSeeOther(local_path(request.query.get("next")))
        if lang in LANGS:
            response.set_cookie(LANG_COOKIE, lang, samesite="Lax", path="/", max_age=365 * 86400)
        raise response

    # --- pages --------------------------------------------------------------------------

    async def campaigns(self, request: web.Request) -> list[Any]:
        pager = await self.gateway.list_campaigns(page_size=100, metadata=self.md(request))
        found = [c async for c in pager]
        return sorted(found, key=lambda c: c.start_time.seconds, reverse=True)

    async def home(self, request: web.Request) -> web.StreamResponse:
        found = await self.campaigns(request)
        if found:
            raise web.HTTPSeeOther(f"/campaigns/{found[0].id}")
        return self.page(request, "error.html", message="no_campaigns")

    async def live(self, request: web.Request) -> web.Response:
        """The overview, or the special actions: the status now, then followed live."""
        campaign = request.match_info["campaign"]
        section = "special-actions" if request.path.endswith("/special-actions") else "overview"
        found, reply = await asyncio.gather(
            self.campaigns(request),
            self.gateway.get_campaign_status(campaign_id=campaign, metadata=self.md(request)),
        )
        return self.page(
            request,
            "overview.html",
            campaigns=found,
            campaign=campaign,
            section=section,
            fragment=LIVE[section],
            status=reply.status,
        )

    async def deadlines(self, request: web.Request) -> web.Response:
        found, reply = await asyncio.gather(
            self.campaigns(request), self.gateway.list_deadlines(metadata=self.md(request))
        )
        return self.page(
            request,
            "deadlines.html",
            campaigns=found,
            campaign=request.match_info["campaign"],
            section="deadlines",
            reply=reply,
            complete=all(s.state == pb.SOURCE_STATE_OK for s in reply.sources),
        )

    async def typical(self, request: web.Request) -> web.Response:
        campaign = request.match_info["campaign"]
        found, pager = await asyncio.gather(
            self.campaigns(request),
            self.gateway.list_typical_cases(
                campaign_id=campaign, page_size=100, metadata=self.md(request)
            ),
        )
        return self.page(
            request,
            "typical.html",
            campaigns=found,
            campaign=campaign,
            section="typical",
            typical_cases=[c async for c in pager],
        )

    async def charts(self, request: web.Request) -> web.Response:
        campaign = request.match_info["campaign"]
        found, series = await asyncio.gather(
            self.campaigns(request),
            self.gateway.get_campaign_series(
                query=pb.GetCampaignStatusRequest(campaign_id=campaign), metadata=self.md(request)
            ),
        )
        lang = self.lang(request)
        return self.page(
            request,
            "charts.html",
            campaigns=found,
            campaign=campaign,
            section="charts",
            series=series,
            chart_data=chart_data(series, self.department_names(lang), words(lang)),
        )

    async def bulletin(self, request: web.Request, fmt: str) -> pb.GenerateBulletinResponse | None:
        """The release for the request's period, in the page's language (None: the period
        is not one)."""
        asked = period(request.query)
        if asked is None:
            return None
        start, end = asked
        return await self.gateway.generate_bulletin(
            campaign_id=request.match_info["campaign"],
            start_time=start,
            end_time=end,
            format=RELEASE_FORMATS[fmt][0],
            language=self.lang(request),
            metadata=self.md(request),
        )

    async def release(self, request: web.Request) -> web.Response:
        campaign = request.match_info["campaign"]
        found, reply = await asyncio.gather(
            self.campaigns(request), self.bulletin(request, "markdown")
        )
        return self.page(
            request,
            "release.html",
            http_status=200 if reply else 400,
            campaigns=found,
            campaign=campaign,
            section="release",
            start=request.query.get("start", ""),
            end=request.query.get("end", ""),
            query=request.query_string,
            html=MARKDOWN.render(reply.text) if reply else "",
        )

    async def release_download(self, request: web.Request) -> web.Response:
        fmt = request.query.get("format", "markdown")
        if fmt not in RELEASE_FORMATS:
            raise web.HTTPBadRequest(text="format: markdown or text")
        reply = await self.bulletin(request, fmt)
        if reply is None:
            raise web.HTTPBadRequest(text="start, end: days as YYYY-MM-DD")
        _, suffix, content_type = RELEASE_FORMATS[fmt]
        name = f"{request.match_info['campaign']}-release.{suffix}"
        return web.Response(
            text=reply.text,
            content_type=content_type,
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The overview's figures as server-sent events: a fresh block of figures whenever
        the gateway's watch gives a new status; 'signin' when the token runs out."""
        session = request[SESSION]
        campaign = request.match_info["campaign"]
        fragment = LIVE.get(request.query.get("view", ""), LIVE["overview"])
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        await response.write(b"retry: 2000\n\n")
        watch = self.gateway.watch_campaign_status(
            query=pb.GetCampaignStatusRequest(campaign_id=campaign),
            metadata=self.md(request),
            timeout=max(0.1, session.expires - time.time()),
        )
        try:
            async for reply in watch:
                html = self.render(request, fragment, status=reply.status)
                await response.write(sse("status", html))
        except (Unauthenticated, NetNetError) as e:
            expired = (
                isinstance(e, Unauthenticated)
                or self.sessions.get(request.cookies.get(SESSION_COOKIE)) is None
            )
            await response.write(sse("signin" if expired else "trouble", type(e).__name__))
        finally:
            await watch.aclose()
        return response

    async def close(self) -> None:
        await self.channel.close()


def gateway_target(addr: str, port: int) -> str:
    """The gateway's own gRPC port, as this process dials it."""
    host = addr.rpartition(":")[0]
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    return f"{host}:{port}"


async def start(runtime: Runtime, grpc_port: int) -> Companion | None:
    """Serve the dashboard on NETNET_GATEWAY_HTTP_ADDR (None when it is turned off)."""
    addr = runtime.settings.http_addr
    if not addr:
        return None
    dashboard = Dashboard(runtime, gateway_target(runtime.settings.addr, grpc_port))
    runner = web.AppRunner(
        dashboard.app(),
        access_log_class=AccessLog,
        handler_cancellation=True,  # a closed tab ends its event stream's watch
        shutdown_timeout=min(runtime.settings.drain_seconds, 5.0),
    )
    await runner.setup()
    host, _, port = addr.rpartition(":")
    # HTTPS on the gateway's own certificate files when it serves TLS (renewals included).
    files = runtime.tls_files
    site = web.TCPSite(
        runner, host.strip("[]"), int(port), ssl_context=ssl_context(files) if files else None
    )
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        await dashboard.close()
        raise OSError(f"cannot serve the dashboard on {addr}: {e.strerror or e}") from None
    bound = runner.addresses[0]
    url = (
        f"{'https' if files else 'http'}://{gateway_target(addr, 0).rpartition(':')[0]}:{bound[1]}/"
    )

    async def stop() -> None:
        await runner.cleanup()
        await dashboard.close()

    return Companion("dashboard", url, stop)
