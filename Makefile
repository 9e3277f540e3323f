# hostpush: build, run and test. `make help` lists the targets.
# Each target that needs Debian packages calls packaging/install-deps.sh first,
# which installs only what is missing and says what it installs.

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell cat VERSION)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_USER ?= $(shell id -un)
# The commit's time (as packaging/build-deb.sh and a plain go build take it), so that a build is reproducible.
BUILD_DATE ?= $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)} +%Y-%m-%dT%H:%M:%SZ)
# Both binaries' --version and <name>_build_info come from prometheus/common/version, as
# every Prometheus binary's do; node_exporter's version is read from the build information.
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

.PHONY: help deps build run test lint clean deb acceptance bench-agent bench-imageserver

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

deps: ## install the Debian packages tests need (idempotent)
	@packaging/install-deps.sh test

build: ## bin/hostpush (static, pure Go) and bin/imageserver (cgo, libvips)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/hostpush ./cmd/hostpush
	@{ command -v gcc >/dev/null && pkg-config --exists vips; } || packaging/install-deps.sh run
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/imageserver ./cmd/imageserver

run: build ## Pushgateway, Prometheus, imageserver and hostpush on loopback (cmd/devstack); Ctrl-C stops them
	@packaging/install-deps.sh run
	@# A built binary rather than go run, which exits 1 on Ctrl-C even when devstack stopped cleanly.
	$(GO) build -o bin/devstack ./cmd/devstack
	bin/devstack $(RUN_ARGS)

test: build ## unit, integration and fidelity tests (installs Debian packages when missing)
	@packaging/install-deps.sh test
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 14m ./...

deb: build ## dist/{hostpush,imageserver}_<version>_<arch>.deb via nfpm, then lintian, systemd-analyze verify and the exposure score
	@packaging/install-deps.sh acceptance
	packaging/build-deb.sh hostpush
	packaging/build-deb.sh imageserver

acceptance: deb ## both .debs under a real systemd (nspawn) on Debian 12 and 13, each against its own Pushgateway: install, upgrade (also from 0.1.0), purge
	@# Measured on 2 shared cores: warm 5-6.5 min; a first run also builds two debootstrap trees
	@# (1-2.5 min each) and the previous release's packages into /var/cache/hostpush-acceptance.
	$(GO) test -count=1 -timeout 40m -tags acceptance ./packaging/acceptance/ -v

.PHONY: ldflags
ldflags: ## print the binaries' linker flags (the acceptance test builds a newer package with them)
	@echo '$(LDFLAGS)'

bench-agent: build ## hostpush vs node_exporter + curl script at three host sizes (as it is, +500/2,500, +2,000/10,000 processes/threads), each with its own Pushgateway: CPU per cycle, peak RSS, collector floor (out/bench-agent.txt, ~5 min: 2 rounds x 3 sizes x 34 s, plus starting the load)
	@packaging/install-deps.sh bench
	$(GO) run ./cmd/agentbench --out=out/bench-agent.txt $(BENCH_ARGS)

.PHONY: bench-fleet
bench-fleet: build ## fleet simulation: N hosts push a real gather every 5 s to a real Pushgateway and to VictoriaMetrics (remote_write); latency, errors, receiver CPU and RSS (out/bench-fleet.txt, ~17 min)
	@packaging/install-deps.sh test
	@mkdir -p out
	$(GO) run ./cmd/fleetsim --hosts=10,100,500,1000 --hosts.pushgateway=10,20,30,40,50,70,100,500,1000 --duration=30s $(BENCH_ARGS) | tee out/bench-fleet.txt

IMAGE_SCENARIOS ?= seed,uncached,sustained,overload,avif-burst
bench-imageserver: build ## imageserver: pipeline step benchmarks, then 60 s vegeta load runs of five scenarios on a real 12 MP photo (out/bench-imageserver.txt, ~7 min)
	@mkdir -p out
	$(GO) test -run '^$$' -bench . -benchtime 20x ./imageserver/pipeline/ | tee out/bench-imageserver-pipeline.txt
	$(GO) run ./cmd/imagebench --scenarios=$(IMAGE_SCENARIOS) --server.bin=bin/imageserver --output.dir=out/bench-imageserver --out=out/bench-imageserver.txt $(BENCH_ARGS)

.PHONY: bench
bench: build ## the seed scenario (50 req/s, 60 s, seed URL) cached and uncached with cmd/imagebench; plots under out/bench/ (~2.5 min)
	$(GO) run ./cmd/imagebench --name=cached --output.dir=out/bench $(BENCH_ARGS)
	$(GO) run ./cmd/imagebench --name=uncached --cache-bust --output.dir=out/bench $(BENCH_ARGS)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

clean: ## remove build output
	rm -rf bin dist
