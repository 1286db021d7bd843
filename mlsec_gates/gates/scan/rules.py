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
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "Extension codes hide which global is imported from scanners; no ML serialiser writes them."
    )


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


class NotScannableEntry(Rule):
    """An entry under a scanned folder is not a regular file, so it was not scanned.

    A symbolic link to a folder (not followed: it may point anywhere), a dangling link, a
    link loop, a FIFO, a socket or a device. What the pipeline would read through it is
    unknown, so the entry is held, never skipped.
    """

    id: ClassVar[str] = "scan.input.not-scannable"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Replace the link by the files themselves, or scan the folder it points to; remove "
        "FIFOs, sockets and devices from model folders."
    )
    why: ClassVar[str] = (
        "A scan that skips what it cannot read is incomplete: a malicious pickle behind a "
        "linked folder would otherwise pass."
    )


class FormatNotAllowed(Rule):
    """The file's format is not in the policy's ``gates.scan.formats`` list.

    The project accepts only some formats (for example only safetensors in production);
    a file in any other format is held for review even when the scan found no code in it.
    """

    id: ClassVar[str] = "scan.input.format-not-allowed"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Re-export the model in an accepted format (see `gates.scan.formats` in the policy), "
        "or add this format to that list if the project accepts it."
    )
    why: ClassVar[str] = (
        "Formats that can carry code (pickle, joblib, legacy PyTorch) are a risk on their own: "
        "a scanner may miss tomorrow's gadget, a data-only format cannot run one."
    )


# --------------------------------------------------------------------------- archives
_ARCHIVE_LOADERS = (
    "Loaders and pipelines unpack archives (NeMo tars, 7z-recompressed checkpoints, gzip "
    "wrappers) before loading what is inside."
)


class ArchiveUnreadable(Rule):
    """A tar or 7z archive (or one of its streams) cannot be read completely.

    What could be decoded was scanned; the rest was not. A 7z whose stream breaks after a
    payload is the ReversingLabs "nullifAI" bypass: the loader still runs the payload.
    """

    id: ClassVar[str] = "scan.archive.unreadable"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "Broken archives make scanners give up while extractors still produce the payload. "
        + _ARCHIVE_LOADERS
    )


class ArchiveEncrypted(Rule):
    """A 7z archive (or its header) is password-protected: its members cannot be scanned."""

    id: ClassVar[str] = "scan.archive.encrypted"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Ask for the artefact without encryption, then re-scan."
    why: ClassVar[str] = "Encrypted content hides a payload from every scanner."


class ArchiveUnsafeMember(Rule):
    """A tar or 7z member escapes the extraction directory or is not a regular file.

    Absolute or ``..`` names, symbolic and hard links, device and FIFO entries.
    """

    id: ClassVar[str] = "scan.archive.unsafe-member"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Do not extract this archive; rebuild it with relative paths and regular files only."
    )
    why: ClassVar[str] = (
        "Extracting such members overwrites or exposes files outside the target directory "
        "(tar slip, link following)."
    )


class DecompressionBomb(Rule):
    """Decompression stopped: expansion ratio or total decompressed size above the limit.

    Controlled by ``gates.scan.max_ratio`` and ``gates.scan.max_expanded_bytes``.
    """

    id: ClassVar[str] = "scan.archive.decompression-bomb"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Review the artefact by hand; if it is legitimate, raise gates.scan.max_ratio or "
        "gates.scan.max_expanded_bytes in the policy."
    )
    why: ClassVar[str] = (
        "Decompression bombs exhaust scanners' memory, disk or time so that the gate gives "
        "up; the rest of the content was not checked."
    )


# --------------------------------------------------------------------------- safetensors
class SafetensorsBadLayout(Rule):
    """Safetensors tensors overlap, leave gaps, fall out of bounds or mismatch dtype x shape."""

    id: ClassVar[str] = "scan.safetensors.bad-layout"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "The reference loader rejects such files; bytes not covered by a tensor can carry a "
        "second format (polyglot) that another loader reads."
    )


class SafetensorsAppendedData(Rule):
    """Bytes follow the last safetensors tensor (appended data / polyglot file)."""

    id: ClassVar[str] = "scan.safetensors.appended-data"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Re-export the tensors with the safetensors library; check how the extra bytes got there."
    )
    why: ClassVar[str] = (
        "Appended data is how safetensors/pickle or safetensors/zip polyglots hide a payload "
        "that a loader guessing the format by other means executes."
    )


# --------------------------------------------------------------------------- keras / hdf5
_KERAS_DONT_LOAD = (
    "Do not load this model. Re-export it from a trusted environment without Lambda layers "
    "or custom code, and load with keras>=3.13.2 and safe_mode=True (the default)."
)


class KerasLambda(Rule):
    """A Keras ``Lambda`` layer carries Python code (marshalled bytecode or source).

    Loading runs it: always for legacy ``.h5`` files (CVE-2024-3660, CVE-2025-9905), and
    for ``.keras`` archives whenever ``safe_mode`` is off or bypassed.
    """

    id: ClassVar[str] = "scan.keras.lambda"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = _KERAS_DONT_LOAD
    why: ClassVar[str] = (
        "Lambda layers store arbitrary Python functions; deserialising them executes "
        "attacker code at load time."
    )


class KerasUnsafeReference(Rule):
    """A Keras config names a function or class that imports code or disables safe_mode.

    Non-Keras modules such as ``os``/``subprocess``/``builtins`` (CVE-2025-1550),
    ``keras.utils.get_file`` or nested ``load_model`` (CVE-2025-8747),
    ``enable_unsafe_deserialization`` / ``set_global_attribute`` (CVE-2025-9906),
    ``TFSMLayer`` (loads an external SavedModel) and TensorFlow file/Python ops.
    """

    id: ClassVar[str] = "scan.keras.unsafe-reference"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = _KERAS_DONT_LOAD
    why: ClassVar[str] = (
        "Keras resolves module/class names from config.json and calls them with "
        "attacker-chosen arguments; these names reach code execution, file access or "
        "switch safe_mode off."
    )


class KerasCustomObject(Rule):
    """A Keras config refers to a class or function outside Keras (custom object)."""

    id: ClassVar[str] = "scan.keras.custom-object"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Check the producer and the named module; custom objects run code from that module "
        "when the model is loaded with it installed. Re-export without custom objects if "
        "possible."
    )
    why: ClassVar[str] = (
        "Custom objects import and run code outside Keras at load time; the scanner cannot "
        "see that code."
    )


class KerasBadConfig(Rule):
    """A Keras model config (``config.json`` or the ``model_config`` attribute) is unreadable."""

    id: ClassVar[str] = "scan.keras.bad-config"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = "A config the scanner cannot read may still be read by Keras."


class Hdf5Unreadable(Rule):
    """An HDF5 file (legacy Keras ``.h5``, ``model.weights.h5``) cannot be opened or walked."""

    id: ClassVar[str] = "scan.hdf5.unreadable"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = "An HDF5 file the scanner cannot read may still be read by a loader."


class Hdf5ReaderFailed(Rule):
    """The isolated HDF5 reader crashed (signal), timed out or answered garbage.

    libhdf5 is native code; crafted bytes can make it segfault or loop. It runs in a child
    process, so such a file costs the scan one quarantine, not the whole run.
    """

    id: ClassVar[str] = "scan.hdf5.reader-failed"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "Bytes that crash or hang the HDF5 library are crafted; the scanner saw nothing of "
        "the file, and a loader built on another HDF5 version may still read it."
    )


class Hdf5ExternalReference(Rule):
    """An HDF5 object points outside the file (external link or external dataset storage)."""

    id: ClassVar[str] = "scan.hdf5.external-reference"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Re-export the file with all data stored inside it."
    why: ClassVar[str] = (
        "External links and storage make the loader read other files on the host (file "
        "disclosure) and content the scanner never saw."
    )


# --------------------------------------------------------------------------- onnx
class OnnxUnreadable(Rule):
    """A file that looks like ONNX does not parse as an ONNX ``ModelProto``."""

    id: ClassVar[str] = "scan.onnx.unreadable"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = "A model the scanner cannot parse may still be parsed by a runtime."


class OnnxExternalDataTraversal(Rule):
    """An ONNX tensor's ``external_data`` location leaves the model directory.

    Absolute paths, ``..`` components, drive letters, UNC or URL-like locations
    (CVE-2022-25882, CVE-2024-27318, CVE-2025-51480).
    """

    id: ClassVar[str] = "scan.onnx.external-data-traversal"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = (
        "Do not load this model; external data must be relative paths inside the model directory."
    )
    why: ClassVar[str] = (
        "Loading reads (or saving writes) an arbitrary file of the host: secrets leak into "
        "tensors or files are overwritten."
    )


class OnnxCustomDomain(Rule):
    """An ONNX node uses an operator domain outside the standard and ONNX Runtime sets."""

    id: ClassVar[str] = "scan.onnx.custom-domain"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Check which custom-op library the model needs and whether it is trusted; custom "
        "operators run native or Python code registered by the loader."
    )
    why: ClassVar[str] = (
        "Custom operators execute code outside the ONNX specification (shared libraries, "
        "onnxruntime-extensions Python ops)."
    )


class OnnxExternalData(Rule):
    """An ONNX model keeps tensors in external files, which must be scanned and shipped too."""

    id: ClassVar[str] = "scan.onnx.external-data"
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = "Scan the referenced files together with the model."
    why: ClassVar[str] = "Tensor data outside the model file is not covered by this file's scan."


class OnnxExternalDataShort(Rule):
    """An ONNX model's external data file is shorter than the tensors it should hold."""

    id: ClassVar[str] = "scan.onnx.external-data-short"
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Re-export the model with its external data (onnx.save_model(..., "
        "save_as_external_data=True)) and ship the model and its data files together."
    )
    why: ClassVar[str] = (
        "A truncated or replaced side file makes the model read bytes that are not its weights."
    )


class NativeModelMalformed(Rule):
    """A file that starts like an XGBoost UBJSON or CatBoost ``.cbm`` model is malformed."""

    id: ClassVar[str] = "scan.native.malformed"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Re-export the model with the library's save_model."
    why: ClassVar[str] = (
        "These formats hold only trees and parameters; a file that claims one but does not "
        "parse is not what it says it is."
    )


# --------------------------------------------------------------------------- torchscript
_TORCHSCRIPT_WHY = (
    "torch.jit.load compiles and runs the archive's code/ with TorchScript; its pickles "
    "cannot import Python, but its operators can touch files, call remote hosts or run "
    "native code from custom libraries."
)


class TorchScriptSideEffect(Rule):
    """TorchScript code calls an operation with effects outside the model.

    ``torch.from_file``, RPC (``rpc_sync``/``rpc_async``/``remote``), loading code or
    libraries, or Python constructs TorchScript cannot compile (imports, ``exec``, ``open``).
    """

    id: ClassVar[str] = "scan.torchscript.side-effect"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = _TORCHSCRIPT_WHY


class TorchScriptCustomOp(Rule):
    """TorchScript code uses a custom operator namespace or custom class (native code)."""

    id: ClassVar[str] = "scan.torchscript.custom-op"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Check which library provides the operator and that it is trusted; to accept it, "
        "add `torch.ops.<namespace>.*` to `gates.scan.allow_globals` with a reason."
    )
    why: ClassVar[str] = _TORCHSCRIPT_WHY


class TorchScriptUnparseable(Rule):
    """A ``code/`` file of a TorchScript archive is not parseable source."""

    id: ClassVar[str] = "scan.torchscript.unparseable"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Re-export the model with torch.jit.save from a trusted source."
    why: ClassVar[str] = _TORCHSCRIPT_WHY


# --------------------------------------------------------------------------- gguf / templates
class GgufMalformed(Rule):
    """A GGUF header, metadata table or tensor table is malformed or out of bounds."""

    id: ClassVar[str] = "scan.gguf.malformed"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "Malformed GGUF metadata has triggered memory-safety bugs in llama.cpp-based "
        "loaders; a file the scanner cannot parse was not checked."
    )


_TEMPLATE_FIX = (
    "Do not serve this model with its bundled chat template. Replace the template with the "
    "upstream one, and render templates only in jinja2's ImmutableSandboxedEnvironment."
)


class ChatTemplateInjection(Rule):
    """A Jinja chat template reaches Python internals (sandbox escape / SSTI).

    Dunder or private attribute access (``__class__``, ``__globals__``, ``__subclasses__``,
    ``_TemplateReference__context``...), also when the name is built from strings.
    CVE-2024-34359 (llama-cpp-python) ran such templates from GGUF metadata.
    """

    id: ClassVar[str] = "scan.template.sandbox-escape"
    severity: ClassVar[Severity] = Severity.CRITICAL
    remediation: ClassVar[str] = _TEMPLATE_FIX
    why: ClassVar[str] = (
        "Chat templates are rendered on every request; a template that walks Python object "
        "internals executes commands in the serving process when the renderer is not "
        "sandboxed (or the sandbox has a bug)."
    )


class ChatTemplateSuspicious(Rule):
    """A Jinja chat template uses constructs no chat template needs.

    ``include``/``import``/``extends`` (reads other files), attribute names computed at
    render time (``|attr(var)``), ``format_map``, calls to ``eval``/``exec``/``getattr``/
    ``__import__``/``open``.
    """

    id: ClassVar[str] = "scan.template.suspicious"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = _TEMPLATE_FIX
    why: ClassVar[str] = (
        "These constructs are the building blocks of sandbox escapes and file reads; "
        "legitimate chat templates only format messages."
    )


class ChatTemplateUnparseable(Rule):
    """A chat template does not parse as Jinja, so it could not be checked on its syntax tree."""

    id: ClassVar[str] = "scan.template.unparseable"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = "Review the template by hand or replace it with the upstream one."
    why: ClassVar[str] = (
        "A template the scanner cannot parse may still be rendered by a more lenient engine."
    )


class ScannerDeactivation(Rule):
    """A pickle imports from a security-scanner package (fickling, picklescan, modelscan...).

    Loading such a global can patch or disable the scanner's hooks in the loading process.
    """

    id: ClassVar[str] = "scan.pickle.scanner-deactivation"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "Model files have no reason to touch scanners; payloads switch runtime protections "
        "off (fickling's ScannerDeactivation analysis) before running."
    )


class MethodOverride(Rule):
    """setattr / BUILD replaces a method or special attribute of an object (Sleepy Pickle).

    Examples: ``setattr(model, 'forward', f)``, a BUILD state dict with ``forward``,
    ``__call__``, ``__reduce__``, ``__setstate__``, ``__getattr__``, ``__dict__`` or
    ``__class__``. The payload hooks inference or later pickling without running anything
    visible at load time.
    """

    id: ClassVar[str] = "scan.pickle.method-override"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "Sleepy-Pickle payloads hook forward/eval to tamper with outputs or steal inputs while "
        "the model still loads and works normally."
    )


class MethodBinding(Rule):
    """``types.MethodType`` binds a function to an object as a method."""

    id: ClassVar[str] = "scan.pickle.method-binding"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "Binding a foreign function as a method is how injected code replaces model "
        "behaviour; serialisers never need it."
    )


class DiscardedCall(Rule):
    """POP / POP_MARK drops the result of a call on a non-allowlisted callable.

    The call only ran for its side effects: the shape of an injected payload (fickling's
    ``insert_python_eval``), invisible to scanners that only read the resulting object.
    """

    id: ClassVar[str] = "scan.pickle.discarded-call"
    severity: ClassVar[Severity] = Severity.HIGH
    why: ClassVar[str] = (
        "Injected payloads run a call and throw its result away so the loaded object looks "
        "normal (GHSA-mxhj-88fx-4pcv)."
    )


class CodeObject(Rule):
    """A pickle builds a code or function object from bytecode.

    ``types.CodeType``, ``marshal.loads``, dill ``_create_code``/``_create_function``,
    cloudpickle ``_make_function``/``_builtin_type``: arbitrary code in the file.
    """

    id: ClassVar[str] = "scan.pickle.code-object"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = "Serialised bytecode runs whatever it contains when called."


class NestedPayload(Rule):
    """Bytes in the pickle flow into a loader (``pickle.loads``, ``torch.load``...).

    The nested payload is rebuilt (decoding chains replayed) and scanned as its own member;
    when it cannot be rebuilt statically the file is blocked.
    """

    id: ClassVar[str] = "scan.pickle.nested-load"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "A pickle inside a pickle hides its imports from scanners that only list the outer "
        "stream (dill / torch nested-deserialisation bypasses)."
    )


class FrameDivergence(Rule):
    """An opcode crosses the end of its FRAME, or a FRAME overruns the data.

    CPython's Python and C unpicklers disagree on such streams; scanners that follow one
    reading miss opcodes the other executes.
    """

    id: ClassVar[str] = "scan.pickle.frame-divergence"
    severity: ClassVar[Severity] = Severity.CRITICAL
    why: ClassVar[str] = (
        "Framing divergence hid opcodes from fickling (cpython issue 154848); pickle writers "
        "never produce it."
    )


class ArgumentShape(Rule):
    """An allowlisted callable is called with arguments its serialiser never writes.

    e.g. ``_rebuild_tensor_v2`` whose storage is not a persistent id, ``OrderedDict`` called
    with a function: an allowlisted name used as a gadget.
    """

    id: ClassVar[str] = "scan.pickle.argument-shape"
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Check how the artefact was produced; re-export it with the standard serialiser "
        "(torch.save / numpy) or as safetensors."
    )
    why: ClassVar[str] = (
        "Name allowlists are bypassed by feeding allowlisted callables unusual arguments; "
        "checking the argument shape closes that gap."
    )


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
    NotScannableEntry,
    ArchiveUnreadable,
    ArchiveEncrypted,
    ArchiveUnsafeMember,
    DecompressionBomb,
    SafetensorsBadLayout,
    SafetensorsAppendedData,
    KerasLambda,
    KerasUnsafeReference,
    KerasCustomObject,
    KerasBadConfig,
    Hdf5Unreadable,
    Hdf5ReaderFailed,
    Hdf5ExternalReference,
    OnnxUnreadable,
    OnnxExternalDataTraversal,
    OnnxCustomDomain,
    OnnxExternalData,
    OnnxExternalDataShort,
    NativeModelMalformed,
    TorchScriptSideEffect,
    TorchScriptCustomOp,
    TorchScriptUnparseable,
    GgufMalformed,
    ChatTemplateInjection,
    ChatTemplateSuspicious,
    ChatTemplateUnparseable,
    ScannerDeactivation,
    MethodOverride,
    MethodBinding,
    DiscardedCall,
    CodeObject,
    NestedPayload,
    FrameDivergence,
    ArgumentShape,
    FormatNotAllowed,
)
