"""The scanner's rules: one class per finding type, with a stable id and severity.

Rules do not walk files themselves; the engine calls :meth:`Rule.finding` when the
analysis observed what the rule describes. Keeping the catalogue here gives reports,
docs and waivers one place to look up ids, severities, remediations and threats.
"""

from __future__ import annotations

from typing import ClassVar

from mlsec_gates.result import Severity
from mlsec_gates.rules import Rule as BaseRule

_DONT_LOAD = (
    "Do not load this file (no torch.load, joblib.load, pickle.load, numpy.load with "
    "allow_pickle). Re-export the model from a trusted environment as safetensors or another "
    "data-only format."
)
_ALLOWLIST_HINT = (
    "If the producer is trusted and the global is expected, add it to the policy "
    '`gates.scan.allow_globals` ("module.name" or "module.*") with a reason.'
)
_RCE_WHY = (
    "Unpickling imports and calls this object; a pickle that reaches code-execution "
    "callables runs attacker code at load time (classic pickle RCE, or a Sleepy Pickle "
    "payload injected into a legitimate model that tampers with weights or inputs)."
)


class Rule(BaseRule):
    """A scanner finding type; by default the advice is not to load the file."""

    remediation: ClassVar[str] = _DONT_LOAD


class DangerousGlobal(Rule):
    """A pickle imports a known code-execution / system / nested-load callable or module.

    Examples: ``os.system``, ``builtins.eval``, ``subprocess.Popen``, ``pickle.loads``,
    ``torch.load``, stdlib gadgets (``pdb``, ``timeit``, ``pydoc.locate``...), attribute
    traversal such as ``shutil.os.system``. Loading the file executes it.
    """

    id: ClassVar[str] = "scan.pickle.dangerous-global"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = _RCE_WHY


class ComputedGlobal(Rule):
    """``STACK_GLOBAL`` whose module or name is not a literal string.

    The imported name is computed at load time (e.g. from a ``REDUCE`` result or decoded
    bytes), which only obfuscation needs; the target cannot be verified statically.
    """

    id: ClassVar[str] = "scan.pickle.computed-global"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "Obfuscated imports hide the called function from scanners; legitimate serialisers "
        "always write literal module and attribute names."
    )


class GlobalMutation(Rule):
    """``BUILD`` applied directly to an imported class or function.

    Setting attributes on an imported global rebinds library code for the whole process
    (ShadowPickle, CWE-1395); legitimate pickles only BUILD instances they created.
    """

    id: ClassVar[str] = "scan.pickle.global-mutation"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "Rebinding attributes of an allowlisted class lets a later, innocent-looking call "
        "run attacker-chosen code (ShadowPickle)."
    )


class UnknownGlobal(Rule):
    """A pickle imports a global that is neither allowlisted nor known to be dangerous.

    Default-deny: any import can run code on load (constructors, ``__setstate__``,
    ``__reduce__`` gadgets), so unknown imports need a human decision.
    """

    id: ClassVar[str] = "scan.pickle.unknown-global"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Check where the artefact comes from and what the global is. "
        + _ALLOWLIST_HINT
        + " Otherwise re-export as safetensors."
    )
    why: ClassVar[str] = (
        "Every import in a pickle is executed code; denylists miss new gadgets, so the scan "
        "only passes imports on an allowlist."
    )


class ComputedCall(Rule):
    """``REDUCE``/``OBJ``/``NEWOBJ`` calls something that is not an imported global.

    Calling the result of another call (or a persistent / extension object) is how
    gadget chains compose; ML serialisers only call imported globals.
    """

    id: ClassVar[str] = "scan.pickle.computed-call"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = _RCE_WHY


class ExtensionCode(Rule):
    """``EXT1/EXT2/EXT4`` imports through the copyreg extension registry.

    The target depends on the loading process's registry and cannot be checked statically.
    """

    id: ClassVar[str] = "scan.pickle.extension-code"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = "Extension codes hide which global is imported from scanners."


class PickleParseError(Rule):
    """A pickle stream is truncated, malformed or uses an unsupported opcode.

    Analysis stops at the error; imports seen before it are still reported. Loaders may
    still execute everything before the error.
    """

    id: ClassVar[str] = "scan.pickle.parse-error"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "Broken streams (payload first, garbage after) are a known way to make scanners "
        "fail open while the loader still runs the payload."
    )


class TrailingData(Rule):
    """Bytes after the last complete pickle stream that are not a pickle.

    Inert for a plain ``pickle.load``, but custom loaders may read them; they were only
    searched for hidden streams, not fully analysed.
    """

    id: ClassVar[str] = "scan.pickle.trailing-data"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = "Re-export the artefact; check how the extra bytes got there."
    why: ClassVar[str] = "Appended data can hide a second payload from scanners."


class ResourceLimit(Rule):
    """The scan stopped at a resource limit (size, members, nesting, opcodes, decompression).

    The rest of the artefact was not checked.
    """

    id: ClassVar[str] = "scan.resource-limit"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Review the artefact by hand or raise the limit in the scan settings if it is "
        "legitimately this large."
    )
    why: ClassVar[str] = (
        "Billion-laughs pickles, huge members and decompression bombs are used to exhaust or "
        "time out scanners."
    )


class JoblibArray(Rule):
    """An inline joblib array could not be sized, so the opcodes after it were not checked."""

    id: ClassVar[str] = "scan.joblib.unresolved-array"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = "Unchecked bytes inside a joblib file may hold further pickle opcodes."


class EmptyFile(Rule):
    """The file is empty: there is nothing to check and nothing a consumer can use."""

    id: ClassVar[str] = "scan.file.empty"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = "Check the upload; an empty artefact is usually a broken export."
    why: ClassVar[str] = (
        "An empty file in place of a model usually means a failed or tampered step."
    )


class UnsupportedFormat(Rule):
    """The content matches no format the scanner understands."""

    id: ClassVar[str] = "scan.file.unsupported-format"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Review the file by hand, or convert it to a supported format (safetensors, npy, "
        "torch zip, joblib)."
    )
    why: ClassVar[str] = "Unscanned content must not pass a security gate (fail closed)."


class UnsupportedContainer(Rule):
    """An archive or compression format the scanner does not unpack (7z, tar, rar...).

    Re-compressed checkpoints are a known bypass (nullifAI).
    """

    id: ClassVar[str] = "scan.file.unsupported-container"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Unpack the archive and scan its members individually."
    why: ClassVar[str] = "Payloads wrapped in an unsupported archive reach loaders unscanned."


class ZipUnreadable(Rule):
    """A zip archive (or torch checkpoint) whose directory cannot be read at all."""

    id: ClassVar[str] = "scan.zip.unreadable"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "Loaders such as PyTorch read zips more leniently than Python's zipfile; a zip the "
        "scanner cannot read may still load."
    )


class ZipEncryptedMember(Rule):
    """A zip member is encrypted, so its content cannot be scanned."""

    id: ClassVar[str] = "scan.zip.encrypted-member"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Ask for the artefact without encryption, then re-scan."
    why: ClassVar[str] = "Encrypted members hide their content from the scanner."


class ZipMemberUnreadable(Rule):
    """A zip member could not be decompressed (unsupported method or corrupt data)."""

    id: ClassVar[str] = "scan.zip.member-unreadable"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = "Members the scanner cannot read may still be read by a loader."


class ZipUnsafePath(Rule):
    """A zip member name is absolute or climbs out of the extraction directory (``..``)."""

    id: ClassVar[str] = "scan.zip.unsafe-path"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Do not extract this archive; rebuild it with relative paths."
    why: ClassVar[str] = (
        "Path traversal on extraction overwrites files outside the target (zip slip)."
    )


class UnrecognisedMember(Rule):
    """A zip member whose content matches no known format was not analysed (raw data)."""

    id: ClassVar[str] = "scan.zip.unrecognised-member"
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = "No action needed unless the member is meant to be loaded."
    why: ClassVar[str] = "Raw binary members are inert for the known loaders."


class NumpyBadHeader(Rule):
    """A ``.npy`` header is malformed, so the array cannot be checked."""

    id: ClassVar[str] = "scan.numpy.bad-header"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = "Malformed headers are used to confuse scanners about where data starts."


class NumpySizeMismatch(Rule):
    """A ``.npy`` file's data size does not match its header (truncated or padded)."""

    id: ClassVar[str] = "scan.numpy.size-mismatch"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = "Re-export the array; the file is truncated or has extra bytes."
    why: ClassVar[str] = "Extra bytes after array data can hide a payload."


class SafetensorsBadHeader(Rule):
    """A safetensors file whose length-prefixed JSON header does not parse."""

    id: ClassVar[str] = "scan.safetensors.bad-header"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "A file named like safetensors but not parseable as one may be a pickle or polyglot "
        "that another loader accepts."
    )


class InternalError(Rule):
    """The scanner failed on this content; the file was not completely checked."""

    id: ClassVar[str] = "scan.internal-error"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Report the error to the mlsec-gates maintainers; review by hand."
    why: ClassVar[str] = "A file the scanner could not check must not pass (fail closed)."


class ParserDifferential(Rule):
    """fickling's parser sees an import that our opcode walker does not.

    Two independent readings of the same bytes disagree: either the file is crafted to
    exploit a parser difference (the classic way scanners are bypassed) or one parser has a
    bug. Either way the verdict cannot be trusted, so the file is blocked.
    """

    id: ClassVar[str] = "scan.pickle.parser-differential"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "Scanner bypasses (ZIP and opcode parser differentials) hide an import from one reader "
        "while the real unpickler still executes it."
    )


class NothingScanned(Rule):
    """A target (directory or S3 prefix) holds no file: nothing checked is never a pass."""

    id: ClassVar[str] = "scan.input.nothing-scanned"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Point the gate at the model files (check the path or the S3 prefix)."
    )
    why: ClassVar[str] = "A gate that checked nothing must not let the pipeline go on."


class UnreadableFile(Rule):
    """A file was listed but could not be read, so it was not checked."""

    id: ClassVar[str] = "scan.input.unreadable"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Fix the permissions or the path and run the gate again."
    why: ClassVar[str] = "A file the scanner cannot read may still be loaded by the pipeline."


#: Every rule, in catalogue order.
RULES: tuple[type[Rule], ...] = (
    DangerousGlobal,
    ComputedGlobal,
    ParserDifferential,
    GlobalMutation,
    UnknownGlobal,
    ComputedCall,
    ExtensionCode,
    PickleParseError,
    TrailingData,
    ResourceLimit,
    JoblibArray,
    EmptyFile,
    UnsupportedFormat,
    UnsupportedContainer,
    ZipUnreadable,
    ZipEncryptedMember,
    ZipMemberUnreadable,
    ZipUnsafePath,
    UnrecognisedMember,
    NumpyBadHeader,
    NumpySizeMismatch,
    SafetensorsBadHeader,
    InternalError,
    NothingScanned,
    UnreadableFile,
)
