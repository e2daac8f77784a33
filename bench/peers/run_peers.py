#!/usr/bin/env python3
"""Times an exported Kiln model (export_onnx.py) in ONNX Runtime and OpenVINO on the CPU, with the
thread count Kiln runs with, and checks their outputs against Kiln's.

One-shot: loads each peer, checks parity, warms up, repeats, and prints one JSON object per peer:

    run_peers.py MODEL.onnx --inputs in.safetensors --reference out.safetensors \
        --threads 2 --warmup 1 --repetitions 5 --peers onnxruntime,openvino

Persistent (--persistent), so a bench can alternate Kiln and a peer run by run: loads and checks
each peer, prints its JSON object (without samples), then reads one JSON command per line on
standard input and answers each with one JSON line on standard output:

    {"run": "onnxruntime", "repetitions": 1}  →  {"peer": "onnxruntime", "samples_ms": [...]}
    {"quit": true} or end of input            →  exits

A command that fails is answered {"error": "..."} and the loop goes on. A peer whose outputs differ
from the reference by more than PARITY_TOLERANCE (relative error ‖peer − ref‖₂ / ‖ref‖₂ over every
output) is reported with "parity": {"passed": false, ...} and "timings_trusted": false.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import SafetensorsError, read_safetensors  # noqa: E402

PARITY_TOLERANCE = 1e-4
PEERS = ("onnxruntime", "openvino")


class PeerError(Exception):
    pass


class OnnxRuntimePeer:
    name = "onnxruntime"

    def __init__(self, model_path, threads):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        self.version = onnxruntime.__version__
        self.output_names = [output.name for output in self.session.get_outputs()]
        self.input_names = [value.name for value in self.session.get_inputs()]

    def settings(self):
        applied = self.session.get_session_options()
        return {
            "providers": ",".join(self.session.get_providers()),
            "intra_op_num_threads": str(applied.intra_op_num_threads),
            "inter_op_num_threads": str(applied.inter_op_num_threads),
            "execution_mode": str(applied.execution_mode).split(".")[-1],
            "graph_optimization_level": str(applied.graph_optimization_level).split(".")[-1],
        }

    def run(self, feeds):
        values = self.session.run(self.output_names, {name: feeds[name] for name in self.input_names})
        return dict(zip(self.output_names, values))


class OpenVINOPeer:
    name = "openvino"

    def __init__(self, model_path, threads, output_names):
        import openvino

        core = openvino.Core()
        self.compiled = core.compile_model(core.read_model(model_path), "CPU", {
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            # On CPUs with AVX512-BF16 OpenVINO otherwise runs in bf16: not an fp32 comparison.
            "INFERENCE_PRECISION_HINT": "f32",
        })
        self.request = self.compiled.create_infer_request()
        self.version = openvino.get_version()
        # A tensor can carry several names once OpenVINO fuses nodes: keep the one the model declared.
        self.output_names = [next((name for name in output_names if name in output.get_names()), output.get_any_name())
                             for output in self.compiled.outputs]
        self.input_names = [value.get_any_name() for value in self.compiled.inputs]
        precision = self.precision()
        if precision != "f32":
            raise PeerError(f"openvino compiled the model in {precision}, not f32: the comparison would not be fp32")

    def precision(self):
        element_type = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        return element_type.get_type_name() if hasattr(element_type, "get_type_name") else str(element_type)

    def settings(self):
        def read(key):
            return str(self.compiled.get_property(key)).split(".")[-1]

        return {
            "device": "CPU",
            "INFERENCE_NUM_THREADS": read("INFERENCE_NUM_THREADS"),
            "NUM_STREAMS": read("NUM_STREAMS"),
            "PERFORMANCE_HINT": read("PERFORMANCE_HINT"),
            "INFERENCE_PRECISION_HINT": self.precision(),
        }

    def run(self, feeds):
        results = self.request.infer({name: feeds[name] for name in self.input_names})
        return {name: np.asarray(results[index]) for index, name in enumerate(self.output_names)}


def make_peer(name, model_path, threads, output_names):
    if name == "onnxruntime":
        return OnnxRuntimePeer(model_path, threads)
    if name == "openvino":
        return OpenVINOPeer(model_path, threads, output_names)
    raise PeerError(f"unknown peer '{name}': the peers are {', '.join(PEERS)}")


def parity(outputs, reference):
    """‖out − ref‖₂ / ‖ref‖₂ over every output together, and per output."""
    if reference is None:
        return None
    missing = sorted(set(reference) - set(outputs))
    if missing:
        raise PeerError(f"the model has no output {', '.join(missing)}, which the reference file holds")
    difference, norm, per_output = 0.0, 0.0, {}
    for name, expected in reference.items():
        actual = np.asarray(outputs[name], dtype=np.float64)
        expected = np.asarray(expected, dtype=np.float64)
        if actual.shape != expected.shape:
            raise PeerError(f"output '{name}' has shape {list(actual.shape)}, the reference {list(expected.shape)}")
        d, n = float(np.sum((actual - expected) ** 2)), float(np.sum(expected ** 2))
        per_output[name] = (d / n) ** 0.5 if n > 0 else d ** 0.5
        difference, norm = difference + d, norm + n
    error = (difference / norm) ** 0.5 if norm > 0 else difference ** 0.5
    return {"relative_error": error, "per_output": per_output, "tolerance": PARITY_TOLERANCE,
            "passed": bool(error <= PARITY_TOLERANCE)}


def time_runs(peer, feeds, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        peer.run(feeds)
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def load_peer(name, arguments, feeds, reference):
    """The peer built and checked, and its report (samples not yet taken). Settings are strings,
    read back from the session or compiled model: what was applied, not what was asked for."""
    start = time.perf_counter()
    peer = make_peer(name, arguments.model, arguments.threads, arguments.output_names)
    load_ms = (time.perf_counter() - start) * 1e3
    checked = parity(peer.run(feeds), reference)
    report = {"name": name, "version": peer.version, "settings": peer.settings(), "load_ms": load_ms,
              "parity": checked, "timings_trusted": checked is not None and checked["passed"]}
    if checked is None:
        report["note"] = "no reference outputs given: parity unchecked, timings not comparable with Kiln's"
    elif not checked["passed"]:
        report["note"] = (f"outputs differ from the reference by {checked['relative_error']:.3e} "
                          f"(> {PARITY_TOLERANCE:g}): the export is wrong, do not trust these timings")
    print(f"{name} {peer.version}: {json.dumps(report['settings'])}", file=sys.stderr)
    return peer, report


def read_feeds(path, input_names):
    tensors = read_safetensors(path)
    return {name: np.ascontiguousarray(tensors[name]) for name in input_names if name in tensors}


def one_shot(arguments, feeds, reference):
    status = 0
    for name in arguments.peers:
        try:
            peer, report = load_peer(name, arguments, feeds, reference)
            time_runs(peer, feeds, arguments.warmup)
            report["warmup"] = arguments.warmup
            report["samples_ms"] = time_runs(peer, feeds, arguments.repetitions)
            report["median_ms"] = float(np.median(report["samples_ms"]))
            del peer
        except Exception as error:  # a peer that cannot load is reported, the others still run
            report, status = {"name": name, "error": f"{type(error).__name__}: {error}"}, 1
        print(json.dumps(report), flush=True)
    return status


def persistent(arguments, feeds, reference):
    peers = {}
    for name in arguments.peers:
        try:
            peer, report = load_peer(name, arguments, feeds, reference)
            time_runs(peer, feeds, arguments.warmup)
            report["warmup"] = arguments.warmup
            peers[name] = peer
        except Exception as error:
            report = {"name": name, "error": f"{type(error).__name__}: {error}"}
        print(json.dumps(report), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            if command.get("quit"):
                break
            name = command.get("run")
            if name not in peers:
                raise PeerError(f"no loaded peer named {name!r}; loaded: {', '.join(peers) or 'none'}")
            repetitions = int(command.get("repetitions", 1))
            if repetitions < 1:
                raise PeerError(f"repetitions must be at least 1, got {repetitions}")
            answer = {"peer": name, "samples_ms": time_runs(peers[name], feeds, repetitions)}
        except Exception as error:
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description="Time an exported Kiln model in ONNX Runtime and OpenVINO.")
    parser.add_argument("model", help="ONNX model written by export_onnx.py")
    parser.add_argument("--inputs", required=True, help="safetensors file with the model's inputs by name")
    parser.add_argument("--reference", help="safetensors file with Kiln's outputs (kiln run --outputs)")
    parser.add_argument("--threads", type=int, required=True, help="the thread count Kiln runs with")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs after the parity run")
    parser.add_argument("--repetitions", type=int, default=5, help="timed runs (one-shot mode)")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma-separated: onnxruntime, openvino")
    parser.add_argument("--persistent", action="store_true", help="answer JSON commands on standard input")
    arguments = parser.parse_args()
    arguments.peers = [name for name in arguments.peers.split(",") if name]
    for name in arguments.peers:
        if name not in PEERS:
            parser.error(f"unknown peer '{name}': the peers are {', '.join(PEERS)}")
    if arguments.threads < 1 or arguments.warmup < 0 or arguments.repetitions < 1:
        parser.error("--threads and --repetitions must be at least 1, --warmup at least 0")
    try:
        import onnx

        declared = onnx.load(arguments.model, load_external_data=False).graph
        input_names = [value.name for value in declared.input]
        arguments.output_names = [value.name for value in declared.output]
        feeds = read_feeds(arguments.inputs, input_names)
        missing = [name for name in input_names if name not in feeds]
        if missing:
            raise PeerError(f"{arguments.inputs} has no tensor {', '.join(missing)}, an input of the model")
        reference = read_safetensors(arguments.reference) if arguments.reference else None
    except (SafetensorsError, PeerError, OSError) as error:
        print(f"run_peers: {error}", file=sys.stderr)
        return 1
    return persistent(arguments, feeds, reference) if arguments.persistent else one_shot(arguments, feeds, reference)


if __name__ == "__main__":
    sys.exit(main())
