"""Fuse the int8 MatMuls that read one quantised input into a single wider one (same output).

After dynamic quantisation each attention layer quantises its input once and multiplies it
by three int8 weights (query, key, value), each as MatMulInteger → Cast → Mul (scale) → Add
(bias). One MatMulInteger over the three weights side by side, then a Split, gives the same
numbers: the products are exact integers, and each output column keeps its own weight scale,
zero point and bias. onnxruntime runs the one wider product ~5 % faster per query than three
narrow ones (BENCHMARKS.md, "Eighth round"). The export checks the fused graph against the
unfused one on a padded batch and keeps the unfused graph if they differ at all.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Branch:
    """One MatMulInteger → Cast → Mul → Add chain and the tensors it is made of."""

    matmul: Any
    cast: Any
    mul: Any
    add: Any
    scales: Any  # Mul(input scale, weight scale) feeding ``mul``
    weight: np.ndarray  # int8, [K, N]
    weight_zero: np.ndarray  # [N]
    weight_scale: np.ndarray  # [N]
    bias: np.ndarray  # [N]
    input_scale: str  # the dynamic input scale's tensor name


def _constants(graph: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _branch(
    matmul: Any, consumers: dict[str, list[Any]], producers: dict[str, Any], values: Any
) -> _Branch | None:
    """The chain after ``matmul``, if it has the expected shape and constant operands."""

    def only(name: str, op_type: str) -> Any:
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    if len(matmul.input) != 4 or matmul.input[1] not in values or matmul.input[3] not in values:
        return None
    cast = only(matmul.output[0], "Cast")
    mul = cast and only(cast.output[0], "Mul")
    add = mul and only(mul.output[0], "Add")
    if not (cast and mul and add):
        return None
    other = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
    scales = producers.get(other)
    if scales is None or scales.op_type != "Mul" or len(consumers.get(other, [])) != 1:
        return None
    weight_scale_name = next((n for n in scales.input if n in values), None)
    input_scale = next((n for n in scales.input if n not in values), None)
    bias_name = next((n for n in add.input if n in values), None)
    if weight_scale_name is None or input_scale is None or bias_name is None:
        return None
    weight = values[matmul.input[1]]
    columns = weight.shape[-1] if weight.ndim == 2 else -1
    weight_zero = np.atleast_1d(values[matmul.input[3]])
    weight_scale = np.atleast_1d(values[weight_scale_name])
    bias = np.atleast_1d(values[bias_name])
    if columns < 1 or not all(a.shape == (columns,) for a in (weight_zero, weight_scale, bias)):
        return None  # per-tensor weights or an unexpected layout: leave it alone
    return _Branch(
        matmul, cast, mul, add, scales, weight, weight_zero, weight_scale, bias, input_scale
    )


def fuse_shared_input_matmuls(model: Any) -> int:
    """Fuse, in ``model`` (an ``onnx.ModelProto``, changed in place), every group of int8
    MatMul chains that share a quantised input and its scale; the number of groups fused."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    values = _constants(graph)
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    groups: dict[tuple[str, str], list[_Branch]] = defaultdict(list)
    for node in graph.node:
        if node.op_type == "MatMulInteger":
            branch = _branch(node, consumers, producers, values)
            if branch is not None:
                groups[(node.input[0], node.input[2])].append(branch)
    fused = 0
    for (source, source_zero), branches in groups.items():
        if len(branches) < 2 or len({b.input_scale for b in branches}) != 1:
            continue
        if len({(b.weight.shape[0], b.weight.dtype) for b in branches}) != 1:
            continue
        base = f"{branches[0].matmul.name}_fused{fused}"
        tensors = {
            "weight": np.concatenate([b.weight for b in branches], axis=1),
            "zero": np.concatenate([b.weight_zero for b in branches]),
            "scale": np.concatenate([b.weight_scale for b in branches]),
            "bias": np.concatenate([b.bias for b in branches]),
            "split": np.array([b.weight.shape[1] for b in branches], dtype=np.int64),
        }
        for key, value in tensors.items():
            graph.initializer.append(numpy_helper.from_array(value, f"{base}_{key}"))
        new_nodes = [
            helper.make_node("Mul", [branches[0].input_scale, f"{base}_scale"], [f"{base}_scales"]),
            helper.make_node(
                "MatMulInteger",
                [source, f"{base}_weight", source_zero, f"{base}_zero"],
                [f"{base}_int32"],
            ),
            helper.make_node(
                "Cast", [f"{base}_int32"], [f"{base}_float"], to=onnx.TensorProto.FLOAT
            ),
            helper.make_node("Mul", [f"{base}_float", f"{base}_scales"], [f"{base}_scaled"]),
            helper.make_node("Add", [f"{base}_scaled", f"{base}_bias"], [f"{base}_biased"]),
            helper.make_node(
                "Split",
                [f"{base}_biased", f"{base}_split"],
                [b.add.output[0] for b in branches],
                axis=-1,
            ),
        ]
        for number, node in enumerate(new_nodes):
            node.name = f"{base}_{number}"
        for branch in branches:
            for node in (branch.matmul, branch.cast, branch.mul, branch.add, branch.scales):
                graph.node.remove(node)
        graph.node.extend(new_nodes)
        fused += 1
    if fused:
        _sort_topologically(graph)
        _drop_unused_initializers(graph)
    return fused


def _sort_topologically(graph: Any) -> None:
    ready = {t.name for t in graph.input} | {t.name for t in graph.initializer} | {""}
    ordered: list[Any] = []
    pending = list(graph.node)
    while pending:
        waiting = []
        for node in pending:
            if all(name in ready for name in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            raise ValueError("the fused graph has a cycle or a missing input")
        pending = waiting
    del graph.node[:]
    graph.node.extend(ordered)


def _drop_unused_initializers(graph: Any) -> None:
    used = {name for node in graph.node for name in node.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
