# Every target builds its own virtualenv, so a fresh clone needs nothing else.
PYTHON ?= python3
DJANGO ?=
# DJANGO as a file name can hold it.
DJANGO_TAG := $(subst /,_,$(subst :,_,$(subst ~,_,$(subst =,_,$(subst >,_,$(subst <,_,$(DJANGO)))))))
# Another interpreter, or another Django, gets its own virtualenv unless
# VENV says otherwise: a plain `make test` afterwards must not run on it.
VENV ?= $(if $(filter python3,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))$(if $(DJANGO),-$(DJANGO_TAG))
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(DJANGO_TAG)

.PHONY: demo test matrix lint typecheck bench loadtest fuzz clean

# A recipe that fails removes its target. A `python3 -m venv` that fails
# midway (Debian's python3 without python3-venv) leaves $(BIN)/python, which
# would count as built, and every later target would fail for want of pip;
# the whole $(VENV) is not removed, as it may be a folder given by hand.
.DELETE_ON_ERROR:

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,redis]' $(if $(DJANGO),'$(DJANGO)')
	$(BIN)/python .ci/django_tests.py $(VENV)/django-tests
	touch $@

# The demo needs the package alone: no test tools, no copy of Django's tests.
DEMO_STAMP := $(subst .installed-,.installed-demo-,$(STAMP))

$(DEMO_STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e . $(if $(DJANGO),'$(DJANGO)')
	touch $@

demo: $(DEMO_STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	DJANGO_TESTS_DIR=$(VENV)/django-tests $(BIN)/python -m pytest $(PYTEST_ARGS)

# The supported Python x Django pairs beyond the default one, each in its own
# virtualenv (make test picks python3 and the newest Django it can run).
matrix:
	$(MAKE) test PYTHON="$$(.ci/python 3.10)" VENV=.venv-py310-django42 DJANGO='django~=4.2.0'
	$(MAKE) test PYTHON="$$(.ci/python 3.12)" VENV=.venv-py312-django61 DJANGO='django~=6.1.0'
	$(MAKE) test PYTHON="$$(.ci/python 3.13)" VENV=.venv-py313-django61 DJANGO='django~=6.1.0'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy django_xsession tests testproject bench

bench: $(STAMP)
	$(BIN)/python -m bench

# The hostile-input properties with a hundred times the examples.
fuzz: $(STAMP)
	XSESSION_FUZZ_EXAMPLES=$${XSESSION_FUZZ_EXAMPLES:-20000} DJANGO_TESTS_DIR=$(VENV)/django-tests $(BIN)/python -m pytest tests/test_hostile_input.py $(PYTEST_ARGS)

loadtest: $(STAMP)
	$(BIN)/python -m bench.loadtest $(LOADTEST_ARGS)

clean:
	rm -rf .venv .venv-* .mypy_cache .ruff_cache .pytest_cache *.egg-info
