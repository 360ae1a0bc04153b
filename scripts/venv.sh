# Sourced by scripts/*: the project-local virtual environment (.venv) the quick start installs into.
# Nothing is installed into the system interpreter: python3 only creates the venv, and pip runs as
# .venv/bin/python. The install is skipped when pyproject.toml and the extras have not changed.

VENV="${DCTENANT_VENV:-.venv}"

ensure_venv() {  # ensure_venv EXTRAS  (e.g. "test"; "" for the bare package)
  local extras="$1" spec="." stamp
  [ -n "$extras" ] && spec=".[$extras]"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating the virtual environment $VENV (python3 -m venv)"
    if ! python3 -m venv "$VENV"; then
      rm -rf "$VENV"
      echo "python3 -m venv failed: install the venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  local digest installed
  digest="$(sha256sum < pyproject.toml | cut -c1-16)"
  stamp="$digest $extras"
  installed="$(cat "$VENV/.dctenant-installed" 2>/dev/null || true)"
  # The test extra includes every other extra: a .venv made by scripts/test serves every script.
  if [ "$installed" != "$stamp" ] && [ "$installed" != "$digest test" ]; then
    echo "== installing dctenant${extras:+ with [$extras]} into $VENV (editable)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
    echo "$stamp" > "$VENV/.dctenant-installed"
  fi
  PATH="$PWD/$VENV/bin:$PATH"
  export PATH
  hash -r
}

say_activate() {
  echo "== dctenant is installed in $VENV; to use it in your shell: source $VENV/bin/activate"
}
