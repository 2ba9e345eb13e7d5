# CallTrack: `make run` starts it with config/calltrack.yaml, `make test` runs every test.
# Both install the Debian packages they need when missing (apt-get; root or sudo).

SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BUILD_PACKAGES := libre-dev librem-dev libsqlite3-dev libspandsp-dev libopus-dev libbcg729-dev libgsm1-dev libsoxr-dev libcurl4-openssl-dev
TEST_PACKAGES := sip-tester chromium chromium-driver kamailio iproute2 iptables sqlite3 python3-aiosmtpd \
  python3-prometheus-client systemd postgresql kamailio-postgres-modules haproxy
BENCH_PACKAGES := sip-tester procps wrk kamailio kamailio-extra-modules rtpengine-daemon gcc postgresql haproxy tcpdump
CONFIG ?= config/calltrack.yaml

.PHONY: all build run test chaos lint format bench bench-flood deps test-deps bench-deps clean install

all: build

define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_PACKAGES))

test-deps: deps
	$(call install_missing,$(TEST_PACKAGES))
	@# The OpenAPI document is checked with a real validator (PyPI's openapi-spec-validator), and real
	@# responses against its schemas with jsonschema.
	@python3 -c "import openapi_spec_validator, jsonschema, yaml" 2>/dev/null \
	  || python3 -m pip install -q openapi-spec-validator jsonschema pyyaml \
	  || python3 -m pip install -q --break-system-packages openapi-spec-validator jsonschema pyyaml
	@# Debian starts its own kamailio, PostgreSQL and HAProxy on install; the tests run their own on loopback.
	-@service kamailio stop >/dev/null 2>&1; service postgresql stop >/dev/null 2>&1; service haproxy stop >/dev/null 2>&1; true

bench-deps: deps
	$(call install_missing,$(BENCH_PACKAGES))

build: deps
	swift build

run: build
	@mkdir -p data recordings
	@if [ -z "$$CALLTRACK_ADMIN_TOKENS" ]; then \
	  export CALLTRACK_ADMIN_TOKENS=$$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'); \
	  echo "admin token for this run: $$CALLTRACK_ADMIN_TOKENS (set CALLTRACK_ADMIN_TOKENS to choose one);"; \
	  echo "sign in to the dashboard at http://127.0.0.1:8080/ with it"; \
	  exec .build/debug/calltrack serve --config $(CONFIG); \
	else exec .build/debug/calltrack serve --config $(CONFIG); fi

test: test-deps lint
	swift build --build-tests
	swift test --skip-build --no-parallel
	@# The fault suite, shortened: kill -9 (3 rounds), SIGTERM, a locked database, a full disk, a frozen
	@# callee, a lossy network, failing webhook receivers, each under load (chaos/chaos.py).
	python3 chaos/chaos.py --short --binary .build/debug/calltrack

# The whole fault suite (10 kill -9 rounds, a 10 s lock) on the release build: docs/reliability.md.
chaos: test-deps
	swift build -c release
	python3 chaos/chaos.py --binary .build/release/calltrack

# The style the code keeps (.swift-format: swift-format, which ships with the toolchain, 4 spaces,
# 120 columns). swift-format breaks every line it can; it cannot break a string literal, so the
# product's code is checked for the line length too (tests keep long literals: SIP messages, names).
lint:
	swift format lint --strict --recursive --parallel Sources Tests Package.swift
	@python3 -c 'import pathlib, sys; long = [f"{p}:{n}" for p in [pathlib.Path("Package.swift"), *pathlib.Path("Sources").rglob("*.swift")] for n, line in enumerate(p.read_text().splitlines(), 1) if len(line) > 120]; long and print("lines over 120 characters:", *long, sep="\n"); sys.exit(1 if long else 0)'

# Rewrites the code in that style.
format:
	swift format format --in-place --recursive --parallel Sources Tests Package.swift

bench: bench-deps
	swift build -c release
	python3 bench/callbench.py --binary .build/release/calltrack
	cd bench && python3 reservebench.py --binary ../.build/release/calltrack
	@# Debian starts its own rtpengine/kamailio on install: stop them, the benchmark runs its own on loopback.
	-service rtpengine-daemon stop >/dev/null 2>&1; service kamailio stop >/dev/null 2>&1; true
	cd bench && python3 recordbench.py --binary ../.build/release/calltrack
	python3 bench/floodbench.py --binary .build/release/calltrack
	cd bench && python3 reportbench.py --binary ../.build/release/calltrack
	cd bench && python3 deliverybench.py --binary ../.build/release/calltrack
	cd bench && python3 relaybench.py --binary ../.build/release/calltrack
	-service postgresql stop >/dev/null 2>&1; service haproxy stop >/dev/null 2>&1; true
	cd bench && python3 clusterbench.py --binary ../.build/release/calltrack

# 5,000 INVITEs/s from a stranger and 20,000 idle HTTP connections while a real call is made.
bench-flood: bench-deps
	swift build -c release
	python3 bench/floodbench.py --binary .build/release/calltrack

# The release binary, /etc/calltrack/{calltrack.yaml,calltrack.env} (kept if present) and the systemd
# unit (docs/deploy.md). PREFIX (/usr/local) and DESTDIR as usual; BINARY skips the build.
install:
	@if [ -z "$(BINARY)" ]; then $(MAKE) deps && swift build -c release --product calltrack; fi
	$(SUDO) env PREFIX=$(or $(PREFIX),/usr/local) DESTDIR=$(DESTDIR) deploy/install.sh $(or $(BINARY),.build/release/calltrack)

clean:
	rm -rf .build data/*.sqlite*
