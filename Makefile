# The two commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
# The Swift toolchain may live outside PATH (as in /opt/swift on the reference machine).
export PATH := $(PATH):/opt/swift/usr/bin

SWIFT ?= swift
KILN := .build/release/kiln
DEMO_DIR := out/demo
PEERS_VENV := .peers-venv
PYTHON ?= python3
# Enough DDIM steps to be a real denoising loop on DiT-XL/2 at 256×256, batch 2 with guidance.
DEMO_STEPS ?= 25

.PHONY: demo test deps build clean peers

deps:
	@scripts/install-deps

build: deps
	$(SWIFT) build -c release --product kiln

## Kiln's main job on the embedded default: trace DiT-XL/2 at 256×256, show what it costs, then
## generate one image end to end (25 DDIM steps, classifier-free guidance, VAE decode → PNG).
demo: build
	@mkdir -p $(DEMO_DIR)
	$(KILN) trace dit-xl-2 -o $(DEMO_DIR)/dit-xl-2.json
	$(KILN) show $(DEMO_DIR)/dit-xl-2.json
	@echo "The graph is in $(DEMO_DIR)/dit-xl-2.json; \`$(KILN) models\` lists every model."
	$(KILN) generate dit-xl-2 --class 207 --steps $(DEMO_STEPS) --cfg 4.0 --seed 0 --sampler ddim -o $(DEMO_DIR)/dit-xl-2-class207.png
	@echo "The image is $(DEMO_DIR)/dit-xl-2-class207.png (seeded weights: \`kiln generate --weights DIR\` takes a diffusers DiT pipeline folder)."

test: deps
	$(SWIFT) test

clean:
	rm -rf .build out

## Optional: ONNX Runtime and OpenVINO, run on Kiln's own graph and weights (bench/peers/).
peers:
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet -r bench/peers/requirements.txt
	$(PEERS_VENV)/bin/python -c "import numpy, onnx, onnxruntime, openvino; print('peers ready: numpy', numpy.__version__, '· onnx', onnx.__version__, '· onnxruntime', onnxruntime.__version__, '· openvino', openvino.__version__)"
