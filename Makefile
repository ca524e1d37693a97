# The two commands: `make run` (install, migrate, demo data, serve) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format ivs-sdk vendor-hls bench bench-phrases bench-stream bench-local sync clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

## Install, migrate, create a demo stream and codes on an empty database, and serve. With no
## DEEPGRAM_API_KEY and no CAPTIONS_ENGINE (environment or .env), captions come from the local
## Deepgram stand-in (python -m deepgram_standin, on STANDIN_PORT), stopped with the server.
## rundemo is runserver with the offline demo in it: a live stream made here (ffmpeg from
## imageio-ffmpeg), captioned from its own audio; it prints the demo's viewer code.
STANDIN_PORT ?= 8765
NEEDS_STANDIN := import os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livestream.settings"); \
	from django.conf import settings; \
	print(not settings.DEEPGRAM_API_KEY and not os.environ.get("CAPTIONS_ENGINE"))
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_stream
	@if [ "$$($(PY) -c '$(NEEDS_STANDIN)')" != True ]; then \
		exec $(PY) manage.py rundemo $(HOST):$(PORT); \
	fi; \
	echo "No DEEPGRAM_API_KEY: captions come from the local Deepgram stand-in on port" \
		"$(STANDIN_PORT). It recognises nothing: each pause in speech ends a caption with its next demo line."; \
	$(PY) -m deepgram_standin --port $(STANDIN_PORT) --key make-run >/dev/null & standin=$$!; \
	trap 'kill $$standin 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	DEEPGRAM_URL=ws://127.0.0.1:$(STANDIN_PORT)/v1/listen DEEPGRAM_API_KEY=make-run \
		$(PY) manage.py rundemo $(HOST):$(PORT)

## Install the test dependencies and the IVS SDK build, then run the whole suite.
test: $(VENV)/.installed-dev ivs-sdk
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Build the IVS Web Player SDK from npm into static/ivs/ (git-ignored: its license forbids
## committing it). Used when IVS_PLAYER_SCRIPT_URL=local, and by the browser tests.
ivs-sdk: static/ivs/amazon-ivs-player.js

static/ivs/amazon-ivs-player.js: tools/ivs-sdk/package.json tools/ivs-sdk/package-lock.json tools/ivs-sdk/entry.js
	cd tools/ivs-sdk && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/ivs
	tools/ivs-sdk/node_modules/.bin/esbuild tools/ivs-sdk/entry.js --bundle --minify \
		--format=iife --target=es2019 --log-level=warning --outfile=$@
	cp tools/ivs-sdk/node_modules/amazon-ivs-player/dist/assets/* static/ivs/

## Refresh the vendored hls.js (Apache-2.0) from npm.
HLS_VERSION := 1.7.4
vendor-hls:
	rm -rf build/hls && mkdir -p build/hls
	cd build/hls && npm pack --silent hls.js@$(HLS_VERSION) && tar xzf hls.js-$(HLS_VERSION).tgz
	cp build/hls/package/dist/hls.min.js build/hls/package/LICENSE static/vendor/hls.js/
	# The source map is not vendored; its comment would break collectstatic's manifest.
	sed -i '/^\/\/# sourceMappingURL=/d' static/vendor/hls.js/hls.min.js

$(VENV)/.installed-bench: requirements-bench.txt requirements-dev.txt requirements.txt $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements-bench.txt
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

## Start real Daphne processes, drive them from a separate process, write docs/benchmarks.md.
bench: $(VENV)/.installed-bench
	$(PY) -m bench

## Phrase end to caption at a viewer, with the Deepgram stand-in at Deepgram's timing:
## writes docs/phrase-latency.md (PostgreSQL as for `make bench`).
bench-phrases: $(VENV)/.installed-bench
	$(PY) -m bench.phrase_latency

## A word in a live HLS stream to its caption at a viewer, through the caption worker, with the
## local engine and the Deepgram stand-in at Deepgram's timing: writes docs/stream-latency.md
## (needs ffmpeg and espeak-ng; PostgreSQL and Redis as for `make bench`).
bench-stream: $(VENV)/.installed-bench
	$(PY) -m bench.stream_latency

## The local speech engine's word error rate, real-time factor and final delays on two espeak-ng
## clips and a recording of a person (bench/audio/): writes docs/local-engine.md (needs espeak-ng).
bench-local: $(VENV)/.installed-bench
	$(PY) -m bench.local_engine

## Captions against each viewer's picture: a live ffmpeg HLS stream with speech, the player page
## in Chromium with hls.js and with the IVS SDK; writes docs/sync.md (needs chromium, ffmpeg,
## espeak-ng, redis-server and the IVS SDK build).
sync: $(VENV)/.installed-dev ivs-sdk
	$(PY) -m bench.sync

clean:
	rm -rf $(VENV) build static/ivs staticfiles tools/ivs-sdk/node_modules
