# PolicyFindsPeople (pfp). `make run` and `make test` work on a fresh machine
# with only the Swift toolchain: they install libsqlite3-dev when it is missing.
SWIFT      ?= swift
RELEASE    := .build/release/pfp
SAMPLE_SEED := 20261123
SAMPLE_DATE := 2026-11-23
SAMPLE_HOUSEHOLDS := 300

.PHONY: all deps test-tools build run test sample bench bench-shards test-spark report-check verify-units fuzz format clean help

all: build

help:
	@echo "make run     build (release) and run the nightly job on SampleData/ (both days)"
	@echo "make test    build and run every test"
	@echo "make sample  regenerate SampleData/ ($(SAMPLE_HOUSEHOLDS) households, two consecutive days)"
	@echo "make bench   benchmark the pipeline on generated deliveries (see docs/PERFORMANCE.md)"
	@echo "make verify-units  check deploy/systemd's units with systemd-analyze verify (nothing is started)"
	@echo "make test-spark    the Spark driver (deploy/spark) for real in Spark local mode; installs pyspark and Java 17"
	@echo "make bench-shards  10,000,000 households as 1, 4 and 16 shards: cut, runs, merge (docs/SCALE.md)"
	@echo "make report-check  render a published report.html with headless Chromium"
	@echo "make fuzz    the mutation tests for ten minutes"
	@echo "make format  lay out Sources/ and Tests/ with the toolchain's swift-format (.swift-format: 120 columns)"
	@echo "make clean   remove build products and local outputs"

# The system SQLite headers (the CSQLite module needs sqlite3.h and pkg-config's sqlite3.pc),
# and the zone files the configuration's timezone is read from (tzdata).
deps:
	@if [ ! -f /usr/include/sqlite3.h ] || ! pkg-config --exists sqlite3 2>/dev/null; then \
	  echo "installing libsqlite3-dev and pkg-config (needs root or sudo)"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq libsqlite3-dev pkg-config >/dev/null; \
	fi
	@if [ ! -f /usr/share/zoneinfo/Asia/Shanghai ]; then \
	  echo "installing tzdata (needs root or sudo)"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq tzdata >/dev/null; \
	fi

# What the operations tests drive (issue 23): tmux (a real terminal for the progress
# line), faketime (a clock at 01:30 Shanghai time), systemd-analyze (the units), and
# prometheus_client's parser of the metrics file (PyPI). make test sets
# PFP_REQUIRE_TOOLS=1, so a test whose tool is missing fails instead of skipping.
test-tools:
	@missing=""; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	command -v faketime >/dev/null || missing="$$missing faketime"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (needs root or sudo)"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@python3 -c "import prometheus_client" 2>/dev/null || { echo "installing prometheus_client (PyPI)"; \
	  python3 -m pip install --quiet --disable-pip-version-check prometheus_client 2>&1 | grep -v "^WARNING: Running pip as" || true; }
	@command -v kubernetes-validate >/dev/null || { echo "installing kubernetes-validate and PyYAML (PyPI)"; \
	  python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate 2>&1 | grep -v "^WARNING: Running pip as" || true; }

build: deps
	$(SWIFT) build -c release --product pfp

run: build
	@rm -rf out/published out/pfp.sqlite*
	$(RELEASE) run --run-date 2026-11-23
	$(RELEASE) run --run-date 2026-11-24
	@echo
	@echo "published runs:"; ls -1d out/published/*/
	@$(RELEASE) runs

test: deps test-tools
	$(SWIFT) build --build-tests
	PFP_REQUIRE_TOOLS=1 $(SWIFT) test --skip-build
	.build/debug/pfp test-rules

# The Spark driver of deploy/spark for real, in Spark local mode (issue 22): pyspark
# from PyPI, Java 17 from Debian (openjdk-17-jre-headless) when there is no java.
test-spark: build
	@command -v java >/dev/null || { echo "installing openjdk-17-jre-headless (needs root or sudo)"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@command -v spark-submit >/dev/null || { echo "installing pyspark (PyPI)"; \
	  python3 -m pip install --quiet --disable-pip-version-check pyspark 2>&1 | grep -v "^WARNING: Running pip as" || true; }
	PFP=$(CURDIR)/$(RELEASE) deploy/spark/test_local.sh

# 10,000,000 households cut into 1, 4 and 16 shards, each shard run and the merge,
# against the whole delivery in one run (docs/SCALE.md). Needs ~40 GB of disk.
bench-shards: build
	./scripts/bench-shards.sh

verify-units: build
	deploy/systemd/verify.sh --binary $(RELEASE)

sample: build
	rm -rf SampleData/inbox-*
	$(RELEASE) sample --households $(SAMPLE_HOUSEHOLDS) --seed $(SAMPLE_SEED) --run-date $(SAMPLE_DATE) --days 2 --out SampleData

bench: build
	./scripts/bench.sh

# The mutation tests of make test, for ten minutes (set PFP_FUZZ_SECONDS, PFP_FUZZ_SEED to change).
fuzz: deps
	$(SWIFT) build --build-tests
	PFP_FUZZ_SECONDS=$${PFP_FUZZ_SECONDS:-600} $(SWIFT) test --skip-build --filter MutationTests

# Renders the latest sample report with headless Chromium (apt-get install chromium fonts-wqy-microhei).
report-check:
	@test -f out/published/2026-11-24/report.html || $(MAKE) run
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1800 \
	  --screenshot=out/report.png file://$(CURDIR)/out/published/2026-11-24/report.html
	@echo "screenshot: out/report.png"

# The toolchain's own formatter; .swift-format sets 120 columns, 4 spaces, layout only (no rule rewrites code).
format:
	swift-format format --configuration .swift-format --in-place --recursive Sources Tests

clean:
	rm -rf .build out bench-data
