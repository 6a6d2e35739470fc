"""netnet: the command line of the Net Net platform.

Exit codes: 0 done; 1 the server refused or failed; 2 bad usage or input file;
3 a service could not be reached; 4 done, but partly (rows rejected, a source missing,
an audit chain broken).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from array import array
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import grpc
import typer
from rich.console import Console
from rich.table import Table

from netnet.accounts.v1 import accounts_pb2 as apb
from netnet.cases.v1 import cases_pb2 as cpb
from netnet.cli import records, render
from netnet.cli.certs import certs_app
from netnet.cli.progress import import_progress
from netnet.client import (
    AccountsClient,
    CasesClient,
    DeadlineExceeded,
    GatewayClient,
    NetNetError,
    SitesClient,
    Unavailable,
    tokens,
)
from netnet.client.tls import CA_VAR, CLIENT_CERT_VAR, CLIENT_KEY_VAR, ClientTLS, TLSConfigError
from netnet.client.tokens import ROLES, issue_token
from netnet.common.v1 import common_pb2
from netnet.common.v1 import revocation_pb2 as rpb
from netnet.common.v1 import revocation_pb2_grpc as rpb_grpc
from netnet.gateway.v1 import gateway_pb2 as gpb
from netnet.sites.v1 import sites_pb2 as spb

OK, REFUSED, USAGE, UNREACHABLE, PARTIAL = 0, 1, 2, 3, 4
T = TypeVar("T")

app = typer.Typer(
    help="Net Net: the joint campaign's live picture, from the command line.",
    no_args_is_help=True,
    add_completion=False,
)
cases_app = typer.Typer(help="Cases visible to your department.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk import from CSV or JSON lines.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The services' audit chains.", no_args_is_help=True)
keys_app = typer.Typer(
    help="The issuer's signing keys and the public key set.", no_args_is_help=True
)
app.add_typer(cases_app, name="cases")
app.add_typer(import_app, name="import")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")
app.add_typer(certs_app, name="certs")
app.add_typer(keys_app, name="keys")
out = Console()
err = Console(stderr=True)

Campaign = Annotated[str, typer.Option("--campaign", "-c", help="Campaign id.")]


@app.callback()
def transport(
    tls_ca: Annotated[
        str,
        typer.Option(envvar=CA_VAR, help="Use TLS, trusting the CA certificates in this PEM file."),
    ] = "",
    tls_cert: Annotated[
        str,
        typer.Option(envvar=CLIENT_CERT_VAR, help="Client certificate (PEM) for mutual TLS."),
    ] = "",
    tls_key: Annotated[
        str, typer.Option(envvar=CLIENT_KEY_VAR, help="The client certificate's key (PEM).")
    ] = "",
) -> None:
    """Options every command shares: the transport (plaintext unless --tls-ca or --tls-cert)."""
    try:
        tls = ClientTLS.of(tls_ca, tls_cert, tls_key, names=("--tls-ca", "--tls-cert", "--tls-key"))
    except TLSConfigError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        raise typer.Exit(USAGE) from None
    # The SDK's channels read the transport from the environment: the options are its
    # command-line form (and the variables their default).
    for name, value in ((CA_VAR, tls.ca), (CLIENT_CERT_VAR, tls.cert), (CLIENT_KEY_VAR, tls.key)):
        if value:
            os.environ[name] = value


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run a command; a failed call becomes one readable line and an exit code."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except (Unavailable, DeadlineExceeded) as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        if isinstance(e, Unavailable) and not ClientTLS.from_env().enabled:
            err.print(
                "(dialed without TLS: a server on TLS needs --tls-ca CA.pem, and "
                "--tls-cert/--tls-key where it asks for a client certificate)",
                highlight=False,
            )
        raise typer.Exit(UNREACHABLE) from None
    except NetNetError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        raise typer.Exit(REFUSED) from None
    except TLSConfigError as e:
        err.print(f"[red]error:[/] {e}", highlight=False)
        raise typer.Exit(USAGE) from None


@app.command()
def status(
    campaign: Campaign = "netnet-2021",
    department: Annotated[
        list[str] | None,
        typer.Option("--department", "-d", help="Only these departments (repeatable)."),
    ] = None,
    plain: Annotated[bool, typer.Option(help="Plain text instead of a table.")] = False,
) -> None:
    """The campaign's figures per department and in total, with each source's health."""

    async def work() -> gpb.CampaignStatus:
        async with GatewayClient() as gw:
            reply = await gw.get_campaign_status(campaign_id=campaign, departments=department or [])
            return reply.status

    current = run(work)
    if plain:
        # Never wrapped to the terminal: a row is one line, however many figures it has.
        out.print(render.text(current), highlight=False, soft_wrap=True)
    else:
        out.print(render.table(current))
    if not current.complete:
        raise typer.Exit(PARTIAL)


@app.command()
def bulletin(
    campaign: Campaign = "netnet-2021",
    fmt: Annotated[str, typer.Option("--format", help="markdown or text")] = "markdown",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    language: Annotated[
        str, typer.Option("--language", help="The release's language: en (default) or zh-CN.")
    ] = "",
) -> None:
    """The campaign's press release, from live data."""
    formats = {"markdown": gpb.BULLETIN_FORMAT_MARKDOWN, "text": gpb.BULLETIN_FORMAT_TEXT}
    if fmt not in formats:
        err.print("error: --format must be markdown or text")
        raise typer.Exit(USAGE)

    async def work() -> gpb.GenerateBulletinResponse:
        async with GatewayClient() as gw:
            return await gw.generate_bulletin(
                campaign_id=campaign, format=formats[fmt], language=language
            )

    reply = run(work)
    if output:
        output.write_text(reply.text, encoding="utf-8")
        err.print(f"bulletin written to {output}")
    else:
        sys.stdout.write(reply.text)
    if not reply.status.complete:
        raise typer.Exit(PARTIAL)


def _import(
    path: Path,
    convert: Callable[[records.Row], Any],
    client_type: type[Any],
    method: str,
    wrap: Callable[[list[Any]], Any],
    batch_size: int,
) -> None:
    if not path.is_file():
        err.print(f"error: {path} is not a file")
        raise typer.Exit(USAGE)
    lines = array("q")  # the file line of each record sent, by its index in the stream
    local: list[tuple[int, str, str]] = []
    try:
        total = sum(1 for r in records.read_rows(path))
    except (ValueError, UnicodeDecodeError) as e:
        err.print(f"error: {e}")
        raise typer.Exit(USAGE) from None

    def rows() -> Iterator[Any]:
        for row in records.read_rows(path):
            if isinstance(row, records.RowError):
                local.append((int(row.field.split()[-1]), "", row.reason))
                continue
            try:
                record = convert(row)
            except records.RowError as e:
                local.append((row.line, e.field, e.reason))
                continue
            lines.append(row.line)
            yield record

    async def work() -> Any:
        with import_progress(path.name, total, err) as advance:
            async with client_type() as client:
                return await client.import_batches(
                    getattr(client.stub, method), rows(), wrap, batch_size, on_batch=advance
                )

    reply = run(work)
    s = reply.summary
    rejected = [
        (lines[r.index] if r.index < len(lines) else -1, r.field, r.reason) for r in s.rejections
    ] + local
    summary = Table(title=f"{path.name}: {total:,} rows", show_header=False)
    summary.add_row("accepted", f"{s.accepted:,}")
    summary.add_row("duplicate (already recorded)", f"{s.duplicates:,}")
    summary.add_row("rejected", f"{s.rejected + len(local):,}")
    out.print(summary)
    if rejected:
        reasons = Table("line", "field", "reason", title="first rejected rows")
        for line, field, reason in sorted(rejected)[:20]:
            reasons.add_row(str(line), field, reason)
        out.print(reasons)
        raise typer.Exit(PARTIAL)


BatchSize = Annotated[int, typer.Option(min=1, max=5000, help="Records per message.")]


@import_app.command("accounts")
def import_accounts(file: Path, batch_size: BatchSize = 1000) -> None:
    """Account actions: platform, platform_uid, kind, action, category, department, ...
    A re-run with the same file adds nothing (request ids come from each row)."""
    _import(
        file,
        records.account_action,
        AccountsClient,
        "ImportActions",
        lambda chunk: apb.ImportActionsRequest(actions=chunk),
        batch_size,
    )


@import_app.command("content")
def import_content(file: Path, batch_size: BatchSize = 1000) -> None:
    """Content dispositions: site, locator, content_sha256, category, measure, handler, ..."""
    _import(
        file,
        records.content_disposition,
        SitesClient,
        "ImportDispositions",
        lambda chunk: spb.ImportDispositionsRequest(dispositions=chunk),
        batch_size,
    )


def _state(value: int) -> str:
    return cpb.CaseState.Name(value).removeprefix("CASE_STATE_").lower()  # type: ignore[arg-type]


def _kind(value: int) -> str:
    return cpb.CaseKind.Name(value).removeprefix("CASE_KIND_").lower()  # type: ignore[arg-type]


@cases_app.command("list")
def cases_list(
    campaign: Annotated[str, typer.Option("--campaign", "-c")] = "",
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Cases your department may see (lead, assisting, or the coordinating office)."""

    async def work() -> list[cpb.Case]:
        found: list[cpb.Case] = []
        async with CasesClient() as cases:
            async for case in await cases.list_cases(
                campaign_id=campaign, page_size=min(limit, 1000)
            ):
                found.append(case)
                if len(found) >= limit:
                    break
        return found

    table = Table("name", "number", "title", "kind", "state", "lead", "campaign")
    for c in run(work):
        table.add_row(
            c.name,
            c.number,
            c.title,
            _kind(c.kind),
            _state(c.state),
            c.lead_department,
            c.campaign_id,
        )
    out.print(table)


@cases_app.command("show")
def cases_show(case: Annotated[str, typer.Argument(help="cases/{id} or a case number")]) -> None:
    """One case: facts, parties (masked unless you lead it) and its timeline."""

    async def work() -> tuple[cpb.Case, list[cpb.Party], list[cpb.CaseEvent]]:
        async with CasesClient() as cases:
            name = case
            if not case.startswith("cases/"):
                holders = await cases.find_case_holders(number=case)
                visible = [h.case for h in holders.holders if h.case]
                if not visible:
                    who = ", ".join(sorted({h.lead_department for h in holders.holders}))
                    raise NetNetError(
                        f"no case {case!r} you may see" + (f" (held by {who})" if who else "")
                    )
                name = visible[0]
            got = await cases.get_case(name=name)
            parties = await (await cases.list_parties(parent=name)).all()
            events = await (await cases.list_case_events(parent=name)).all()
            return got.case, parties, events

    c, parties, events = run(work)
    f = c.facts
    out.print(f"[bold]{c.name}[/] {c.number} — {c.title}", highlight=False)
    out.print(
        f"{_kind(c.kind)}, {_state(c.state)}; lead {c.lead_department} {c.lead_region}; "
        f"assisting {', '.join(c.assisting_departments) or '-'}; campaign "
        f"{c.campaign_id or '-'}; categories {', '.join(c.categories)}",
        highlight=False,
    )
    out.print(
        f"illegal gains {f.illegal_gains_fen / 100:,.2f} yuan; customers {f.customers:,};"
        f" victims {f.victim_count}{' (minors)' if f.victims_include_minors else ''}; "
        f"items {', '.join(f'{i.count:,} {i.type}' for i in f.items) or '-'}",
        highlight=False,
    )
    if c.linked_resources:
        out.print(f"linked: {', '.join(c.linked_resources)}")
    table = Table("party", "name", "role", "measures", "sentence")
    for p in parties:
        measures = ", ".join(
            cpb.Measure.Name(m.measure).removeprefix("MEASURE_").lower() for m in p.measures
        )
        sentence = f"{p.sentence.term_months} months" if p.HasField("sentence") else ""
        table.add_row(p.name, p.real_name or p.masked_name, p.role, measures, sentence)
    out.print(table)
    timeline = Table("time", "who", "what", title="timeline")
    for e in events:
        timeline.add_row(
            e.time.ToDatetime().strftime("%Y-%m-%d %H:%M"), f"{e.actor} ({e.department})", e.detail
        )
    out.print(timeline)


@app.command()
def lookup(query: str) -> None:
    """Search a host, package id, platform:uid, case number or sha256 across the services."""

    async def work() -> gpb.LookupResponse:
        async with GatewayClient() as gw:
            return await gw.lookup(query=query)

    reply = run(work)
    table = Table("kind", "resource", "what", "held by", "yours")
    for m in reply.matches:
        table.add_row(
            gpb.MatchKind.Name(m.kind).removeprefix("MATCH_KIND_").lower(),
            m.resource or "(not visible to you)",
            m.summary,
            ", ".join(m.departments),
            "yes" if m.own else "",
        )
    out.print(table if reply.matches else f"nothing found for {query!r}")
    if any(s.state != gpb.SOURCE_STATE_OK for s in reply.sources):
        err.print(
            "some sources did not answer: "
            + ", ".join(f"{s.source} ({s.error})" for s in reply.sources if s.error)
        )
        raise typer.Exit(PARTIAL)


def _key_file(key_file: Path | None) -> Path:
    import os

    return key_file or Path(os.environ.get("NETNET_DATA_DIR") or ".netnet") / "signing.key"


def _keys_file(keys_file: Path | None, key_file: Path) -> Path:
    return keys_file or tokens.public_keys_file(key_file)


KeyFile = Annotated[
    Path | None,
    typer.Option(
        envvar="NETNET_KEY_FILE",
        help="The issuer's private key (default $NETNET_DATA_DIR/signing.key).",
    ),
]
PublicKeysFile = Annotated[
    Path | None,
    typer.Option(
        envvar="NETNET_PUBLIC_KEYS_FILE",
        help="The public key set the servers read (default public-keys.json beside the key).",
    ),
]


def _private_key(path: Path) -> Any:
    try:
        return tokens.read_private_key(path)
    except OSError:
        err.print(f"error: cannot read the issuer's key {path}")
        raise typer.Exit(USAGE) from None
    except ValueError as e:
        err.print(f"error: {path}: {e}")
        raise typer.Exit(USAGE) from None


@token_app.command("issue")
def token_issue(
    operator: Annotated[str, typer.Option(help="Who uses the token.")],
    department: Annotated[str, typer.Option(help="Department code, e.g. cac, mps, office.")],
    role: Annotated[list[str], typer.Option(help=f"One of {', '.join(ROLES)} (repeatable).")],
    region: Annotated[str, typer.Option(help="Six-digit division code.")] = "",
    ttl: Annotated[
        int | None,
        typer.Option(
            help="Seconds the token is valid (default: 8 hours; 30 days for a token whose "
            "only role is service)."
        ),
    ] = None,
    key_file: KeyFile = None,
) -> None:
    """Issue a bearer token signed with the issuer's private key (prints the token)."""
    key = _private_key(_key_file(key_file))
    try:
        print(
            issue_token(
                key,
                operator=operator,
                department=department,
                roles=role,
                region=region,
                ttl_seconds=ttl,
            )
        )
    except ValueError as e:
        err.print(f"error: {e}")
        raise typer.Exit(USAGE) from None


@token_app.command("revoke")
def token_revoke(
    jti: Annotated[str, typer.Option("--jti", help="The token's id (its jti claim).")] = "",
    operator: Annotated[
        str, typer.Option(help="Every token of this operator issued up to now.")
    ] = "",
) -> None:
    """Revoke one token, or all of an operator's tokens issued up to now, at every service
    and the gateway (needs an admin token; takes effect within seconds; safe to repeat)."""
    if bool(jti) == bool(operator):
        err.print("error: give exactly one of --jti and --operator")
        raise typer.Exit(USAGE)

    async def work() -> Any:
        async with GatewayClient() as gw:
            stub = rpb_grpc.RevocationServiceStub(gw.channel)
            request = rpb.RevokeTokenRequest(token_id=jti, operator=operator)
            return await gw.call(stub.RevokeToken, request)

    reply = run(work).revocation
    if reply.operator:
        out.print(
            f"revoked every token of {reply.operator} issued up to "
            f"{reply.issued_before.ToDatetime():%Y-%m-%d %H:%M:%S} UTC"
        )
    else:
        out.print(f"revoked token {reply.token_id}")


@keys_app.command("list")
def keys_list(key_file: KeyFile = None, public_keys_file: PublicKeysFile = None) -> None:
    """The keys of the public set, and which one signs new tokens."""
    path = _key_file(key_file)
    signing = tokens.kid_of(_private_key(path).public_key()) if path.exists() else ""
    for k in tokens.read_key_set(_keys_file(public_keys_file, path)):
        kid = k.get("kid", "")
        print(f"{kid}\t{'signs new tokens' if kid == signing else 'verifies only'}")


@keys_app.command("rotate")
def keys_rotate(key_file: KeyFile = None, public_keys_file: PublicKeysFile = None) -> None:
    """A new signing key: its public half joins the set (servers pick the set up within a
    second), then it signs new tokens. The old key's tokens verify until it is removed."""
    path = _key_file(key_file)
    _private_key(path)
    old, new = tokens.rotate(path, _keys_file(public_keys_file, path))
    out.print(f"new signing key {new}; {old} verifies until `netnet keys remove {old}`")


@keys_app.command("remove")
def keys_remove(
    kid: Annotated[str, typer.Argument(help="The key's id (netnet keys list).")],
    key_file: KeyFile = None,
    public_keys_file: PublicKeysFile = None,
) -> None:
    """Take a key out of the public set: every token it signed is refused from then on."""
    path = _key_file(key_file)
    signing = tokens.kid_of(_private_key(path).public_key()) if path.exists() else ""
    try:
        removed = tokens.remove_public_key(_keys_file(public_keys_file, path), kid, signing)
    except ValueError as e:
        err.print(f"error: {e}")
        raise typer.Exit(USAGE) from None
    if not removed:
        err.print(f"error: no key {kid} in the set")
        raise typer.Exit(USAGE)
    out.print(f"removed {kid}: its tokens are refused from now on")


def _checkpoint_lines(paths: list[Path]) -> list[Any]:
    """Checkpoints from JSON-lines files (as the services write them); exits on a bad line."""
    found = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            err.print(f"error: {path}: {e.strerror}")
            raise typer.Exit(USAGE) from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                cp = common_pb2.AuditCheckpoint(
                    service=str(d["service"]),
                    seq=int(d["seq"]),
                    hash=str(d["hash"]),
                    keyed_from_seq=int(d["keyed_from"]),
                    mac=str(d["mac"]),
                )
                cp.time.FromMicroseconds(int(d["time_us"]))
            except (ValueError, KeyError, TypeError):
                err.print(f"error: {path}:{n}: not an audit checkpoint")
                raise typer.Exit(USAGE) from None
            found.append(cp)
    return found


def _audit_note(v: Any) -> str:
    """Where the chain broke, or what the check could not cover."""
    if not v.ok:
        return f"[red]{f'entry {v.first_bad_seq}: ' if v.first_bad_seq else ''}{v.problem}[/]"
    notes = []
    if v.keyed_from_seq > 1:
        notes.append(f"entries 1-{v.keyed_from_seq - 1} predate the audit key (sha256 only)")
    if v.head_seq > v.newest_checkpoint_seq:
        after = v.newest_checkpoint_seq + 1
        notes.append(f"entries {after}-{v.head_seq} not yet checkpointed: a cut there is unseen")
    return "; ".join(notes)


@audit_app.command("verify")
def audit_verify(
    service: Annotated[
        list[str] | None, typer.Option(help="accounts, sites or cases (repeatable; all by default)")
    ] = None,
    checkpoints: Annotated[
        list[Path] | None,
        typer.Option(
            help="A copy of a checkpoint file (JSON lines) to check the chains against too "
            "(repeatable; each service also reads its own)"
        ),
    ] = None,
) -> None:
    """Check each service's keyed audit chain, the rows its entries commit to and the signed
    checkpoints of its head (needs an auditor token)."""
    clients: dict[str, type[AccountsClient | SitesClient | CasesClient]] = {
        "accounts": AccountsClient,
        "sites": SitesClient,
        "cases": CasesClient,
    }
    chosen = service or list(clients)
    unknown = [s for s in chosen if s not in clients]
    if unknown:
        err.print(f"error: unknown service {', '.join(unknown)}")
        raise typer.Exit(USAGE)
    kept = _checkpoint_lines(checkpoints or [])

    async def work() -> dict[str, Any]:
        results = {}
        for name in chosen:
            mine = [c for c in kept if c.service == name]
            async with clients[name]() as client:
                reply = await client.verify_audit_chain(checkpoints=mine)
                results[name] = reply.verification
        return results

    results = run(work)
    table = Table("service", "entries", "data rows", "checkpoints", "chain", "problem or note")
    for name, v in results.items():
        table.add_row(
            name,
            f"{v.entries_checked:,}",
            f"{v.data_rows_checked:,}",
            f"{v.checkpoints_checked:,}"
            + (f" (newest: entry {v.newest_checkpoint_seq:,})" if v.checkpoints_checked else ""),
            "ok" if v.ok else "[red]BROKEN[/]",
            _audit_note(v),
        )
    out.print(table)
    if not all(v.ok for v in results.values()):
        raise typer.Exit(PARTIAL)


def main() -> None:
    try:
        app()
    except grpc.aio.AioRpcError as e:  # pragma: no cover - every call goes through run()
        err.print(f"error: {e.code().name}: {e.details()}")
        sys.exit(REFUSED)
