"""Artifact-scanning engine: one file in, a verdict and findings out.

The file is identified by content (:mod:`.formats`), containers are opened leniently
(:mod:`.containers`) and every pickle stream found is analysed statically
(:mod:`.pickle_analysis`); nothing is ever unpickled. Imports are judged default-deny
against :mod:`.allowlist`, and each observation becomes a finding of a rule in
:mod:`.rules`.

Verdict: ``block`` if any finding is CRITICAL, ``quarantine`` if any is HIGH or MEDIUM,
otherwise ``pass``.
"""

from __future__ import annotations

import contextlib
import io
import json
import mmap
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, BinaryIO

from mlsec_gates.result import Finding, Location, Severity

from . import rules
from .allowlist import (
    builtin_allowed,
    dangerous_reason,
    is_identifier_path,
    policy_allowed,
    scanner_reason,
)
from .archives import LEGACY_TORCH_MEMBERS, legacy_torch_pickles, read_7z, read_tar
from .chat_template import check_template, looks_like_template, templates_in_json
from .containers import (
    BombSuspected,
    ContainerError,
    ExpansionBudget,
    LimitExceeded,
    inflate,
    open_member,
    optional_codec,
    parse_npy_header,
    read_zip_directory,
)
from .fickling_check import cross_check_wanted, fickling_imports
from .formats import ARCHIVES, COMPRESSED, UNSUPPORTED_ARCHIVES, sniff
from .gguf import check_gguf
from .hdf5_isolated import ReaderFailed
from .keras import check_config as check_keras_config
from .keras import check_hdf5
from .keras import parse_config as parse_keras_config
from .native_models import check_catboost_cbm, check_xgboost_ubj
from .observations import FormatError
from .onnx_model import check_onnx
from .pickle_analysis import (
    CallEvent,
    CodeObjectEvent,
    ComputedCallEvent,
    ComputedGlobalEvent,
    DiscardedCallEvent,
    ErrorEvent,
    FrameEvent,
    GlobalEvent,
    GlobalMutationEvent,
    HookEvent,
    NestedLoadEvent,
    PickleReport,
    ShapeEvent,
    analyse_region,
)
from .ranged import RANGED_FORMATS, RangedBuffer, materialise
from .remediation import blocked_advice, producer_of, unknown_global_advice
from .safetensors import check_safetensors
from .torchscript import check_code as check_torchscript_code
from .torchscript import is_torchscript, torchscript_global

__all__ = ["FileVerdict", "ScanSettings", "scan_file", "verdict_for"]


@dataclass(frozen=True)
class ScanSettings:
    """Limits and policy for one scan."""

    allow_globals: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Extra allowlist from the policy: ``module.qualname`` or ``module.*`` -> reason."""
    max_file_bytes: int = 4 * 1024**3
    """Bigger files (and decompressed members) are not read: quarantine finding."""
    max_members: int = 10_000
    """Zip members per archive."""
    max_depth: int = 3
    """Archive nesting (zip, tar, 7z, npz levels); compression wrappers are not levels."""
    max_opcodes: int = 50_000_000
    """Opcodes per pickle stream; beyond that the stream is quarantined (resource limit)."""
    max_expanded_bytes: int = 16 * 1024**3
    """Decompressed bytes per file, all members and nesting levels together (bomb guard)."""
    max_ratio: int = 1000
    """Output/input ratio of one compressed stream past 16 MiB of output (bomb guard)."""
    hdf5_timeout_seconds: int = 20
    """Wall-clock limit of the child process that reads one HDF5 file (crash/hang guard)."""


@dataclass(frozen=True)
class FileVerdict:
    """What the scan decided about one file."""

    kind: str
    """Detected format (``pickle``, ``pytorch-zip``, ``numpy-npy``, ``joblib``, ``json``...)."""
    verdict: str
    """``pass`` | ``block`` | ``quarantine``."""
    findings: tuple[Finding, ...]


def verdict_for(findings: tuple[Finding, ...] | list[Finding]) -> str:
    """``block`` on any CRITICAL, ``quarantine`` on any HIGH/MEDIUM, else ``pass``."""
    worst = max((f.severity for f in findings), default=None)
    if worst is None:
        return "pass"
    if worst >= Severity.CRITICAL:
        return "block"
    if worst >= Severity.MEDIUM:
        return "quarantine"
    return "pass"


_MAX_WRAPPERS = 8
"""Compression wrappers around one region (gzip of bz2 of ...); they add no archive level."""
_MAX_NESTED_PICKLES = 4
"""Pickles nested in pickles (via loader calls) are scanned this many levels deep."""
_TORCH_STORAGE = re.compile(r"^(.*/)?data/\d+$")
_KIND_BY_COMPRESSION = {"gzip": "gzip", "zlib": "zlib", "bz2": "bz2", "xz": "xz", "lzma": "lzma"}
_MAX_TEXT_TEMPLATE = 16 << 20
"""Text files larger than this are not checked for Jinja templates."""
_TEMPLATE_SUFFIXES = (".jinja", ".jinja2", ".j2", ".template", ".tmpl")
"""Text files with these names are templates: a parse failure is quarantined."""
_FORMAT_NAMES = {
    "pickle": "a pickle",
    "pickle-text": "a protocol-0/1 pickle",
    "zip": "a zip archive",
    "unknown": "unrecognised binary data",
    "text": "text",
}


def _join(member: str | None, name: str) -> str:
    return f"{member}!{name}" if member else name


class _Scan:
    """State of one :func:`scan_file` call."""

    def __init__(self, uri: str, settings: ScanSettings) -> None:
        self.uri = uri
        self.settings = settings
        self.allow = dict(settings.allow_globals or {})
        self.findings: list[Finding] = []
        self.keep: list[Any] = []
        self.budget = ExpansionBudget(settings.max_expanded_bytes, settings.max_ratio)
        self.torchscript = False  # inside a TorchScript archive (its own unpickler)
        self.modules: set[str] = set()  # every module a pickle of this file imports from

    # ------------------------------------------------------------------ helpers
    def add(
        self,
        rule: type[rules.Rule],
        message: str,
        *,
        member: str | None,
        offset: int | None = None,
        detail: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        location = Location(uri=self.uri, member=member, offset=offset, detail=detail)
        self.findings.append(rule.finding(message, location, evidence))

    def unsupported(self, fmt: str, message: str, member: str | None) -> str:
        """Report a container the scanner cannot open (fails closed) and return its format."""
        self.add(
            rules.UnsupportedContainer,
            message,
            member=member,
            offset=0,
            evidence={"format": fmt},
        )
        return fmt

    def close(self) -> None:
        for obj in reversed(self.keep):
            with contextlib.suppress(Exception):
                obj.close()
        self.keep.clear()

    # ------------------------------------------------------------------ dispatch
    def scan_region(
        self, buf: Any, start: int, end: int, member: str | None, depth: int, *, top: bool
    ) -> str:
        fmt = sniff(buf, start, end)
        if fmt not in RANGED_FORMATS:  # read by ranges only where the format allows it
            buf = materialise(buf, start, end)
        if fmt in COMPRESSED:
            kind = self._scan_compressed(buf, start, end, member, depth, fmt, top=top)
            if kind is not None:
                return kind
            fmt = sniff(buf, start, end, skip_compressed=True)
        if fmt == "empty":
            if top:
                self.add(rules.EmptyFile, "file is empty: nothing to check", member=member)
            return "empty"
        if fmt == "zip":
            return self._scan_zip(buf, start, end, member, depth)
        if fmt == "npy":
            return self._scan_npy(buf, start, end, member)
        if fmt == "safetensors":
            return self._scan_safetensors(buf, start, end, member, depth)
        if fmt in ARCHIVES:
            return self._scan_archive(buf, start, end, member, depth, fmt)
        if fmt == "hdf5":
            return self._scan_hdf5(buf, start, end, member)
        if fmt == "onnx":
            return self._scan_onnx(buf, start, end, member)
        if fmt == "gguf":
            return self._scan_gguf(buf, start, end, member)
        if fmt in ("xgboost-ubj", "catboost-cbm"):
            return self._scan_native(buf, start, end, member, fmt)
        if fmt in UNSUPPORTED_ARCHIVES:
            return self.unsupported(
                fmt, f"{fmt} archive is not unpacked by the scanner: members not checked", member
            )
        if fmt in ("pickle", "pickle-text"):
            return self._scan_pickle(buf, start, end, member)
        if fmt == "json":
            return self._scan_json(buf, start, end, member)
        if fmt == "text":
            return self._scan_text(buf, start, end, member)
        if top:
            self.add(
                rules.UnsupportedFormat,
                "unsupported format: content matches no known model or data format",
                member=member,
                evidence={"head": bytes(buf[start : min(end, start + 16)]).hex()},
            )
        else:
            self.add(
                rules.UnrecognisedMember,
                "member content matches no known format; not analysed",
                member=member,
                evidence={"head": bytes(buf[start : min(end, start + 16)]).hex()},
            )
        return "unknown"

    # ------------------------------------------------------------------ pickle
    def _scan_pickle(self, buf: Any, start: int, end: int, member: str | None) -> str:
        report = analyse_region(buf, start, end, max_opcodes=self.settings.max_opcodes)
        first = len(self.findings)
        self._report_pickle(report, start, member)
        self._cross_check(buf, start, report, member, self.findings[first:])
        if report.legacy_torch:
            return "pytorch-legacy"
        if report.joblib:
            return "joblib"
        return "pickle"

    def _cross_check(
        self,
        buf: Any,
        start: int,
        report: PickleReport,
        member: str | None,
        found: list[Finding],
    ) -> None:
        """Have fickling read the streams the walker parsed; block on any import it missed.

        Small regions are always cross-checked; larger ones only when the walker already
        found something short of a block (see :mod:`.fickling_check` for the measurements).
        """
        stop = max(report.end, start)
        if any(f.severity >= Severity.CRITICAL for f in found):
            return  # blocked already: a second reading cannot change the verdict
        if not cross_check_wanted(stop - start, report.opcodes, suspicious=bool(found)):
            return
        theirs: set[tuple[str, str]] = set()
        for piece in _fickling_pieces(buf, start, stop, report.inline):
            theirs |= fickling_imports(piece, max_opcodes=self.settings.max_opcodes).imports
        ours = {(ev.module, ev.name) for ev in report.events if isinstance(ev, GlobalEvent)}
        for module, name in sorted(theirs - ours):
            if module.startswith("_malformed"):
                continue  # fickling's placeholder for computed operands: ComputedGlobal covers it
            self.add(
                rules.ParserDifferential,
                f"fickling reads an import of {module}.{name} that the opcode walker did not see",
                member=member,
                detail="fickling cross-check",
                evidence={"global": f"{module}.{name}", "reader": "fickling"},
            )

    def _report_pickle(self, report: PickleReport, base: int, member: str | None) -> None:
        where = "pickle" if member is None else f"pickle in {member}"
        payloads = {
            (ev.module, ev.name, ev.stream): ev
            for ev in reversed(report.events)
            if isinstance(ev, CallEvent)
        }
        for ev in report.events:
            offset = ev.offset - base
            if isinstance(ev, GlobalEvent):
                self.modules.add(ev.module)
                if report.accepted(ev.module, ev.name, ev.stream):
                    continue  # a generic construct used only with arguments that fit
                self._report_global(
                    ev, offset, member, where, payloads.get((ev.module, ev.name, ev.stream))
                )
            elif isinstance(ev, ErrorEvent):
                self._report_error(ev, offset, member, where)
            elif isinstance(ev, CallEvent):
                continue  # named in the finding about the import
            elif isinstance(ev, NestedLoadEvent):
                self._report_nested(ev, offset, member, where)
            else:
                rule, message, evidence = _describe_event(ev, where)
                self.add(
                    rule,
                    message,
                    member=member,
                    offset=offset,
                    detail=f"stream {ev.stream}, opcode {ev.opcode} #{ev.index}",
                    evidence={
                        **evidence,
                        "opcode": ev.opcode,
                        "stream": ev.stream,
                        "opcode_index": ev.index,
                    },
                )

    def _report_nested(
        self, ev: NestedLoadEvent, offset: int, member: str | None, where: str
    ) -> None:
        """A loader call on bytes from the pickle: report it, then scan the nested payload."""
        inner = _join(member, f"<nested {ev.loader} @{offset}>")
        evidence = {
            "loader": ev.loader,
            "payload": ev.payload,
            "opcode": ev.opcode,
            "stream": ev.stream,
            "opcode_index": ev.index,
            "nested_member": inner,
        }
        detail = f"stream {ev.stream}, opcode {ev.opcode} #{ev.index}"
        if ev.data is None:
            self.add(
                rules.NestedPayload,
                f"{where} calls {ev.payload}: the nested payload cannot be rebuilt "
                f"statically ({ev.problem})",
                member=member,
                offset=offset,
                detail=detail,
                evidence={**evidence, "problem": ev.problem},
            )
            return
        nbuf, nstart, nend = ev.data
        self.add(
            rules.NestedPayload,
            f"{where} deserialises {nend - nstart} embedded bytes with {ev.loader} "
            f"({ev.payload}); nested payload scanned as {inner}",
            member=member,
            offset=offset,
            detail=detail,
            evidence={**evidence, "size": nend - nstart},
        )
        if inner.count("<nested ") > _MAX_NESTED_PICKLES:
            self.add(
                rules.ResourceLimit,
                f"{where}: nested payloads deeper than {_MAX_NESTED_PICKLES} levels not scanned",
                member=inner,
                evidence={"max_depth": _MAX_NESTED_PICKLES},
            )
            return
        self.scan_region(nbuf, nstart, nend, inner, 0, top=False)

    def _report_global(
        self,
        ev: GlobalEvent,
        offset: int | None,
        member: str | None,
        where: str,
        call: CallEvent | None = None,
    ) -> None:
        full = f"{ev.module}.{ev.name}"
        detail = f"stream {ev.stream}, opcode {ev.opcode} #{ev.index}"
        evidence: dict[str, Any] = {
            "global": full,
            "opcode": ev.opcode,
            "stream": ev.stream,
            "opcode_index": ev.index,
        }
        called = ""
        if call is not None:
            evidence.update(payload=call.payload, call_offset=call.offset, call_opcode=call.opcode)
            called = f", called as {call.payload}"
        if self.torchscript and torchscript_global(ev.module, ev.name):
            return  # resolved by torch.jit.load's C++ unpickler, which imports no Python
        reason = scanner_reason(ev.module, ev.name)
        rule: type[rules.Rule] = rules.ScannerDeactivation
        if reason is None:
            reason = dangerous_reason(ev.module, ev.name)
            rule = rules.DangerousGlobal
        if reason is not None:
            self.add(
                rule,
                f"{where} imports {full} ({reason}){called}",
                member=member,
                offset=offset,
                detail=detail,
                evidence=evidence,
            )
            return
        if builtin_allowed(ev.module, ev.name):
            return
        if policy_allowed(ev.module, ev.name, self.allow) is not None:
            return
        if not (is_identifier_path(ev.module) and is_identifier_path(ev.name)):
            msg = f"{where} imports malformed global {full!r}, which is not on the allowlist"
        else:
            msg = f"{where} imports {full}, which is not on the allowlist{called}"
        self.add(
            rules.UnknownGlobal, msg, member=member, offset=offset, detail=detail, evidence=evidence
        )

    def _report_error(self, ev: ErrorEvent, offset: int, member: str | None, where: str) -> None:
        detail = f"stream {ev.stream}" + (f", opcode {ev.opcode}" if ev.opcode else "")
        evidence: dict[str, Any] = {
            "error": ev.message,
            "opcode": ev.opcode,
            "stream": ev.stream,
            "opcode_index": ev.index,
        }
        if ev.kind == "limit":
            self.add(
                rules.ResourceLimit,
                f"{where}: analysis stopped, {ev.message}",
                member=member,
                offset=offset,
                detail=detail,
                evidence=evidence,
            )
        elif ev.kind == "trailing":
            self.add(
                rules.TrailingData,
                f"{where}: bytes after the last complete pickle stream are not a pickle "
                f"({ev.message})",
                member=member,
                offset=offset,
                detail=detail,
                evidence=evidence,
            )
        elif ev.message.startswith("joblib") or "object-array" in ev.message:
            self.add(
                rules.JoblibArray,
                f"{where}: {ev.message}; following opcodes not checked",
                member=member,
                offset=offset,
                detail=detail,
                evidence=evidence,
            )
        else:
            self.add(
                rules.PickleParseError,
                f"{where} cannot be fully parsed: {ev.message}",
                member=member,
                offset=offset,
                detail=detail,
                evidence=evidence,
            )

    # ------------------------------------------------------------------ numpy
    def _scan_npy(self, buf: Any, start: int, end: int, member: str | None) -> str:
        try:
            header = parse_npy_header(buf, start, end)
        except ContainerError as exc:
            self.add(
                rules.NumpyBadHeader,
                f"malformed .npy header: {exc}",
                member=member,
                offset=0,
                evidence={"error": str(exc)},
            )
            return "numpy-npy"
        if header.hasobject:
            report = analyse_region(
                buf, start + header.data_offset, end, max_opcodes=self.settings.max_opcodes
            )
            self._report_pickle(report, start, member)
            return "numpy-npy"
        have = end - start - header.data_offset
        if have != header.data_size:
            self.add(
                rules.NumpySizeMismatch,
                f".npy data is {have} bytes but the header announces {header.data_size}",
                member=member,
                offset=header.data_offset,
                evidence={"expected": header.data_size, "actual": have},
            )
        return "numpy-npy"

    # ------------------------------------------------------------------ format parsers
    def _observe(
        self, observations: list[Any], member: str | None, base: int = 0, *, prefix: str = ""
    ) -> None:
        """Turn parser observations into findings located in ``member``."""
        for obs in observations:
            detail = f"{prefix}{obs.where}" if obs.where else (prefix.rstrip(": ") or None)
            self.add(
                obs.rule,
                obs.message,
                member=member,
                offset=None if obs.offset is None else base + obs.offset,
                detail=detail,
                evidence=dict(obs.evidence),
            )

    def _malformed(
        self, rule: type[rules.Rule], what: str, exc: FormatError, member: str | None
    ) -> None:
        self.add(
            rule,
            f"{what}: {exc}",
            member=member,
            offset=exc.offset,
            evidence={"error": str(exc)},
        )

    # ------------------------------------------------------------------ safetensors
    def _scan_safetensors(
        self, buf: Any, start: int, end: int, member: str | None, depth: int
    ) -> str:
        try:
            observations = check_safetensors(buf, start, end)
        except FormatError as exc:
            self._malformed(rules.SafetensorsBadHeader, "invalid safetensors header", exc, member)
            return "safetensors"
        appended = [o for o in observations if o.rule is rules.SafetensorsAppendedData]
        self._observe([o for o in observations if o not in appended], member)
        for obs in appended:
            offset = obs.evidence["offset"]
            inner = sniff(buf, start + offset, end)
            self.add(
                obs.rule,
                f"{obs.message}; the appended bytes are {_FORMAT_NAMES.get(inner, inner)}",
                member=member,
                offset=offset,
                evidence={**obs.evidence, "appended_format": inner},
            )
            if inner not in ("unknown", "text", "empty") and depth + 1 <= self.settings.max_depth:
                self.scan_region(
                    buf, start + offset, end, _join(member, "<appended>"), depth + 1, top=False
                )
        return "safetensors"

    # ------------------------------------------------------------------ archives
    def _scan_archive(
        self, buf: Any, start: int, end: int, member: str | None, depth: int, fmt: str
    ) -> str:
        settings = self.settings
        try:
            if fmt == "tar":
                listing = read_tar(buf, start, end, max_members=settings.max_members)
            else:
                listing = read_7z(
                    buf,
                    start,
                    end,
                    max_members=settings.max_members,
                    limit=settings.max_file_bytes,
                    budget=self.budget,
                    keep=self.keep,
                )
        except LimitExceeded as exc:
            self.add(
                rules.ResourceLimit,
                f"{fmt} not scanned: {exc}",
                member=member,
                evidence={"max_members": settings.max_members},
            )
            return fmt
        except FormatError as exc:
            self._malformed(rules.ArchiveUnreadable, f"{fmt} archive unreadable", exc, member)
            return fmt
        self._observe(listing.observations, member, prefix=f"{fmt}: ")
        names = {m.name for m in listing.members}
        legacy = fmt == "tar" and names >= LEGACY_TORCH_MEMBERS
        for item in listing.members:
            full = _join(member, item.name)
            if item.problem:
                self.add(
                    rules.ArchiveUnreadable,
                    f"{fmt} member {item.name!r}: {item.problem}; only the decoded part was "
                    "scanned",
                    member=full,
                    evidence={"error": item.problem},
                )
            if depth + 1 > settings.max_depth:
                self.add(
                    rules.ResourceLimit,
                    f"{fmt} member {item.name!r} nested deeper than {settings.max_depth} "
                    "levels: not scanned",
                    member=full,
                    evidence={"max_depth": settings.max_depth},
                )
                continue
            if legacy and item.name in ("storages", "tensors"):
                self._scan_legacy_member(item, full)
                continue
            self.scan_region(item.buf, item.start, item.end, full, depth + 1, top=False)
        return "pytorch-legacy-tar" if legacy else fmt

    def _scan_legacy_member(self, item: Any, member: str) -> None:
        """Scan the pickles of a legacy torch ``storages``/``tensors`` member, not raw data."""
        regions, problem = legacy_torch_pickles(item.buf, item.start, item.end, item.name)
        if problem:
            self.add(
                rules.PickleParseError,
                f"{problem}; the rest of the member was scanned as a pickle",
                member=member,
                evidence={"error": problem},
            )
        for begin, stop in regions:
            self._scan_pickle(item.buf, begin, stop, member)

    # ------------------------------------------------------------------ keras / hdf5
    def _scan_hdf5(self, buf: Any, start: int, end: int, member: str | None) -> str:
        timeout = self.settings.hdf5_timeout_seconds
        try:
            observations, is_keras = check_hdf5(buf, start, end, timeout=timeout)
        except FormatError as exc:
            self._malformed(rules.Hdf5Unreadable, "HDF5 file unreadable", exc, member)
            return "hdf5"
        except ReaderFailed as exc:
            self.add(
                rules.Hdf5ReaderFailed,
                f"HDF5 file not checked: {exc}",
                member=member,
                evidence={"error": str(exc), "timeout_seconds": timeout},
            )
            return "hdf5"
        self._observe(observations, member)
        return "keras-h5" if is_keras else "hdf5"

    def _scan_keras_config(self, buf: Any, start: int, end: int, member: str) -> None:
        try:
            config = parse_keras_config(bytes(buf[start:end]), "Keras config.json")
        except FormatError as exc:
            self._malformed(rules.KerasBadConfig, "Keras config unreadable", exc, member)
            return
        self._observe(check_keras_config(config, "config.json"), member)
        self._check_json_templates(config, member)

    # ------------------------------------------------------------------ onnx / gguf
    def _scan_onnx(self, buf: Any, start: int, end: int, member: str | None) -> str:
        try:
            observations = check_onnx(buf, start, end)
        except FormatError as exc:
            self._malformed(rules.OnnxUnreadable, "ONNX model unreadable", exc, member)
            return "onnx"
        self._observe(observations, member)
        return "onnx"

    def _scan_gguf(self, buf: Any, start: int, end: int, member: str | None) -> str:
        try:
            header = check_gguf(buf, start, end)
        except FormatError as exc:
            self._malformed(rules.GgufMalformed, "malformed GGUF file", exc, member)
            return "gguf"
        self._observe(header.observations, member)
        return "gguf"

    def _scan_native(self, buf: Any, start: int, end: int, member: str | None, fmt: str) -> str:
        """A data-only native model format: its structure must hold (see native_models)."""
        check = check_xgboost_ubj if fmt == "xgboost-ubj" else check_catboost_cbm
        try:
            check(buf, start, end)
        except FormatError as exc:
            self._malformed(rules.NativeModelMalformed, f"malformed {fmt} model", exc, member)
        return fmt

    # ------------------------------------------------------------------ text / json
    def _scan_json(self, buf: Any, start: int, end: int, member: str | None) -> str:
        try:
            value = json.loads(bytes(buf[start:end]).decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return "json"
        if isinstance(value, dict) and "class_name" in value and "config" in value:
            self._observe(check_keras_config(value, "Keras config"), member)
        self._check_json_templates(value, member)
        return "json"

    def _check_json_templates(self, value: Any, member: str | None) -> None:
        for where, template, strict in templates_in_json(value):
            self._observe(check_template(template, where, strict=strict), member)

    def _scan_text(self, buf: Any, start: int, end: int, member: str | None) -> str:
        if end - start > _MAX_TEXT_TEMPLATE:
            return "text"
        text = bytes(buf[start:end]).decode("utf-8", "replace")
        if not looks_like_template(text):
            return "text"
        name = (member or self.uri).rsplit("!", 1)[-1].lower()
        strict = name.endswith(_TEMPLATE_SUFFIXES)
        self._observe(check_template(text, None, strict=strict), member)
        return "jinja-template" if strict else "text"

    # ------------------------------------------------------------------ compressed
    def _scan_compressed(
        self, buf: Any, start: int, end: int, member: str | None, depth: int, fmt: str, *, top: bool
    ) -> str | None:
        """Decompress and scan; None when the data is not really compressed (fall through)."""
        if fmt in ("zstd", "lz4") and optional_codec(fmt) is None:
            return self.unsupported(
                fmt,
                f"{fmt} data cannot be decompressed here (codec not installed): not checked",
                member,
            )
        try:
            inner, size, problem = inflate(
                buf, start, end, fmt, self.settings.max_file_bytes, self.keep, budget=self.budget
            )
        except ContainerError:
            return None
        except BombSuspected as exc:
            self.add(
                rules.DecompressionBomb,
                f"{fmt} data not scanned: {exc}",
                member=member,
                offset=0,
                evidence={"format": fmt, "error": str(exc)},
            )
            return fmt
        except LimitExceeded as exc:
            self.add(
                rules.ResourceLimit,
                f"{fmt} data not scanned: {exc} (possible decompression bomb)",
                member=member,
                offset=0,
                evidence={"format": fmt, "limit": self.settings.max_file_bytes},
            )
            return fmt
        inner_member = _join(member, f"<{fmt}-decompressed>")
        if problem:
            self.add(
                rules.ZipMemberUnreadable,
                f"{fmt} data: {problem}; only the decoded part was scanned",
                member=member,
                offset=0,
                evidence={"format": fmt, "error": problem},
            )
        if inner_member.count("-decompressed>") > _MAX_WRAPPERS:
            self.add(
                rules.ResourceLimit,
                f"{fmt} data inside more than {_MAX_WRAPPERS} compression wrappers: not scanned",
                member=member,
                evidence={"max_wrappers": _MAX_WRAPPERS},
            )
            return fmt
        # A compression wrapper is not an archive level: ``x.tar.gz`` is one container,
        # as for every loader (max_depth counts zip/tar/7z/npz levels only).
        inner_kind = self.scan_region(inner, 0, size, inner_member, depth, top=top)
        if inner_kind in ("joblib", "pickle"):
            return "joblib" if inner_kind == "joblib" else f"{fmt}-pickle"
        return f"{fmt}+{inner_kind}"

    # ------------------------------------------------------------------ zip
    def _scan_zip(self, buf: Any, start: int, end: int, member: str | None, depth: int) -> str:
        settings = self.settings
        try:
            directory = read_zip_directory(buf, start, end, settings.max_members)
        except LimitExceeded as exc:
            self.add(
                rules.ResourceLimit,
                f"zip not scanned: {exc}",
                member=member,
                evidence={"max_members": settings.max_members},
            )
            return "zip"
        except (ContainerError, struct.error) as exc:
            self.add(
                rules.ZipUnreadable,
                f"zip archive cannot be opened: {exc}",
                member=member,
                offset=0,
                evidence={"error": str(exc)},
            )
            return "zip"
        for note in directory.notes:
            if directory.from_local_headers:
                self.add(
                    rules.ZipUnreadable,
                    f"zip central directory unusable: {note}",
                    member=member,
                    evidence={"error": note},
                )
        entries = directory.entries
        names = [e.name for e in entries]
        is_torch = any(n == "data.pkl" or n.endswith("/data.pkl") for n in names)
        is_keras = "config.json" in names and bool(
            {"metadata.json", "model.weights.h5", "model.weights.npz"} & set(names)
        )
        npy_members = 0
        file_members = 0
        is_skops = False
        is_script = is_torchscript(names)
        outer_torchscript, self.torchscript = self.torchscript, is_script
        for entry in entries:
            name = entry.name
            full = _join(member, name)
            if entry.is_dir:
                continue
            file_members += 1
            parts = name.replace("\\", "/").split("/")
            if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                self.add(
                    rules.ZipUnsafePath,
                    f"zip member name {name!r} escapes the extraction directory",
                    member=full,
                    evidence={"name": name},
                )
            if entry.encrypted:
                self.add(
                    rules.ZipEncryptedMember,
                    f"zip member {name!r} is flagged as encrypted and cannot be fully scanned",
                    member=full,
                    evidence={"name": name},
                )
                # PyTorch ignores the flag bits: if the data is in fact plain, scan it.
                self._scan_flagged_member(buf, entry, end, full, depth)
                continue
            if depth + 1 > settings.max_depth:
                self.add(
                    rules.ResourceLimit,
                    f"zip member {name!r} nested deeper than {settings.max_depth} levels: "
                    "not scanned",
                    member=full,
                    evidence={"max_depth": settings.max_depth},
                )
                continue
            try:
                mbuf, mstart, mend, problem = open_member(
                    buf, entry, end, settings.max_file_bytes, self.keep, budget=self.budget
                )
            except BombSuspected as exc:
                self.add(
                    rules.DecompressionBomb,
                    f"zip member {name!r} not scanned: {exc}",
                    member=full,
                    evidence={"error": str(exc)},
                )
                continue
            except LimitExceeded as exc:
                self.add(
                    rules.ResourceLimit,
                    f"zip member {name!r} not scanned: {exc}",
                    member=full,
                    evidence={"limit": settings.max_file_bytes},
                )
                continue
            except (ContainerError, struct.error) as exc:
                self.add(
                    rules.ZipMemberUnreadable,
                    f"zip member {name!r} cannot be read: {exc}",
                    member=full,
                    evidence={"error": str(exc), "method": entry.method},
                )
                continue
            if problem:
                self.add(
                    rules.ZipMemberUnreadable,
                    f"zip member {name!r}: {problem}; only the readable part was scanned",
                    member=full,
                    evidence={"error": problem, "method": entry.method},
                )
            if is_torch and _TORCH_STORAGE.match(name):
                self._scan_storage(mbuf, mstart, mend, full)
                continue
            if is_script and name.endswith(".py") and "/code/" in f"/{name}":
                text = bytes(mbuf[mstart:mend]).decode("utf-8", "replace")
                self._observe(check_torchscript_code(text, "TorchScript code"), full)
                continue
            if name == "schema.json" and self._scan_skops(mbuf, mstart, mend, full):
                is_skops = True
                continue
            if is_keras and name == "config.json":
                self._scan_keras_config(mbuf, mstart, mend, full)
                continue
            kind = self.scan_region(mbuf, mstart, mend, full, depth + 1, top=False)
            if kind == "numpy-npy":
                npy_members += 1
        self.torchscript = outer_torchscript
        if directory.archive_end is not None and directory.archive_end < end:
            self._scan_after_archive(buf, directory.archive_end, end, member, depth)
        if is_script:
            return "torchscript"
        if is_torch:
            return "pytorch-zip"
        if is_skops:
            return "skops"
        if is_keras:
            return "keras"
        if file_members and npy_members == file_members:
            return "numpy-npz"
        return "zip"

    def _scan_after_archive(
        self, buf: Any, start: int, end: int, member: str | None, depth: int
    ) -> None:
        """Bytes after a zip's end record: loaders ignore them, pickles hidden there do not."""
        if not bytes(buf[start : min(end, start + 4096)]).strip(b"\x00") and end - start <= 4096:
            return
        if depth + 1 > self.settings.max_depth:
            return
        self.scan_region(buf, start, end, _join(member, "<after-zip>"), depth + 1, top=False)

    def _scan_flagged_member(self, buf: Any, entry: Any, end: int, member: str, depth: int) -> None:
        """Scan a member whose flags claim encryption, in case its data is really plain."""
        try:
            mbuf, mstart, mend, _problem = open_member(
                buf, entry, end, self.settings.max_file_bytes, self.keep, budget=self.budget
            )
        except (ContainerError, LimitExceeded, struct.error):
            return
        if sniff(mbuf, mstart, mend) in ("pickle", "pickle-text", "zip", "npy"):
            self.scan_region(mbuf, mstart, mend, member, depth + 1, top=False)

    def _scan_skops(self, buf: Any, start: int, end: int, member: str | None) -> bool:
        """Check the types named by a skops ``schema.json``; False if it is not skops."""
        try:
            schema = json.loads(bytes(buf[start:end]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return False
        if not isinstance(schema, dict) or "__loader__" not in schema:
            return False
        seen: set[tuple[str, str]] = set()
        todo: list[Any] = [schema]
        while todo:
            node = todo.pop()
            if isinstance(node, dict):
                mod, cls = node.get("__module__"), node.get("__class__")
                if isinstance(mod, str) and isinstance(cls, str) and (mod, cls) not in seen:
                    seen.add((mod, cls))
                    ev = GlobalEvent(mod, cls, str(node.get("__loader__", "node")), 0, 0)
                    self._report_global(ev, None, member, f"skops schema in {member}")
                todo.extend(node.values())
            elif isinstance(node, list):
                todo.extend(node)
        return True

    def _scan_storage(self, buf: Any, start: int, end: int, member: str) -> None:
        """Raw tensor bytes: only a complete pickle stream with imports is reported."""
        if end - start < 2 or buf[start] != 0x80 or buf[start + 1] > 5:
            return
        buf = materialise(buf, start, end)  # looks like a pickle: the walker needs every byte
        report = analyse_region(
            buf, start, end, max_opcodes=min(self.settings.max_opcodes, 1 << 20)
        )
        has_import = any(isinstance(e, GlobalEvent) for e in report.events)
        failed = any(isinstance(e, ErrorEvent) and e.stream == 0 for e in report.events)
        if has_import and not failed:
            self._report_pickle(report, start, member)


def _fickling_pieces(
    buf: Any, start: int, stop: int, inline: list[tuple[int, int, bool]]
) -> list[bytes]:
    """The byte streams fickling can read as pickles: joblib's inline arrays taken out.

    joblib writes each array's raw bytes (or, for object arrays, a separate pickle with its
    own memo) right after the wrapper's BUILD; fickling does not know this and would read
    array bytes as opcodes and resolve the inner pickle's memo references against the outer
    memo. The outer stream without the arrays, and each inner pickle on its own, are what
    the unpickler actually executes.
    """
    spans = sorted((a, b, obj) for a, b, obj in inline if start <= a <= b <= stop)
    if not spans:
        return [bytes(buf[start:stop])]
    outer = bytearray()
    pieces: list[bytes] = []
    cursor = start
    for begin, end, holds_pickle in spans:
        if begin < cursor:
            continue
        outer += buf[cursor:begin]
        if holds_pickle:
            pieces.append(bytes(buf[begin:end]))
        cursor = end
    outer += buf[cursor:stop]
    return [bytes(outer), *pieces]


def _describe_event(ev: Any, where: str) -> tuple[type[rules.Rule], str, dict[str, Any]]:
    """Rule, message and evidence for the pickle events that map to one finding each."""
    if isinstance(ev, ComputedGlobalEvent):
        message = f"{where} imports a computed name via {ev.opcode} ({ev.operands})"
        return rules.ComputedGlobal, message, {"global": None, "operands": ev.operands}
    if isinstance(ev, ComputedCallEvent):
        message = f"{where} calls {ev.target} with {ev.opcode} (not an imported global)"
        return rules.ComputedCall, message, {"target": ev.target}
    if isinstance(ev, GlobalMutationEvent):
        attrs = ", ".join(ev.attributes) or "its attributes"
        message = f"{where} overwrites {attrs} of imported {ev.target} with {ev.opcode}"
        if ev.reached_later is not None:
            message += f", then imports it again at offset {ev.reached_later} (ShadowPickle)"
        evidence = {"global": ev.target, "attributes": list(ev.attributes)}
        return rules.GlobalMutation, message, evidence
    if isinstance(ev, HookEvent):
        if ev.how == "method-type":
            message = f"{where} binds a function to an object as a method: {ev.payload}"
            return rules.MethodBinding, message, {"payload": ev.payload}
        attrs = ", ".join(ev.attributes)
        message = f"{where} replaces {attrs} on an object via {ev.how}: {ev.payload}"
        return rules.MethodOverride, message, {"payload": ev.payload, "attributes": attrs}
    if isinstance(ev, DiscardedCallEvent):
        message = (
            f"{where} calls {ev.payload} and discards the result with {ev.opcode} "
            "(run only for its side effects)"
        )
        return rules.DiscardedCall, message, {"payload": ev.payload}
    if isinstance(ev, CodeObjectEvent):
        message = f"{where} builds a code or function object: {ev.payload}"
        return rules.CodeObject, message, {"global": ev.target, "payload": ev.payload}
    if isinstance(ev, ShapeEvent):
        message = (
            f"{where} calls allowlisted {ev.target} with an unexpected argument shape: "
            f"{ev.payload}; expected {ev.expected}"
        )
        evidence = {"global": ev.target, "payload": ev.payload, "expected": ev.expected}
        return rules.ArgumentShape, message, evidence
    if isinstance(ev, FrameEvent):
        return rules.FrameDivergence, f"{where}: {ev.message}", {"error": ev.message}
    message = f"{where} imports extension code {ev.code} via {ev.opcode} (unverifiable)"
    return rules.ExtensionCode, message, {"extension_code": ev.code}


def _open_buffer(fh: BinaryIO | RangedBuffer, keep: list[Any]) -> tuple[Any, int]:
    """The bytes to scan: a ranged buffer as is, else the file memory-mapped (or read).

    Whatever needs closing after the scan goes to ``keep``.
    """
    if isinstance(fh, RangedBuffer):
        keep.append(fh)
        return (fh, len(fh)) if len(fh) else (b"", 0)
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    if size == 0:
        return b"", 0
    try:
        fileno = fh.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fileno = None
    if fileno is not None:
        try:
            mm = mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
            keep.append(mm)
            return mm, min(size, len(mm))
        except (OSError, ValueError):
            pass
    getbuffer = getattr(fh, "getvalue", None)
    data = getbuffer() if callable(getbuffer) else fh.read()
    return bytes(data), len(data)


_DEFAULT_SETTINGS = ScanSettings()


def scan_file(
    fh: BinaryIO | RangedBuffer, *, uri: str, settings: ScanSettings = _DEFAULT_SETTINGS
) -> FileVerdict:
    """Scan one artefact without loading it.

    Args:
        fh: seekable binary file opened by the caller (local file or a temp copy of an
            object-store object), or a :class:`~.ranged.RangedBuffer` over a remote object
            (only the parts the format needs are read).
        uri: name of the subject, used in every finding's location.
        settings: limits and extra allowlist; defaults to :class:`ScanSettings()`.

    Returns:
        The detected kind, the verdict and the findings. Never raises on bad content:
        problems become findings.
    """
    scan = _Scan(uri, settings)
    kind = "unknown"
    try:
        try:
            size = len(fh) if isinstance(fh, RangedBuffer) else fh.seek(0, io.SEEK_END)
        except (OSError, ValueError) as exc:
            scan.add(rules.InternalError, f"file cannot be read: {exc}", member=None)
            return _verdict("unknown", scan)
        if size > settings.max_file_bytes:
            scan.add(
                rules.ResourceLimit,
                f"file is {size} bytes, above the {settings.max_file_bytes}-byte scan limit: "
                "not read",
                member=None,
                evidence={"size": size, "limit": settings.max_file_bytes},
            )
            return _verdict("too-large", scan)
        buf, size = _open_buffer(fh, scan.keep)
        kind = scan.scan_region(buf, 0, size, None, 0, top=True)
    except Exception as exc:  # never raise on bad content
        scan.add(
            rules.InternalError,
            f"scanner error: {type(exc).__name__}: {exc}",
            member=None,
            evidence={"error": f"{type(exc).__name__}: {exc}"},
        )
    finally:
        scan.close()
    return _verdict(kind, scan)


def _verdict(kind: str, scan: _Scan) -> FileVerdict:
    findings = tuple(_with_producer_advice(scan.findings, scan.modules, kind))
    return FileVerdict(kind=kind, verdict=verdict_for(findings), findings=findings)


def _with_producer_advice(findings: list[Finding], modules: set[str], kind: str) -> list[Finding]:
    """Pickle findings with remediation for the library that wrote the file."""
    if not modules:
        return findings
    producer = producer_of(modules, kind)
    out = []
    for finding in findings:
        if finding.rule_id == rules.UnknownGlobal.id and finding.evidence.get("global"):
            advice = unknown_global_advice(str(finding.evidence["global"]), producer)
            finding = replace(finding, remediation=advice)
        elif finding.remediation == rules.Rule.remediation:
            finding = replace(finding, remediation=blocked_advice(producer))
        out.append(finding)
    return out
