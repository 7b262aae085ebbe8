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
FUZZ_TARGETS ?= reader request range path encoding proxy headers redirects matcher hpack
FUZZ_SECONDS ?= 60

.PHONY: build install deb test-packaging run test lint bench bench-pack bench-serve bench-tls bench-threshold test-ktls test-ktls-probe fuzz clean

build:
	$(CARGO) build --release --workspace

# `make install [PREFIX=/usr/local] [DESTDIR=]`: both binaries into
# PREFIX/bin; their man pages into PREFIX/share/man/man1 and bash, zsh and
# fish completions into PREFIX/share/{bash-completion/completions,
# zsh/site-functions,fish/vendor_completions.d}, written by the binaries
# themselves from their clap definitions (`--generate-to`), so they list
# exactly the flags of this build. PROFILE=dev installs the debug build
# (what the tests use: no second, release, build).
PREFIX ?= /usr/local
DESTDIR ?=
PROFILE ?= release
OUT := target/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE))
GEN := $(OUT)/generated

install:
	$(CARGO) build --profile $(PROFILE) -p tarweb-pack -p tarweb-serve --bins
	rm -rf $(GEN)
	$(OUT)/tarweb-serve --generate-to $(GEN)
	$(OUT)/tarweb-pack --generate-to $(GEN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(OUT)/tarweb-serve $(OUT)/tarweb-pack $(DESTDIR)$(PREFIX)/bin/
	cd $(GEN) && find . -type f | sort | while read -r f; do \
		install -D -m 0644 "$$f" "$(DESTDIR)$(PREFIX)/share/$${f#./}" || exit 1; done

# `make deb`: target/deb/tarweb_VERSION_ARCH.deb, from the tree `make install
# PREFIX=/usr` stages, plus the systemd units (dist/systemd/, not enabled on
# install: a web server should not take ports 80 and 443 before it is
# configured), /etc/default/tarweb (a conffile) and the README. Built with
# dpkg-deb alone (no cargo-deb to compile: the layout is make install's,
# in one place); Depends from dpkg-shlibdeps.
DEB_STAGE := target/deb/stage
DEB_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' tarweb-serve/Cargo.toml | head -n 1)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)

deb:
	rm -rf $(DEB_STAGE)
	$(MAKE) install PREFIX=/usr DESTDIR=$(CURDIR)/$(DEB_STAGE)
	strip --strip-unneeded $(DEB_STAGE)/usr/bin/tarweb-serve $(DEB_STAGE)/usr/bin/tarweb-pack
	install -D -m 0644 dist/systemd/tarweb.service $(DEB_STAGE)/lib/systemd/system/tarweb.service
	install -D -m 0644 dist/systemd/tarweb.socket $(DEB_STAGE)/lib/systemd/system/tarweb.socket
	install -D -m 0644 dist/tarweb.default $(DEB_STAGE)/etc/default/tarweb
	install -D -m 0644 README.md $(DEB_STAGE)/usr/share/doc/tarweb/README.md
	install -D -m 0644 tarweb-serve/README.md $(DEB_STAGE)/usr/share/doc/tarweb/tarweb-serve.md
	install -D -m 0644 dist/debian/copyright $(DEB_STAGE)/usr/share/doc/tarweb/copyright
	gzip -9n $(DEB_STAGE)/usr/share/man/man1/*.1
	install -d $(DEB_STAGE)/DEBIAN
	echo /etc/default/tarweb > $(DEB_STAGE)/DEBIAN/conffiles
	# dpkg-shlibdeps wants a debian/control to exist, even unread.
	mkdir -p target/deb/cwd/debian && touch target/deb/cwd/debian/control
	cd target/deb/cwd && dpkg-shlibdeps -O \
		$(CURDIR)/$(DEB_STAGE)/usr/bin/tarweb-serve $(CURDIR)/$(DEB_STAGE)/usr/bin/tarweb-pack > ../shlibs
	sed -n 's/^shlibs:Depends=//p' target/deb/shlibs > target/deb/depends
	test -s target/deb/depends
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
		-e "s/@DEPENDS@/$$(cat target/deb/depends)/" \
		-e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_STAGE) | cut -f1)/" \
		dist/debian/control > $(DEB_STAGE)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(DEB_STAGE) target/deb/tarweb_$(DEB_VERSION)_$(DEB_ARCH).deb

# The install tree, the unit files (systemd-analyze verify and security)
# and the package installed into a throwaway root, then run.
test-packaging:
	bash tests/packaging.sh

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
	bash tests/packaging.sh

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
