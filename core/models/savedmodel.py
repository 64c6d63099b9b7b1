"""A TensorFlow SavedModel from outside: checked without running it, then turned into TFLite.

Loading a SavedModel runs its graph (its init op at load, its serving function when called), so
a graph may read or write files, run programs or call the network. ``check`` reads
``saved_model.pb`` as a protocol buffer, walks what the serving signature and the init op can
reach, and refuses file, I/O and system operators (``HOSTILE_OPS``); the saver's own
checkpoint functions, which the signature never calls, are not reached. ``to_tflite`` then
converts the signature to TFLite's builtin operators only: the studio stores and runs that
(``core.models.tflite``), never the SavedModel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.io.quiet import stderr_closed
from core.models.model_file import ModelFile, ModelFileError

if TYPE_CHECKING:
    from tensorflow.core.protobuf.meta_graph_pb2 import MetaGraphDef

HOSTILE_OPS = frozenset(
    {
        # files
        "ReadFile", "WriteFile", "MatchingFiles", "DeleteFile", "ImmutableConst",
        "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice",
        "MergeV2Checkpoints", "LoadAndRemapMatrix", "GenerateVocabRemapping",
        "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
        "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
        "TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2", "IdentityReader", "IdentityReaderV2", "LMDBReader",
        "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset",
        "SqlDataset", "ExperimentalSqlDataset", "LMDBDataset", "ExperimentalLMDBDataset",
        "SnapshotDataset", "SnapshotDatasetV2", "SaveDataset", "SaveDatasetV2", "LoadDataset",
        "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "CacheDataset", "CacheDatasetV2",
        # logs and summaries (they write files)
        "PrintV2", "Print", "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary",
        "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
        "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary", "FlushSummaryWriter",
        "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3",
        # the system, Python and the network
        "PyFunc", "PyFuncStateless", "EagerPyFunc", "Abort", "FileSystemSetConfiguration",
        "Rpc", "TryRpc", "RpcCall", "RpcClient", "RpcServer", "RpcServerStart",
        "RpcServerRegister", "DecodeProtoV2", "EncodeProto",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Signature:
    key: str
    input_shape: tuple[int | None, ...]
    output_shape: tuple[int | None, ...]
    input_float: bool


def _parse(path: Path):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelFileError(f"{path.name}: saved_model.pb is damaged ({exc})") from None
    serving = [m for m in proto.meta_graphs if "serve" in m.meta_info_def.tags]
    if not serving:
        raise ModelFileError(f"{path.name} has no graph tagged 'serve' to run")
    return serving[0]


def _shape(info) -> tuple[int | None, ...]:
    if info.tensor_shape.unknown_rank:
        return ()
    return tuple(None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)


def _signature(meta, name: str) -> tuple[str, object]:
    keys = [k for k in meta.signature_def if not k.startswith("__")]
    if not keys:
        raise ModelFileError(f"{name} has no serving signature")
    key = "serving_default" if "serving_default" in keys else keys[0]
    return key, meta.signature_def[key]


def _functions_of(node) -> list[str]:
    names = []
    for attr in node.attr.values():
        if attr.func.name:
            names.append(attr.func.name)
        names += [f.name for f in attr.list.func]
    return names


def reachable_ops(
    meta: MetaGraphDef, starts: list[str], functions: list[str] | None = None
) -> set[str]:
    """Operators the graph runs to compute the nodes ``starts`` and to call ``functions``
    (their inputs, the functions they call, and those functions' own calls)."""
    nodes = {n.name: n for n in meta.graph_def.node}
    library = {f.signature.name: f for f in meta.graph_def.library.function}
    ops: set[str] = set()
    seen_nodes: set[str] = set()
    todo = [s.split(":")[0].lstrip("^") for s in starts]
    functions = list(functions or [])
    while todo:
        name = todo.pop()
        if name in seen_nodes or name not in nodes:
            continue
        seen_nodes.add(name)
        node = nodes[name]
        ops.add(node.op)
        functions += _functions_of(node)
        todo += [i.split(":")[0].lstrip("^") for i in node.input]
    seen_functions: set[str] = set()
    while functions:
        fname = functions.pop()
        if fname in seen_functions or fname not in library:
            continue
        seen_functions.add(fname)
        for node in library[fname].node_def:
            ops.add(node.op)
            functions += _functions_of(node)
    return ops


def _load_time_functions(meta) -> list[str]:
    """Functions the loader itself may call: objects' own save and restore functions."""
    nodes = meta.object_graph_def.nodes
    names: list[str] = []
    for node in nodes:
        for saveable in node.saveable_objects.values():
            for index in (saveable.save_function, saveable.restore_function):
                if 0 < index < len(nodes):  # node ids; 0 is the root object, never a function
                    target = nodes[index]
                    names += list(target.function.concrete_functions)
                    names.append(target.bare_concrete_function.concrete_function_name)
    return [n for n in names if n]


def check(found: ModelFile) -> Signature:
    """Refuse a SavedModel whose serving path or init op uses ``HOSTILE_OPS``; its signature."""
    meta = _parse(found.path)
    key, sig = _signature(meta, found.path.name)
    starts = [t.name for t in sig.outputs.values()]
    init = meta.signature_def.get("__saved_model_init_op")
    if init is not None:
        starts += [t.name for t in init.outputs.values()]
    for collection in ("saved_model_main_op", "legacy_init_op"):
        if collection in meta.collection_def:
            starts += list(meta.collection_def[collection].node_list.value)
    hostile = sorted(reachable_ops(meta, starts, _load_time_functions(meta)) & HOSTILE_OPS)
    if hostile:
        raise ModelFileError(
            f"{found.path.name} runs file or system operations when loaded or called "
            f"({', '.join(hostile)}); refused"
        )
    if len(sig.inputs) != 1 or len(sig.outputs) != 1:
        raise ModelFileError(
            f"{found.path.name}: its signature '{key}' takes {len(sig.inputs)} inputs and gives "
            f"{len(sig.outputs)} outputs; the studio needs one image in, 10 class scores out"
        )
    (inp,), (out,) = sig.inputs.values(), sig.outputs.values()
    from tensorflow.core.framework import types_pb2

    return Signature(key, _shape(inp), _shape(out), inp.dtype == types_pb2.DT_FLOAT)


def to_tflite(found: ModelFile, signature: Signature) -> bytes:
    """The checked SavedModel's signature as a TFLite flatbuffer (builtin operators only)."""
    import tensorflow as tf

    try:
        with stderr_closed():
            converter = tf.lite.TFLiteConverter.from_saved_model(
                str(found.path), signature_keys=[signature.key], tags={"serve"}
            )
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            return converter.convert()
    except Exception as exc:  # the converter raises many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(
            f"{found.path.name} cannot be converted to TFLite's builtin operators: {first[:300]}"
        ) from None
