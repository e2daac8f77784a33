#!/usr/bin/env python3
"""Exports a Kiln graph (the versioned JSON of `kiln trace MODEL -o graph.json`) and its weights
(safetensors) to an ONNX model, so that ONNX Runtime and OpenVINO run the very graph and weights
Kiln runs.

    export_onnx.py GRAPH.json WEIGHTS.safetensors OUT.onnx

Every Kiln primitive maps to standard ONNX ops (opset 17). Params become initializers under their
checkpoint names, inputs become graph inputs under their names and dtypes, outputs keep their
names. The weights are written next to the model as OUT.onnx.data (ONNX external data): a
DiT-XL/2 holds 2.7 GB of weights, beyond the 2 GB a single protobuf may hold.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import SafetensorsError, read_safetensors  # noqa: E402

OPSET = 17

ELEMENT_TYPES = {"f32": TensorProto.FLOAT, "f16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16, "i32": TensorProto.INT32}
NUMPY_TYPES = {"f32": np.float32, "f16": np.float16, "i32": np.int32}

UNARY = {
    "neg": ["Neg"], "exp": ["Exp"], "log": ["Log"], "sqrt": ["Sqrt"], "rsqrt": ["Sqrt", "Reciprocal"],
    "tanh": ["Tanh"], "erf": ["Erf"], "sigmoid": ["Sigmoid"], "sin": ["Sin"], "cos": ["Cos"],
    "reciprocal": ["Reciprocal"],
}
BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max", "min": "Min", "pow": "Pow"}


class ExportError(Exception):
    pass


class Exporter:
    """Builds the ONNX graph node by node; Kiln node `id` becomes the value named `value_names[id]`."""

    def __init__(self, graph, weights):
        self.graph = graph
        self.weights = weights
        self.nodes = []
        self.initializers = []
        self.inputs = []
        self.value_names = []
        self.declared_params = set()
        self.counter = 0

    def fresh(self, hint):
        # The "/kiln/" prefix keeps generated names apart from checkpoint, input and output names.
        self.counter += 1
        return f"/kiln/{hint}_{self.counter}"

    def constant(self, array, hint):
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def int64s(self, values, hint):
        return self.constant(np.asarray(values, dtype=np.int64), hint)

    def emit(self, op_type, inputs, hint, **attributes):
        output = self.fresh(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attributes))
        return output

    def export(self):
        seen_inputs = {}
        for node in self.graph["nodes"]:
            try:
                name = self.lower(node, seen_inputs)
            except ExportError as error:
                raise ExportError(f"node {node['id']} ({node['op']}, scope '{node['scope']}'): {error}") from None
            self.value_names.append(name)
        outputs = []
        inputs = {value.name for value in self.inputs} | self.declared_params
        for output in self.graph["outputs"]:
            if output["name"] in inputs:
                raise ExportError(f"output '{output['name']}' has the name of an input or param: "
                                  "ONNX needs every value name to be distinct")
            node = self.graph["nodes"][output["node"]]
            self.nodes.append(helper.make_node("Identity", [self.value_names[output["node"]]], [output["name"]]))
            outputs.append(helper.make_tensor_value_info(output["name"], element_type(node), node["shape"]))
        onnx_graph = helper.make_graph(self.nodes, "kiln", self.inputs, outputs, self.initializers)
        model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="kiln")
        model.ir_version = 8
        return model

    def lower(self, node, seen_inputs):
        op, shape, operands = node["op"], node["shape"], [self.value_names[i] for i in node["operands"]]
        rank = len(shape)
        if op == "input":
            name = node["name"]
            if name not in seen_inputs:
                seen_inputs[name] = True
                self.inputs.append(helper.make_tensor_value_info(name, element_type(node), shape))
            return name
        if op == "param":
            return self.param(node)
        if op == "constant":
            return self.constant_leaf(node)
        if op in UNARY:
            value = operands[0]
            for op_type in UNARY[op]:
                value = self.emit(op_type, [value], op)
            return value
        if op in BINARY:
            return self.emit(BINARY[op], operands, op)
        if op.startswith("reduce_"):
            axis = self.axis(node["axis"], len(self.operand_shape(node, 0)))
            if op == "reduce_sum":
                return self.emit("ReduceSum", [operands[0], self.int64s([axis], "axes")], op, keepdims=1)
            op_type = {"reduce_max": "ReduceMax", "reduce_mean": "ReduceMean"}.get(op)
            if op_type is None:
                raise ExportError(f"unknown reduction '{op}'")
            return self.emit(op_type, operands, op, axes=[axis], keepdims=1)
        if op == "matmul":
            return self.emit("MatMul", operands, op)
        if op == "reshape":
            return self.emit("Reshape", [operands[0], self.int64s(node["target"], "shape")], op)
        if op == "permute":
            return self.emit("Transpose", operands, op, perm=node["order"])
        if op == "slice":
            axis = self.axis(node["axis"], rank)
            return self.emit("Slice", [operands[0], self.int64s([node["start"]], "starts"),
                                       self.int64s([node["end"]], "ends"), self.int64s([axis], "axes")], op)
        if op == "concat":
            return self.emit("Concat", operands, op, axis=self.axis(node["axis"], rank))
        if op == "expand":
            return self.emit("Expand", [operands[0], self.int64s(node["target"], "shape")], op)
        if op == "conv2d":
            weight_shape = self.operand_shape(node, 1)
            padding = node["padding"]
            return self.emit("Conv", operands, op, kernel_shape=weight_shape[2:], strides=node["stride"],
                             pads=[padding[0], padding[1], padding[0], padding[1]], group=node["groups"],
                             dilations=[1, 1])
        if op == "upsample_nearest":
            return self.upsample_nearest(node, operands[0])
        if op == "gather":
            return self.emit("Gather", operands, op, axis=0)
        raise ExportError(f"the op '{op}' has no ONNX form in this exporter")

    def operand_shape(self, node, index):
        return self.graph["nodes"][node["operands"][index]]["shape"]

    @staticmethod
    def axis(axis, rank):
        resolved = axis + rank if axis < 0 else axis
        if not 0 <= resolved < rank:
            raise ExportError(f"axis {axis} is out of range for rank {rank}")
        return resolved

    def param(self, node):
        name = node["name"]
        if name in self.declared_params:
            return name
        if name not in self.weights:
            raise ExportError(f"the weights have no tensor '{name}', a param of the graph")
        array = self.weights[name]
        if list(array.shape) != list(node["shape"]):
            raise ExportError(f"weight '{name}' has shape {list(array.shape)}, the graph needs {node['shape']}")
        dtype = numpy_type(node)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), name))
        self.declared_params.add(name)
        return name

    def constant_leaf(self, node):
        shape, value = node["shape"], node["value"]
        dtype = numpy_type(node)
        count = int(np.prod(shape, dtype=np.int64))
        if "splat" in value:
            # One element broadcast by Expand keeps large splats out of the file.
            small = np.full([1] * len(shape), value["splat"], dtype=dtype)
            name = self.constant(small, "splat")
            if count == 1:
                return name
            return self.emit("Expand", [name, self.int64s(shape, "shape")], "splat")
        if "arange" in value:
            start, step = value["arange"]["start"], value["arange"]["step"]
            array = (start + step * np.arange(count, dtype=np.float64)).astype(dtype).reshape(shape)
            return self.constant(array, "arange")
        if "dense" in value:
            values = value["dense"]
            if len(values) != count:
                raise ExportError(f"dense constant has {len(values)} values for shape {shape}")
            return self.constant(np.asarray(values, dtype=np.float64).astype(dtype).reshape(shape), "dense")
        raise ExportError(f"constant value {sorted(value)} is none of splat, arange, dense")

    def upsample_nearest(self, node, value):
        scale, shape = node["scale"], self.operand_shape(node, 0)
        if len(shape) == 4:
            # asymmetric + floor maps output pixel i to input pixel floor(i / scale): exact replication.
            scales = self.constant(np.asarray([1, 1, scale, scale], dtype=np.float32), "scales")
            return self.emit("Resize", [value, "", scales], "upsample", mode="nearest",
                             coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        # Other ranks: [..., H, W] → [..., H, 1, W, 1] → expand the ones to `scale` → [..., H·s, W·s].
        lead, (height, width) = shape[:-2], shape[-2:]
        spread = self.emit("Reshape", [value, self.int64s(lead + [height, 1, width, 1], "shape")], "upsample")
        grown = self.emit("Expand", [spread, self.int64s(lead + [height, scale, width, scale], "shape")], "upsample")
        return self.emit("Reshape", [grown, self.int64s(node["shape"], "shape")], "upsample")


def element_type(node):
    dtype = node["dtype"]
    if dtype not in ELEMENT_TYPES:
        raise ExportError(f"dtype '{dtype}' has no ONNX element type in this exporter")
    return ELEMENT_TYPES[dtype]


def numpy_type(node):
    dtype = node["dtype"]
    if dtype not in NUMPY_TYPES:
        raise ExportError(f"dtype '{dtype}' of node {node['id']} cannot be written as an initializer by this exporter")
    return NUMPY_TYPES[dtype]


def read_graph(path):
    try:
        with open(path) as file:
            graph = json.load(file)
    except OSError as error:
        raise ExportError(f"{path}: cannot read the file: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ExportError(f"{path}: not valid JSON: {error}") from None
    if graph.get("kiln-graph") != 1:
        raise ExportError(f"{path}: 'kiln-graph' is {graph.get('kiln-graph')!r}, this exporter reads version 1")
    return graph


def export(graph_path, weights_path, out_path):
    graph = read_graph(graph_path)
    weights = read_safetensors(weights_path)
    model = Exporter(graph, weights).export()
    data_name = os.path.basename(out_path) + ".data"
    data_path = os.path.join(os.path.dirname(os.path.abspath(out_path)), data_name)
    if os.path.exists(data_path):
        os.remove(data_path)  # external data is appended to, never truncated, by onnx.save_model
    onnx.save_model(model, out_path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data_name, size_threshold=1024)
    onnx.checker.check_model(out_path)
    return model


def main():
    parser = argparse.ArgumentParser(description="Export a Kiln graph and its weights to ONNX.")
    parser.add_argument("graph", help="graph JSON written by `kiln trace MODEL -o graph.json`")
    parser.add_argument("weights", help="safetensors file holding every param of the graph by name")
    parser.add_argument("output", help="the ONNX model to write (weights go to OUTPUT.data beside it)")
    arguments = parser.parse_args()
    try:
        model = export(arguments.graph, arguments.weights, arguments.output)
    except (ExportError, SafetensorsError) as error:
        print(f"export_onnx: {error}", file=sys.stderr)
        return 1
    print(f"{arguments.output}: {len(model.graph.node)} ONNX nodes, {len(model.graph.initializer)} initializers, opset {OPSET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
