# keygate: `make run` sets up and serves the demo; `make test` runs every test.
SHELL := /bin/bash
GOBIN ?= $(shell go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
KEYGATE_HOME ?= .keygate

BUF_VERSION := v1.47.2
PROTOC_GEN_GO_VERSION := v1.36.6
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
# The frozen Go Cryptographic Module the FIPS build links (v1.0.0: CMVP certificate #5247).
FIPS140 ?= v1.0.0

.PHONY: run test bench chaos deps deps-test tools proto lint fuzz race build build-fips fips-test

## run: install SoftHSM2 if missing, set up $(KEYGATE_HOME) once, serve the demo on 127.0.0.1:7443
run: deps build
	./bin/keygated demo --home $(KEYGATE_HOME)

build:
	go build -o bin/keygated ./cmd/keygated
	go build -o bin/keygate ./cmd/keygate

## build-fips: keygated and keygate linked with Go's frozen FIPS 140-3 module, FIPS 140-3 mode on by default
build-fips:
	GOFIPS140=$(FIPS140) go build -o bin/keygated ./cmd/keygated
	GOFIPS140=$(FIPS140) go build -o bin/keygate ./cmd/keygate

## test: install what the tests need (SoftHSM2, opencryptoki, PostgreSQL, openssl, Chromium, buf), then run every test
test: deps-test tools
	go vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	buf lint
	CGO_ENABLED=0 go build ./...    # the pkcs11 backend then says "built without PKCS#11 support"
	CGO_ENABLED=0 go test -count=1 ./backends/pkcs11/
	CGO_ENABLED=0 go test -count=1 ./client/pkcs11key/    # "built without PKCS#11 support" for a token client key
	$(MAKE) fuzz
	$(MAKE) race
	go test -count=1 -timeout 20m ./test/e2e ./test/load
	$(MAKE) fips-test
	go test -count=1 -v -timeout 20m ./test/faults    # the short fault suite; prints its table

## race: every package that is not end to end, under the race detector
race:
	go test -count=1 -race -timeout 20m $$(go list ./... | grep -v -e '/test/e2e$$' -e '/test/load$$' -e '/test/faults$$')

## fips-test: the threeds and server suites with the frozen FIPS 140-3 module (mode on), then under
## GODEBUG=fips140=only, where anything not FIPS 140-3 approved fails or panics (e2e TestFIPSBuild runs the FIPS binary)
fips-test:
	GOFIPS140=$(FIPS140) go test -count=1 ./threeds ./server ./internal/fips
	GODEBUG=fips140=only go test -count=1 ./threeds ./server ./internal/fips

## fuzz: a short run of each fuzzer, counted in executions so a loaded machine still does the work
## (the committed corpus runs in `go test` too)
fuzz:
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 20000x ./policy
	go test -run '^$$' -fuzz '^FuzzEvaluate$$' -fuzztime 20000x ./policy
	go test -run '^$$' -fuzz '^FuzzEvaluatePure$$' -fuzztime 20000x ./policy
	go test -run '^$$' -fuzz '^FuzzParsePeerKey$$' -fuzztime 5000x ./threeds
	go test -run '^$$' -fuzz '^FuzzDecryptCReq$$' -fuzztime 5000x ./threeds
	go test -run '^$$' -fuzz '^FuzzDecryptSdkEncData$$' -fuzztime 5000x ./threeds
	go test -run '^$$' -fuzz '^FuzzVerifyX5CJWS$$' -fuzztime 5000x ./threeds
	go test -run '^$$' -fuzz '^FuzzParseCiphertext$$' -fuzztime 5000x ./keys

## bench: the gateway's ratios to gRPC+mTLS and direct PKCS#11, interleaved, with audit storage per event (see docs/BENCHMARKS.md)
bench: deps-test tools
	go test -run '^$$' -bench 'Gateway|KMSQuota' -benchtime 1x -timeout 30m ./test/load | tee bench.out

## chaos: the long fault suite against the real keygated (test/faults -long), printing its table (docs/RELIABILITY.md);
## it mounts a small tmpfs for the disk-full case, so it runs as root, as CI does; it starts a PostgreSQL of its own
## to stop and restart, and builds keygated a second time with -tags keygate_testclock for the clock jumps
chaos: deps-test
	go test -count=1 -v -timeout 60m -run . ./test/faults -args -long | tee chaos.out

## proto: regenerate the Go code from proto/ (committed; the tests fail if it is stale)
proto: tools
	buf lint
	buf generate

deps:
	@command -v softhsm2-util >/dev/null || { apt-get update -q && apt-get install -y -q softhsm2; }

deps-test: deps
	@command -v openssl >/dev/null || { apt-get update -q && apt-get install -y -q openssl; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q postgresql; }
	@command -v systemd-analyze >/dev/null || { apt-get update -q && apt-get install -y -q systemd; }
	@command -v pkcsslotd >/dev/null || { apt-get update -q && apt-get install -y -q opencryptoki; }
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

tools:
	@test -x $(GOBIN)/buf && $(GOBIN)/buf --version | grep -qx '$(BUF_VERSION:v%=%)' || go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@$(GOBIN)/protoc-gen-go --version 2>/dev/null | grep -q ' $(PROTOC_GEN_GO_VERSION)$$' || go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@$(GOBIN)/protoc-gen-go-grpc --version 2>/dev/null | grep -q ' $(PROTOC_GEN_GO_GRPC_VERSION:v%=%)$$' || go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
