# docgen: `make run` starts the service on its embedded defaults, `make test` runs the suite.
# Both install what they need first (Debian packages with apt-get, Python packages with uv).

APT_RUN  := libreoffice-writer-nogui python3-uno fonts-liberation fonts-liberation2 \
            fonts-crosextra-carlito fonts-crosextra-caladea poppler-utils postgresql libcairo2
APT_TEST := libnss3-tools docker-compose chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
UV       := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: run test check setup setup-test bench

define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

setup:
	$(call apt_install,$(APT_RUN))
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@# Our own modules too: with PYTHONDONTWRITEBYTECODE set, every process (the service, its
	@# worker processes, each test's service) would compile them again on start.
	$(UV) run --frozen python -m compileall -q docgen signing storage

setup-test: setup
	$(call apt_install,$(APT_TEST))

run: setup
	$(UV) run --frozen docgen up

# Two pytest processes, each whole test modules (module fixtures start services): while one
# waits on a service, LibreOffice or the browser, the other runs. Modules in file order:
# xdist's default order (most tests first) left the one-test modules, some of the longest, to
# the end, where one process ran them alone for minutes.
test: setup-test
	$(UV) run --frozen pytest --numprocesses 2 --dist loadfile --no-loadscope-reorder

check: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

# Against a running service (`make run` in another terminal). Each signing step in process,
# beside its budget and without a service: uv run python bench/signing_steps.py
bench: setup
	$(call apt_install,wrk)
	$(UV) run --frozen python bench/single_document.py
