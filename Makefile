# engaged — the two commands: `make run` and `make test`.
SHELL   := /bin/bash
GO      ?= go
DATA    ?= ./data
BIN     := bin/engaged
BENCH   := bin/engaged-bench
# What `engaged version` and engaged_build_info report: the tag when HEAD has
# one, else the commit. Stamped with -X because machines here build with
# GOFLAGS=-buildvcs=false, which leaves the toolchain's own stamp empty.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X main.stampVersion=$(VERSION) -X main.stampRevision=$(REVISION)

.PHONY: run build server test lint bench chaos pg pg-stop clean

## build: compile bin/engaged (the server) and bin/engaged-bench (the load tool)
build: server
	$(GO) build -o $(BENCH) ./cmd/engaged-bench

## server: compile bin/engaged alone (what `make run` needs)
server:
	@echo "building $(BIN) $(VERSION) (the first build compiles every dependency: about a minute)"
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/engaged

## run: build the server, make sure Postgres is there (ENGAGED_DATABASE_URL, or a private
## cluster under $(DATA)/pg), and serve with embedded NATS (JetStream in $(DATA)/jetstream).
## No load-balancer drain on a laptop: Ctrl-C stops at once (ENGAGED_DRAIN_DELAY=0 unless set).
run: server
	@if [ -z "$$ENGAGED_DATABASE_URL" ]; then scripts/pg.sh start $(DATA); fi
	ENGAGED_DATA_DIR=$(DATA) ENGAGED_DRAIN_DELAY=$${ENGAGED_DRAIN_DELAY:-0} ./$(BIN) serve

## test: the whole suite against real JetStream and a throwaway Postgres, with the race detector,
## then the Go client's module (client/, which ./... does not enter); a line per package, failed
## tests' output, then the totals and every skipped test with its reason
test:
	@set -o pipefail; { $(GO) test -race -count=1 -json ./...; (cd client && $(GO) test -race -count=1 -json ./...); } | $(GO) run ./scripts/testsum

## bench: a fresh engaged on a temp dir: the key-space sweep, zipf, cold, the naive Postgres
## baseline and memory-full, then each target met or not (~5 min; knobs in scripts/bench.sh)
bench: build
	scripts/bench.sh

## chaos: a long fault run outside `make test`: three nats-server nodes (R3 stream), three engaged
## instances and Postgres under load; 50 kill -9s of instances over at least 100k events, stream
## leader stepdowns, NATS node restarts; then a reconciliation table, non-zero exit if not exact
## (~5 min; ENGAGED_CHAOS_KILLS and ENGAGED_CHAOS_EVENTS size it)
chaos:
	ENGAGED_CHAOS=1 $(GO) test -race -count=1 -v -run '^TestChaos$$' -timeout 30m ./cmd/engaged

## lint: go vet and a gofmt check
lint:
	$(GO) vet ./...
	cd client && $(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## pg / pg-stop: start or stop the private Postgres without the service
pg:
	scripts/pg.sh start $(DATA)
pg-stop:
	scripts/pg.sh stop $(DATA)

## clean: stop the private Postgres and delete bin/ and $(DATA): ALL DATA (the database,
## the JetStream log, the pixel key). Asks first when run from a terminal.
clean:
	@echo "make clean deletes bin/ and $(DATA)/: every project, key, event and snapshot, and the pixel key"
	@if [ -t 0 ]; then read -r -p "delete them? [y/N] " a; case "$$a" in y|Y|yes) ;; *) echo "nothing deleted"; exit 1;; esac; fi
	@if [ -d "$(DATA)/pg" ]; then scripts/pg.sh stop $(DATA); fi
	rm -rf bin $(DATA)
