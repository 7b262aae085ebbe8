# tarweb: `make run` builds, packs testdata/ and serves it; `make test` is what CI runs.
CARGO ?= cargo
RELEASE := target/release
SITE := target/testdata.twb
LISTEN ?= [::]:8080
TLS_LISTEN ?= [::]:8443
DEV_CERT := target/dev-cert.pem
DEV_KEY := target/dev-key.pem
# `make fuzz`: each target of FUZZ_TARGETS for FUZZ_SECONDS (CI: 15).
# The PROXY protocol target (`proxy`) joins the list when it lands.
FUZZ_TARGETS ?= reader request range path encoding proxy headers redirects hpack
FUZZ_SECONDS ?= 60

.PHONY: build run test lint bench bench-pack bench-serve bench-tls bench-threshold test-ktls test-ktls-probe fuzz clean

build:
	$(CARGO) build --release --workspace

# Packs every time: make cannot list testdata/ as prerequisites (a file name
# there has a space), and packing it takes seconds.
# HTTPS on 8443 with a self-signed certificate for localhost, made once
# (`curl --cacert target/dev-cert.pem https://localhost:8443/`).
run: build $(DEV_CERT)
	$(RELEASE)/tarweb-pack testdata -o $(SITE)
	$(RELEASE)/tarweb-serve $(SITE) --listen '$(LISTEN)' --tls-listen '$(TLS_LISTEN)' \
		--tls-cert $(DEV_CERT) --tls-key $(DEV_KEY)

$(DEV_CERT):
	mkdir -p target
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1 \
		-addext basicConstraints=critical,CA:FALSE -keyout $(DEV_KEY) -out $(DEV_CERT)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS='-D warnings' $(CARGO) doc -p tarweb-format --no-deps -q

test: lint
	bash tools/test-deps.sh
	$(CARGO) test --workspace
	$(CARGO) build --workspace
	bash tests/e2e.sh

bench: bench-pack bench-serve bench-tls

bench-pack:
	bash bench/pack.sh

bench-serve:
	bash bench/serve.sh

bench-tls:
	bash bench/tls.sh

# Not part of `make bench`: the sweep behind --sendfile-threshold's default.
bench-threshold:
	bash bench/serve.sh threshold

# Boots Debian's bookworm kernel (6.1: no rekey) and the newest one (rekey)
# under QEMU and runs the static tarweb-serve with --ktls=require in them,
# driven by the static serve-check client (ktls-vm/README.md). In CI.
test-ktls:
	KTLS_PROGRAM=serve KTLS_SUITES="bookworm sid" bash ktls-vm/run.sh

# The raw kTLS probe (no server) on 6.1, 6.12 and the newest kernel.
test-ktls-probe:
	bash ktls-vm/run.sh

# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP lets the stable
# toolchain take the sanitizer flags cargo-fuzz passes. Each target starts
# from its committed seeds (fuzz/corpus/TARGET, read only) and keeps what it
# finds in target/fuzz-corpus/TARGET; its log is target/fuzz-logs/TARGET.log
# and its last line ("Done N runs in S second(s)") is printed. A crash stops
# `make fuzz` with the log's tail; the input is in fuzz/artifacts/TARGET/.
# The reader also gets a blob packed now from a tiny site (a page, a
# stylesheet, redirects, a 404), so that it starts from a valid blob of
# today's format even if the committed seeds fall behind it.
FUZZ_FLAGS_reader := -max_len=65536
FUZZ_FLAGS_request := -max_len=40000
FUZZ_DIRS_reader := ../target/fuzz-seed/reader

define fuzz-one
	mkdir -p target/fuzz-corpus/$(1) target/fuzz-logs
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $(1) ../target/fuzz-corpus/$(1) corpus/$(1) $(FUZZ_DIRS_$(1)) \
		-- -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS_$(1)) >../target/fuzz-logs/$(1).log 2>&1 \
		|| { tail -n 40 ../target/fuzz-logs/$(1).log; exit 1; }
	@printf '%-10s %s\n' $(1) "$$(grep '^Done' target/fuzz-logs/$(1).log)"

endef

fuzz:
	rm -rf target/fuzz-seed && mkdir -p target/fuzz-seed/site target/fuzz-seed/reader
	cp testdata/index.html testdata/404.html testdata/_redirects target/fuzz-seed/site/
	head -c 600 testdata/css/site.css > target/fuzz-seed/site/site.css
	$(CARGO) run -q -p tarweb-pack -- target/fuzz-seed/site -q -o target/fuzz-seed/reader/seed.twb
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz-one,$(t)))

clean:
	$(CARGO) clean
