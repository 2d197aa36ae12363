# Two commands do everything on a fresh clone: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-12)
PORT ?= 8501

.PHONY: run test test-fast install compile browser-deps bench clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Chromium for the real-browser test (Debian package; Playwright's own browser download is not used).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "install chromium (apt-get install chromium) for the browser test" >&2; fi; }

# Byte-compile our own modules: where PYTHONDONTWRITEBYTECODE is set (as on these machines), every
# process, and every forked section process, would otherwise compile them again (0.25 s of CPU).
compile: install
	$(PY) -m compileall -q audit dashboard

run: install compile
	$(VENV)/bin/streamlit run dashboard/app.py --server.headless true --server.port $(PORT) --browser.gatherUsageStats false

test: install browser-deps
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser"

bench: install compile
	$(PY) bench/run_bench.py

clean:
	rm -rf $(VENV) audit-output .pytest_cache
