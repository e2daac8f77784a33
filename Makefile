# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
# The Swift toolchain may live outside PATH (as in /opt/swift on the reference machine).
export PATH := $(PATH):/opt/swift/usr/bin

SWIFT ?= swift
KILN := .build/release/kiln
DEMO_DIR := out/demo
PEERS_VENV := .peers-venv
PYTHON ?= python3

.PHONY: demo test deps build clean peers

deps:
	@scripts/install-deps

build: deps
	$(SWIFT) build -c release --product kiln

## Kiln's main job on the embedded default: trace DiT-XL/2 at 256×256 and show what it costs.
demo: build
	@mkdir -p $(DEMO_DIR)
	$(KILN) trace dit-xl-2 -o $(DEMO_DIR)/dit-xl-2.json
	$(KILN) show $(DEMO_DIR)/dit-xl-2.json
	@echo "The graph is in $(DEMO_DIR)/dit-xl-2.json; \`$(KILN) models\` lists every model."

test: deps
	$(SWIFT) test

clean:
	rm -rf .build out

## Optional: ONNX Runtime and OpenVINO, run on Kiln's own graph and weights (bench/peers/).
peers:
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet -r bench/peers/requirements.txt
	$(PEERS_VENV)/bin/python -c "import numpy, onnx, onnxruntime, openvino; print('peers ready: numpy', numpy.__version__, '· onnx', onnx.__version__, '· onnxruntime', onnxruntime.__version__, '· openvino', openvino.__version__)"
