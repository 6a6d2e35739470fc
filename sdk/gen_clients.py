"""Writes netnet/client/services.py: one typed async method per RPC of every service, made
from the service descriptors of the generated code (run by `make proto`; never edit the output).

Each method takes the request message or its fields as keywords (not both), a timeout and
extra metadata; list methods return an async pager; read-only methods are retried on
UNAVAILABLE by the channel (see netnet.client.channel); reads, and writes that carry a request
id, refused by a server's limit are retried by the client after the delay it asks (see
netnet.client.base)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor

from netnet.accounts.v1 import accounts_pb2
from netnet.cases.v1 import campaigns_pb2, cases_pb2
from netnet.gateway.v1 import gateway_pb2
from netnet.sites.v1 import sites_pb2

# The channel's retry rule, loaded alone: the package imports the module this script writes.
_spec = importlib.util.spec_from_file_location(
    "channel", Path(__file__).parent / "netnet/client/channel.py"
)
assert _spec and _spec.loader
channel = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(channel)
read_only = channel.read_only

# client class -> (service address name, the modules of its services)
CLIENTS = {
    "AccountsClient": ("accounts", (accounts_pb2,)),
    "SitesClient": ("sites", (sites_pb2,)),
    "CasesClient": ("cases", (cases_pb2, campaigns_pb2)),
    "GatewayClient": ("gateway", (gateway_pb2,)),
}
SCALARS = {
    FieldDescriptor.TYPE_STRING: "str",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_DOUBLE: "float",
    FieldDescriptor.TYPE_FLOAT: "float",
}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def module_of(file: FileDescriptor) -> tuple[str, str]:
    """(import path, alias) of the generated module of a .proto file."""
    path = file.name.removesuffix(".proto").replace("/", ".") + "_pb2"
    return path, path.rsplit(".", 1)[1]


class Writer:
    def __init__(self) -> None:
        self.imports: set[tuple[str, str]] = set()

    def ref(self, d: Descriptor | EnumDescriptor) -> str:
        path, alias = module_of(d.file)
        self.imports.add((path, alias))
        package = d.file.package
        return f"{alias}.{d.full_name.removeprefix(package + '.')}" if package else d.full_name

    def field_type(self, f: FieldDescriptor) -> str:
        if f.message_type is not None:
            t = self.ref(f.message_type)
        elif f.enum_type is not None:
            t = self.ref(f.enum_type) + ".ValueType"
        else:
            t = SCALARS.get(f.type, "int")
        return f"Iterable[{t}]" if f.is_repeated else t

    def method(self, service_attr: str, m: object) -> str:
        name, i, o = m.name, m.input_type, m.output_type  # type: ignore[attr-defined]
        req, resp = self.ref(i), self.ref(o)
        fn = snake(name)
        doc = f"{m.containing_service.name}.{name}"  # type: ignore[attr-defined]
        stub = f"self.{service_attr}.{name}"
        if m.client_streaming:  # type: ignore[attr-defined]
            return (
                f"    async def {fn}(\n        self,\n"
                f"        requests: Iterable[{req}] | AsyncIterable[{req}],\n        *,\n"
                "        timeout: float | None = IMPORT_TIMEOUT,\n"
                "        metadata: Metadata = (),\n"
                f"    ) -> {resp}:\n"
                f'        """{doc}: a client stream of requests (see import_batches)."""\n'
                f"        return await self.call_stream({stub}, requests, timeout, metadata)\n"
            )
        params = "".join(
            f"        {f.name}: {self.field_type(f)} | None = None,\n" for f in i.fields
        )
        fields = ", ".join(f"{f.name}={f.name}" for f in i.fields)
        build = f"        request = flatten({req}, request, {fields})\n"
        head = (
            f"self,\n        request: {req} | None = None,\n        *,\n{params}"
            "        timeout: float | None = None,\n        metadata: Metadata = (),\n"
        )
        if m.server_streaming:  # type: ignore[attr-defined]
            return (
                f"    def {fn}(\n        {head}    ) -> AsyncGenerator[{resp}, None]:\n"
                f'        """{doc}: a server stream, without a deadline unless given."""\n'
                f"{build}        return self.stream({stub}, request, metadata, timeout)\n"
            )
        retry = (
            "retried on UNAVAILABLE, and when a limit refuses it (after the delay asked)"
            if read_only(name)
            else "retried only when a limit refuses it and it carries a request id"
        )
        if "page_token" in i.fields_by_name and "next_page_token" in o.fields_by_name:
            items = next(f for f in o.fields if f.is_repeated)
            item = self.ref(items.message_type) if items.message_type else "str"
            return (
                f"    async def {fn}(\n        {head}    ) -> AsyncPager[{resp}, {item}]:\n"
                f'        """{doc}: the {items.name}, page after page.\n\n'
                f'        {retry[0].upper() + retry[1:]}."""\n'
                f"{build}        return await self.pager(\n"
                f'            {stub}, request, "{items.name}", timeout, metadata\n'
                "        )\n"
            )
        return (
            f"    async def {fn}(\n        {head}    ) -> {resp}:\n"
            f'        """{doc}.\n\n        {retry[0].upper() + retry[1:]}."""\n'
            f"{build}        return await self.call({stub}, request, timeout=timeout, "
            "metadata=metadata)\n"
        )

    def client(self, cls: str, service: str, modules: tuple[object, ...]) -> str:
        stubs, methods = [], []
        for k, module in enumerate(modules):
            for s in module.DESCRIPTOR.services_by_name.values():  # type: ignore[attr-defined]
                path, alias = module_of(s.file)
                self.imports.add((path + "_grpc", alias + "_grpc"))
                attr = "stub" if k == 0 else snake(s.name.removesuffix("Service")) + "s"
                stubs.append(
                    (attr, f"{alias}_grpc.{s.name}AsyncStub", f"{alias}_grpc.{s.name}Stub")
                )
                methods += [self.method(attr, m) for m in s.methods]
        names = [t.rsplit(".", 1)[1].removesuffix("AsyncStub") for _, t, _ in stubs]
        made = "".join(f'("{a}", {c}), ' for a, _, c in stubs)
        return (
            f"class {cls}(Client):\n"
            f'    """The {service} process: {", ".join(names)}."""\n\n'
            f'    service = "{service}"\n'
            f"    stub_types = ({made})\n"
            + "".join(f"    {a}: {t}\n" for a, t, _ in stubs)
            + "\n"
            + "\n".join(methods)
        )


def main(out: Path) -> None:
    w = Writer()
    classes = [w.client(cls, svc, mods) for cls, (svc, mods) in CLIENTS.items()]
    imports = "".join(f"from {p.rsplit('.', 1)[0]} import {a}\n" for p, a in sorted(w.imports))
    out.write_text(
        '"""Typed async clients, one method per RPC. Generated by sdk/gen_clients.py from the\n'
        'service descriptors: do not edit by hand, run `make proto`."""\n\n'
        "from __future__ import annotations\n\n"
        "from collections.abc import AsyncGenerator, AsyncIterable, Iterable\n"
        "\n"
        f"{imports}"
        "from netnet.client.base import (\n    IMPORT_TIMEOUT,\n"
        "    AsyncPager,\n    Client,\n    Metadata,\n    flatten,\n)\n\n\n" + "\n\n".join(classes)
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
